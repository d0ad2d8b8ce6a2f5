"""A card on file: saved through Checkout in setup mode after explicit consent (recorded), removed;
a no-show fee charged off-session only to a card whose consent covers fees, and a pay link by email
when the bank wants the cardholder."""

from __future__ import annotations

from sqlalchemy import select

from tests.billing_support import (  # noqa: F401 (fixtures)
    billing_practice_fixture,
    book,
    client_visitor,
    connect_stripe,
    deliver,
    fake_stripe_fixture,
    invoices_of,
    mark,
)


def _save_card(client, fake, fees: bool):
    refused = client.post("/portal/billing/card", {}, form_page="/portal/billing")
    assert refused.status_code == 400 and "Tick the box" in refused.get_data(as_text=True)
    data = {"agree": "yes", **({"fees": "yes"} if fees else {})}
    response = client.post("/portal/billing/card", data, form_page="/portal/billing")
    assert response.status_code == 303
    session_id = response.headers["Location"].rsplit("/", 1)[1]
    created = fake.calls("POST", "/v1/checkout/sessions")[-1]["params"]
    assert created["mode"] == "setup" and created["metadata"].keys() == {"portico_card"}
    assert set(fake.calls("POST", "/v1/customers")[-1]["params"]) == {"metadata"}
    session = fake.complete(session_id)
    assert deliver(client, fake, "checkout.session.completed", session).get_json() == {"result": "applied"}


def _fees(setting):
    values = {
        "action": "options",
        "online_payments": "on",
        "bill_when": "attended",
        "no_show_fee": "40",
        "late_cancel_fee": "",
    }
    assert setting.staff.post("/settings/payments", values).status_code == 302


def test_saving_and_removing_a_card_records_the_consent(billing_practice, fake_stripe, in_practice, visit):
    from blueprints.billing.models import SavedCard
    from tenants.database import db

    setting = billing_practice()
    connect_stripe(setting)
    client = client_visitor(visit, setting)
    _save_card(client, fake_stripe, fees=False)
    page = client.get("/portal/billing").get_data(as_text=True)
    assert "Visa ending in 4242" in page
    with in_practice(setting.practice):
        card = db.session.scalars(select(SavedCard)).one()
        assert card.status == "active" and not card.covers_fees
        assert "I authorise" in card.consent_text and "no-show" not in card.consent_text
        card_id = card.id
    # A no-show fee is not charged to a card whose consent does not cover fees.
    _fees(setting)
    assert mark(setting, book(in_practice, setting), "no_show").status_code == 302
    assert fake_stripe.calls("POST", "/v1/payment_intents") == []
    assert invoices_of(in_practice, setting.practice)[0]["status"] == "open"
    assert (
        client.post(f"/portal/billing/cards/{card_id + 1000}/remove", form_page="/portal/billing").status_code
        == 404
    )
    assert (
        client.post(f"/portal/billing/cards/{card_id}/remove", form_page="/portal/billing").status_code == 302
    )
    assert "ending in 4242" not in client.get("/portal/billing").get_data(as_text=True)
    assert fake_stripe.calls("POST", "/v1/payment_methods/")


def test_a_no_show_fee_is_charged_off_session_to_a_card_that_allows_it(
    billing_practice, fake_stripe, in_practice, visit
):
    setting = billing_practice()
    connect_stripe(setting)
    client = client_visitor(visit, setting)
    _save_card(client, fake_stripe, fees=True)
    _fees(setting)
    assert mark(setting, book(in_practice, setting), "no_show").status_code == 302
    [charge] = fake_stripe.calls("POST", "/v1/payment_intents")
    params = charge["params"]
    assert params["off_session"] == "true" and params["confirm"] == "true" and params["amount"] == "4000"
    assert charge["idempotency_key"] and "statement_descriptor" not in params
    [invoice] = invoices_of(in_practice, setting.practice)
    assert (invoice["status"], invoice["payments"]) == ("paid", [("card", 4000, 0)])


def test_when_the_bank_wants_the_cardholder_they_get_a_pay_link(
    billing_practice, fake_stripe, in_practice, visit
):
    from blueprints.notifications.models import OutboxEmail
    from tenants.database import db

    setting = billing_practice()
    connect_stripe(setting)
    client = client_visitor(visit, setting)
    _save_card(client, fake_stripe, fees=True)
    _fees(setting)
    fake_stripe.need_authentication = True
    assert mark(setting, book(in_practice, setting), "no_show").status_code == 302
    [invoice] = invoices_of(in_practice, setting.practice)
    assert invoice["status"] == "open"
    with in_practice(setting.practice):
        email = db.session.scalars(
            select(OutboxEmail).where(OutboxEmail.subject.like("Please confirm a payment%"))
        ).one()
        assert email.to_address == setting.client.email
