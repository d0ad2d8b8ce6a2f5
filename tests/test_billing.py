"""Billing, staff side: attendance marks bill an appointment once, invoice numbers stay unique under
concurrency, manual payments in zero- and three-decimal currencies, voids, the staff pages."""

from __future__ import annotations

import threading

from sqlalchemy import select

from tests.billing_support import (  # noqa: F401 (fixtures)
    SERVICE_NAME,
    billing_practice_fixture,
    book,
    fake_stripe_fixture,
    invoices_of,
    mark,
)


def test_marking_attended_bills_the_price_once(billing_practice, in_practice):
    setting = billing_practice()
    appointment = book(in_practice, setting)
    page = setting.staff.get(f"/calendar/appointments/{appointment}").get_data(as_text=True)
    assert "Not marked yet." in page and "Mark attended" in page
    assert mark(setting, appointment).status_code == 302
    assert mark(setting, appointment).status_code == 302  # the same mark again: nothing new
    [invoice] = invoices_of(in_practice, setting.practice)
    assert (invoice["number"], invoice["total"], invoice["status"]) == (1, 15000, "open")
    page = setting.staff.get(f"/calendar/appointments/{appointment}").get_data(as_text=True)
    assert "Marked <strong>attended</strong>" in page and "invoice No. 1" in page
    # Billed: the mark cannot change until the invoice is voided.
    assert mark(setting, appointment, "no_show").status_code == 409
    listing = setting.staff.get("/billing").get_data(as_text=True)
    assert "No. 1" in listing and "$150.00" in listing
    client_page = setting.staff.get(f"/clients/{setting.client.id}/billing").get_data(as_text=True)
    assert SERVICE_NAME in client_page and "Record payment" in client_page


def test_a_service_without_a_price_and_billing_at_booking(billing_practice, in_practice):
    from blueprints.billing.operations.invoices import billing_settings
    from tenants.database import db

    setting = billing_practice(price=None)
    appointment = book(in_practice, setting)
    assert mark(setting, appointment).status_code == 302
    assert invoices_of(in_practice, setting.practice) == []

    setting = billing_practice()
    with in_practice(setting.practice):
        billing_settings().bill_when = "booking"
        db.session.commit()
    appointment = book(in_practice, setting)
    assert [i["total"] for i in invoices_of(in_practice, setting.practice)] == [15000]
    assert mark(setting, appointment).status_code == 302
    assert len(invoices_of(in_practice, setting.practice)) == 1


def test_fees_for_no_shows_and_late_cancellations(billing_practice, in_practice):
    setting = billing_practice()
    page = "/settings/payments"
    values = {"action": "options", "bill_when": "attended", "no_show_fee": "40", "late_cancel_fee": "25.5"}
    assert setting.staff.post(page, values).status_code == 302
    no_show, late = book(in_practice, setting, days_ago=2), book(in_practice, setting, days_ago=3)
    assert mark(setting, no_show, "no_show").status_code == 302
    assert mark(setting, late, "late_cancelled").status_code == 302
    assert sorted(i["total"] for i in invoices_of(in_practice, setting.practice)) == [2550, 4000]
    refused = setting.staff.post(page, {**values, "no_show_fee": "4.005"})
    assert refused.status_code == 400 and "at most 2 decimal places" in refused.get_data(as_text=True)


def test_invoice_numbers_are_unique_under_concurrency(billing_practice, in_practice, app):
    from blueprints.billing.operations.invoices import issue_invoice
    from blueprints.people.models import Client
    from tenants.database import db

    setting = billing_practice()
    start = threading.Barrier(8)
    errors = []

    def make_some():
        try:
            start.wait()
            for _ in range(5):
                with in_practice(setting.practice):
                    issue_invoice(db.session.get(Client, setting.client.id), [("service", "x", 100, None)])
                    db.session.commit()
        except Exception as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=make_some) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    numbers = [i["number"] for i in invoices_of(in_practice, setting.practice)]
    assert numbers == list(range(1, 41))


def test_manual_payments_in_yen_and_kuwaiti_dinar(billing_practice, in_practice):
    yen = billing_practice("JPY", 15000)
    assert mark(yen, book(in_practice, yen)).status_code == 302
    [invoice] = invoices_of(in_practice, yen.practice)
    assert invoice["total"] == 15000
    assert "¥15,000" in yen.staff.get(f"/clients/{yen.client.id}/billing").get_data(as_text=True)
    path = f"/billing/invoices/{invoice['id']}/payments"
    form_page = f"/clients/{yen.client.id}/billing"
    refused = yen.staff.post(path, {"method": "cash", "amount": "100.5"}, form_page=form_page)
    assert refused.status_code == 400 and "no decimal places" in refused.get_data(as_text=True)
    too_much = yen.staff.post(path, {"method": "cash", "amount": "15001"}, form_page=form_page)
    assert too_much.status_code == 400 and "more than is owed" in too_much.get_data(as_text=True)
    assert yen.staff.post(path, {"method": "cash", "amount": "5,000"}, form_page=form_page).status_code == 302
    assert (
        yen.staff.post(path, {"method": "cheque", "amount": "10000"}, form_page=form_page).status_code == 302
    )
    [invoice] = invoices_of(in_practice, yen.practice)
    assert (invoice["paid"], invoice["status"]) == (15000, "paid")
    assert invoice["payments"] == [("cash", 5000, 0), ("cheque", 10000, 0)]

    dinar = billing_practice("KWD", 12345)
    assert mark(dinar, book(in_practice, dinar)).status_code == 302
    [invoice] = invoices_of(in_practice, dinar.practice)
    page = dinar.staff.get(f"/clients/{dinar.client.id}/billing").get_data(as_text=True)
    assert "KWD" in page and "12.345" in page
    path, form_page = f"/billing/invoices/{invoice['id']}/payments", f"/clients/{dinar.client.id}/billing"
    assert (
        dinar.staff.post(path, {"method": "other", "amount": "12.34"}, form_page=form_page).status_code == 302
    )
    assert (
        dinar.staff.post(path, {"method": "other", "amount": "0.005"}, form_page=form_page).status_code == 302
    )
    [invoice] = invoices_of(in_practice, dinar.practice)
    assert (invoice["paid"], invoice["status"]) == (12345, "paid")


def test_void_and_what_a_void_invoice_refuses(billing_practice, in_practice):
    setting = billing_practice()
    first, second = book(in_practice, setting, days_ago=1), book(in_practice, setting, days_ago=2)
    mark(setting, first)
    mark(setting, second)
    one, two = invoices_of(in_practice, setting.practice)
    form_page = f"/clients/{setting.client.id}/billing"
    assert setting.staff.post(f"/billing/invoices/{one['id']}/void", form_page=form_page).status_code == 302
    again = setting.staff.post(f"/billing/invoices/{one['id']}/void", form_page=form_page)
    assert again.status_code == 409
    paid = setting.staff.post(
        f"/billing/invoices/{one['id']}/payments", {"method": "cash", "amount": "1"}, form_page=form_page
    )
    assert paid.status_code == 409
    setting.staff.post(
        f"/billing/invoices/{two['id']}/payments", {"method": "cash", "amount": "1"}, form_page=form_page
    )
    money_on_it = setting.staff.post(f"/billing/invoices/{two['id']}/void", form_page=form_page)
    assert money_on_it.status_code == 409
    # The voided appointment may be marked again, and billed anew.
    assert mark(setting, first, "no_show").status_code == 302
    assert [i["status"] for i in invoices_of(in_practice, setting.practice)] == ["void", "open"]


def test_staff_who_may_not_see_get_404_and_clinicians_do_not_keep_books(
    billing_practice, in_practice, make_practice, make_staff, visit
):
    setting = billing_practice()
    mark(setting, book(in_practice, setting))
    [invoice] = invoices_of(in_practice, setting.practice)
    # Another practice's ids (each practice numbers its own rows: an id missing here stands for them).
    other = billing_practice()
    form_page = f"/clients/{other.client.id}/billing"
    foreign = other.staff.post(
        f"/billing/invoices/{invoice['id'] + 1000}/payments",
        {"method": "cash", "amount": "1"},
        form_page=form_page,
    )
    assert foreign.status_code == 404
    assert other.staff.get(f"/clients/{setting.client.id + 1000}/billing").status_code == 404
    clinician = visit(setting.practice)
    clinician.login(setting.clinician)
    assert clinician.get("/billing").status_code == 403
    assert clinician.get(f"/clients/{setting.client.id}/billing").status_code == 404  # not their client


def test_the_receipt_email_names_no_service(billing_practice, in_practice):
    from blueprints.notifications.models import OutboxEmail
    from tenants.database import db

    setting = billing_practice()
    mark(setting, book(in_practice, setting))
    [invoice] = invoices_of(in_practice, setting.practice)
    form_page = f"/clients/{setting.client.id}/billing"
    setting.staff.post(
        f"/billing/invoices/{invoice['id']}/payments",
        {"method": "cash", "amount": "150"},
        form_page=form_page,
    )
    with in_practice(setting.practice):
        emails = db.session.scalars(
            select(OutboxEmail).where(OutboxEmail.to_address == setting.client.email)
        ).all()
        subjects = [email.subject for email in emails]
    assert "Receipt for invoice 1" in subjects


def test_two_people_marking_at_once_bill_once(billing_practice, in_practice):
    from blueprints.auth.service import find_user_by_email
    from blueprints.billing.operations.attendance import mark_attendance
    from blueprints.scheduling.models import Appointment
    from tenants.database import db

    setting = billing_practice()
    appointment_id = book(in_practice, setting)
    start = threading.Barrier(2)
    errors = []

    def mark_it(email):
        try:
            with in_practice(setting.practice):
                actor = find_user_by_email(email)
                appointment = db.session.get(Appointment, appointment_id)
                start.wait()
                mark_attendance(actor, appointment, "attended")
                db.session.commit()
        except Exception as error:  # reported below
            errors.append(error)

    threads = [
        threading.Thread(target=mark_it, args=(e,)) for e in (setting.practice.owner_email, setting.clinician)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert [i["total"] for i in invoices_of(in_practice, setting.practice)] == [15000]
