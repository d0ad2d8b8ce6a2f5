"""Fixtures and helpers of the billing tests: the fake Stripe server, a practice with a priced
service, a booked appointment, a connected Stripe account, webhook deliveries."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.stripe_fake import FakeStripe

SERVICE_NAME = "Trauma-focused therapy"
CLIENT_FIRST = "Quentin"


@pytest.fixture(name="fake_stripe")
def fake_stripe_fixture(app):
    fake = FakeStripe()
    app.config["STRIPE_API_BASE"] = fake.base
    yield fake
    app.config.pop("STRIPE_API_BASE", None)
    fake.close()


@dataclass
class Billing:
    practice: object
    clinician: str
    client: object
    service_id: int
    staff: object  # the owner's Visitor, logged in


def years_ago(years: int) -> date:
    today = date.today()
    return today.replace(year=today.year - years, day=min(today.day, 28))


@pytest.fixture(name="billing_practice")
def billing_practice_fixture(make_practice, make_staff, make_client, in_practice, visit):
    from blueprints.auth.service import find_user_by_email
    from blueprints.scheduling.operations.catalog import add_service
    from tenants.database import db
    from tenants.features import practice_settings

    def make(currency: str = "USD", price: int | None = 15000) -> Billing:
        practice = make_practice()
        clinician = make_staff(practice, "clinician")
        client = make_client(
            practice,
            first=CLIENT_FIRST,
            last="Zebedee",
            email=f"quentin@{practice.slug}.example.com",
            login=True,
        )
        with in_practice(practice):
            settings = practice_settings()
            settings.portal_enabled, settings.currency = True, currency
            service = add_service(SERVICE_NAME, 50, [find_user_by_email(clinician)])
            service.price_minor = price
            db.session.commit()
            service_id = service.id
        staff = visit(practice)
        assert staff.login(practice.owner_email).status_code == 302
        return Billing(practice, clinician, client, service_id, staff)

    return make


def book(in_practice, setting: Billing, client_id: int | None = None, days_ago: int = 1) -> int:
    from blueprints.auth.service import find_user_by_email
    from blueprints.people.models import Client
    from blueprints.scheduling.models import Service
    from blueprints.scheduling.operations.appointments import book as book_appointment
    from tenants.database import db

    with in_practice(setting.practice):
        starts = (datetime.now(UTC) - timedelta(days=days_ago)).replace(minute=0, second=0, microsecond=0)
        appointment = book_appointment(
            db.session.get(Client, client_id or setting.client.id),
            find_user_by_email(setting.clinician),
            db.session.get(Service, setting.service_id),
            starts,
            notify=False,
        )
        db.session.commit()
        return appointment.id


def mark(setting: Billing, appointment_id: int, attendance: str = "attended"):
    return setting.staff.post(
        f"/calendar/appointments/{appointment_id}/attendance",
        {"attendance": attendance},
        form_page=f"/calendar/appointments/{appointment_id}",
    )


def invoices_of(in_practice, practice, client_id: int | None = None) -> list[dict]:
    from blueprints.billing.models import Invoice
    from tenants.database import db

    with in_practice(practice):
        query = select(Invoice).order_by(Invoice.number)
        if client_id is not None:
            query = query.where(Invoice.client_id == client_id)
        return [
            {
                "id": i.id,
                "number": i.number,
                "total": i.total_minor,
                "paid": i.paid_minor,
                "refunded": i.refunded_minor,
                "status": i.status,
                "payments": [(p.method, p.amount_minor, p.refunded_minor) for p in i.payments],
            }
            for i in db.session.scalars(query)
        ]


def refund_in_full(in_practice, setting: Billing, form_page: str) -> None:
    """Staff refund what is left of the practice's one payment, from `form_page`."""
    from blueprints.billing.models import Payment
    from tenants.database import db

    with in_practice(setting.practice):
        payment_id = db.session.scalar(select(Payment.id))
    assert (
        setting.staff.post(
            f"/billing/payments/{payment_id}/refund", {"amount": ""}, form_page=form_page
        ).status_code
        == 302
    )


def connect_stripe(setting: Billing, online: bool = True):
    page = "/settings/payments"
    response = setting.staff.post(page, {"action": "connect", "stripe_key": "rk_test_abc123"})
    assert response.status_code == 302, response.get_data(as_text=True)
    if online:
        response = setting.staff.post(
            page,
            {
                "action": "options",
                "online_payments": "on",
                "bill_when": "attended",
                "no_show_fee": "",
                "late_cancel_fee": "",
            },
        )
        assert response.status_code == 302, response.get_data(as_text=True)


def client_visitor(visit, setting: Billing, email: str | None = None):
    visitor = visit(setting.practice)
    assert visitor.login(email or setting.client.email).status_code == 302
    visitor.get("/portal/choose")
    return visitor


def deliver(visitor, fake, kind: str, obj: dict, event_id: str | None = None, host: str | None = None):
    payload, signature = fake.event(kind, obj, event_id)
    return visitor.client.post(
        "/webhooks/stripe",
        data=payload,
        headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
        base_url=f"http://{host or visitor.host}",
    )


def pay_session(visitor, invoice_id: int) -> str:
    """Press Pay on the portal: the Checkout Session's id (from the redirect)."""
    response = visitor.post(f"/portal/billing/invoices/{invoice_id}/pay", form_page="/portal/billing")
    assert response.status_code == 303, response.get_data(as_text=True)
    return response.headers["Location"].rsplit("/", 1)[1]


def body(fake, path: str) -> dict:
    return json.loads(json.dumps(fake.calls("POST", path)[-1]["params"]))
