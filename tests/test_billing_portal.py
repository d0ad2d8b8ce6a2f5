"""Billing through Stripe, against the local fake of its API: connecting the practice's account,
paying an invoice through Checkout, webhooks (signed, once, in any order, on a former address),
who may pay what, and that nothing about a client's care is sent to Stripe."""

from __future__ import annotations

from sqlalchemy import select

from tests.billing_support import (  # noqa: F401 (fixtures)
    CLIENT_FIRST,
    SERVICE_NAME,
    billing_practice_fixture,
    body,
    book,
    client_visitor,
    connect_stripe,
    deliver,
    fake_stripe_fixture,
    invoices_of,
    mark,
    pay_session,
    refund_in_full,
    years_ago,
)


def _billed(billing_practice, in_practice, currency="USD", price=15000):
    setting = billing_practice(currency, price)
    assert mark(setting, book(in_practice, setting)).status_code == 302
    [invoice] = invoices_of(in_practice, setting.practice)
    return setting, invoice


def test_connecting_stripe_seals_the_key_and_creates_the_webhook(billing_practice, fake_stripe, in_practice):
    from blueprints.billing.models import BillingSettings
    from tenants.database import db

    setting = billing_practice()
    page = setting.staff.get("/settings/payments").get_data(as_text=True)
    assert "Online payments" not in page  # no toggle before an account is connected
    refused = setting.staff.post("/settings/payments", {"action": "connect", "stripe_key": "sk_live_abc"})
    assert refused.status_code == 400 and "restricted key" in refused.get_data(as_text=True)
    early = setting.staff.post(
        "/settings/payments",
        {
            "action": "options",
            "online_payments": "on",
            "bill_when": "attended",
            "no_show_fee": "",
            "late_cancel_fee": "",
        },
    )
    assert early.status_code == 400 and "Connect a Stripe account first" in early.get_data(as_text=True)
    connect_stripe(setting)
    [created] = fake_stripe.calls("POST", "/v1/webhook_endpoints")
    assert created["params"]["url"] == f"http://{setting.practice.host}/webhooks/stripe"
    assert created["authorization"] == "Bearer rk_test_abc123" and created["idempotency_key"]
    with in_practice(setting.practice):
        row = db.session.get(BillingSettings, 1)
        assert (
            b"rk_test_abc123" not in row.stripe_key_sealed
            and fake_stripe.secret.encode() not in row.webhook_secret_sealed
        )
    page = setting.staff.get("/settings/payments").get_data(as_text=True)
    assert "rk_test_…c123" in page and 'id="online_payments" name="online_payments" checked' in page


def test_paying_an_invoice_through_checkout(billing_practice, fake_stripe, in_practice, visit):
    setting, invoice = _billed(billing_practice, in_practice)
    connect_stripe(setting)
    client = client_visitor(visit, setting)
    page = client.get("/portal/billing").get_data(as_text=True)
    assert "No. 1" in page and "$150.00" in page and "Billing" in client.get("/portal").get_data(as_text=True)
    session_id = pay_session(client, invoice["id"])
    assert pay_session(client, invoice["id"]) == session_id  # pressed twice: the same session
    [created] = fake_stripe.calls("POST", "/v1/checkout/sessions")
    params = created["params"]
    assert params["mode"] == "payment"
    assert params["line_items"][0]["price_data"] == {
        "currency": "usd",
        "unit_amount": "15000",
        "product_data": {"name": "Professional services"},
    }
    assert params["metadata"] == {
        "portico_invoice": str(invoice["id"]),
        "portico_attempt": "1",
        "portico_practice": str(setting.practice.id),
    }
    assert params["payment_intent_data"]["statement_descriptor_suffix"]
    assert "statement_descriptor" not in params["payment_intent_data"]
    assert created["idempotency_key"].endswith(f"-invoice-{invoice['id']}-attempt-1")

    session = fake_stripe.complete(session_id)
    assert deliver(client, fake_stripe, "checkout.session.completed", session, "evt_one").status_code == 200
    # The same event again (Stripe retries): recorded once, nothing changes.
    again = deliver(client, fake_stripe, "checkout.session.completed", session, "evt_one")
    assert again.status_code == 200 and again.get_json() == {"result": "duplicate"}
    [paid] = invoices_of(in_practice, setting.practice)
    assert (paid["status"], paid["paid"], paid["payments"]) == ("paid", 15000, [("card", 15000, 0)])
    assert (
        client.post(f"/portal/billing/invoices/{invoice['id']}/pay", form_page="/portal/billing").status_code
        == 409
    )
    # Nothing about the care, nor who the client is, went to Stripe.
    sent = fake_stripe.sent_text()
    for secret in (SERVICE_NAME, "Trauma", CLIENT_FIRST, "Zebedee", "quentin"):
        assert secret not in sent


def test_webhooks_out_of_order_and_refunds(billing_practice, fake_stripe, in_practice, visit):
    setting, invoice = _billed(billing_practice, in_practice)
    connect_stripe(setting)
    client = client_visitor(visit, setting)
    session = fake_stripe.complete(pay_session(client, invoice["id"]))
    intent = fake_stripe.objects[session["payment_intent"]]
    charge = fake_stripe.refund_charge(intent["id"], 5000)
    # The refund's event first: the payment is not known yet, so nothing to change.
    assert deliver(client, fake_stripe, "charge.refunded", charge).get_json() == {"result": "ignored"}
    # Then the PaymentIntent's, then the session's: one payment, with the refund Stripe has.
    assert deliver(client, fake_stripe, "payment_intent.succeeded", intent).get_json() == {
        "result": "applied"
    }
    assert deliver(client, fake_stripe, "checkout.session.completed", session).get_json() == {
        "result": "applied"
    }
    # A stale "expired" for the same session changes nothing: the session is re-read, and complete.
    assert deliver(client, fake_stripe, "checkout.session.expired", session).status_code == 200
    [paid] = invoices_of(in_practice, setting.practice)
    assert (paid["status"], paid["paid"], paid["refunded"]) == ("paid", 15000, 5000)
    assert paid["payments"] == [("card", 15000, 5000)]

    # Staff refund the rest through Stripe; its event later agrees and changes nothing more.
    form_page = f"/clients/{setting.client.id}/billing"
    refund_in_full(in_practice, setting, form_page)
    [refund] = fake_stripe.calls("POST", "/v1/refunds")
    assert (
        refund["params"] == {"payment_intent": intent["id"], "amount": "10000"} and refund["idempotency_key"]
    )
    deliver(client, fake_stripe, "charge.refunded", fake_stripe.objects[intent["latest_charge"]])
    [paid] = invoices_of(in_practice, setting.practice)
    assert paid["refunded"] == 15000 and paid["payments"] == [("card", 15000, 15000)]


def test_a_bad_signature_changes_nothing(billing_practice, fake_stripe, in_practice, visit):
    from blueprints.billing.models import StripeEvent
    from tenants.database import db

    setting, invoice = _billed(billing_practice, in_practice)
    connect_stripe(setting)
    client = client_visitor(visit, setting)
    session = fake_stripe.complete(pay_session(client, invoice["id"]))
    payload, _ = fake_stripe.event("checkout.session.completed", session)
    forged = client.client.post(
        "/webhooks/stripe",
        data=payload,
        headers={"Stripe-Signature": "t=1,v1=00", "Content-Type": "application/json"},
        base_url=f"http://{setting.practice.host}",
    )
    assert forged.status_code == 400
    with in_practice(setting.practice):
        assert db.session.scalars(select(StripeEvent)).all() == []
    assert invoices_of(in_practice, setting.practice)[0]["status"] == "open"
    # Another practice (no account connected) does not take Stripe's events at all.
    other = billing_practice()
    assert deliver(other.staff, fake_stripe, "checkout.session.completed", session).status_code == 404


def test_webhooks_are_answered_on_a_former_address(billing_practice, fake_stripe, in_practice, visit, app):
    from tenants.registry import invalidate_cache, rename_practice

    setting, invoice = _billed(billing_practice, in_practice)
    connect_stripe(setting)
    client = client_visitor(visit, setting)
    session = fake_stripe.complete(pay_session(client, invoice["id"]))
    old_host = setting.practice.host
    with app.app_context():
        rename_practice(setting.practice.slug, f"{setting.practice.slug}-new")
    invalidate_cache()
    assert client.get("/login").status_code == 301  # pages move with the practice
    answered = deliver(client, fake_stripe, "checkout.session.completed", session, host=old_host)
    assert answered.status_code == 200 and answered.get_json() == {"result": "applied"}
    assert invoices_of(in_practice, setting.practice)[0]["status"] == "paid"


def test_who_may_pay_what(billing_practice, fake_stripe, in_practice, visit, make_client, grant_portal):
    setting, invoice = _billed(billing_practice, in_practice)
    connect_stripe(setting)
    # Another client of the same practice: the invoice is not theirs.
    other = make_client(
        setting.practice, first="Olive", email=f"olive@{setting.practice.slug}.example.com", login=True
    )
    olive = client_visitor(visit, setting, other.email)
    assert (
        olive.post(f"/portal/billing/invoices/{invoice['id']}/pay", form_page="/portal/billing").status_code
        == 404
    )
    assert (
        olive.post(
            f"/portal/billing/invoices/{invoice['id'] + 1000}/pay", form_page="/portal/billing"
        ).status_code
        == 404
    )
    # A guardian sees a minor's invoices with the billing grant, and nothing of billing without it.
    minor = make_client(setting.practice, first="Mini", date_of_birth=years_ago(10))
    minor_appointment = book(in_practice, setting, client_id=minor.id, days_ago=4)
    assert mark(setting, minor_appointment).status_code == 302
    minor_invoice = invoices_of(in_practice, setting.practice, minor.id)[0]
    parent, other_parent = (
        f"parent@{setting.practice.slug}.example.com",
        f"dad@{setting.practice.slug}.example.com",
    )
    grant_portal(setting.practice, minor, parent, "guardian", can_billing=True)
    grant_portal(setting.practice, minor, other_parent, "guardian", can_billing=False)
    with_grant = client_visitor(visit, setting, parent)
    assert "No. 2" in with_grant.get("/portal/billing").get_data(as_text=True)
    assert (
        with_grant.post(
            f"/portal/billing/invoices/{minor_invoice['id']}/pay", form_page="/portal/billing"
        ).status_code
        == 303
    )
    without = client_visitor(visit, setting, other_parent)
    assert without.get("/portal/billing").status_code == 404
    assert "/portal/billing" not in without.get("/portal").get_data(as_text=True)
    # The guardian's grant now offers billing on the staff side.
    edit = setting.staff.get(f"/clients/{minor.id}").get_data(as_text=True)
    assert edit  # the record opens


def test_void_invoices_cannot_be_paid_and_the_toggle_hides_billing(
    billing_practice, fake_stripe, in_practice, visit
):
    setting, invoice = _billed(billing_practice, in_practice)
    connect_stripe(setting)
    client = client_visitor(visit, setting)
    form_page = f"/clients/{setting.client.id}/billing"
    assert (
        setting.staff.post(f"/billing/invoices/{invoice['id']}/void", form_page=form_page).status_code == 302
    )
    refused = client.post(f"/portal/billing/invoices/{invoice['id']}/pay", form_page="/portal/billing")
    assert refused.status_code == 409
    assert fake_stripe.calls("POST", "/v1/checkout/sessions") == []
    off = {"action": "options", "bill_when": "attended", "no_show_fee": "", "late_cancel_fee": ""}
    assert setting.staff.post("/settings/payments", off).status_code == 302
    assert client.get("/portal/billing").status_code == 404
    assert len(invoices_of(in_practice, setting.practice)) == 1  # the records stay


def test_amounts_in_yen_and_dinar_reach_stripe_in_their_smallest_unit(
    billing_practice, fake_stripe, in_practice, visit
):
    for currency, price in (("JPY", 15000), ("KWD", 12345)):
        setting, invoice = _billed(billing_practice, in_practice, currency, price)
        connect_stripe(setting)
        client = client_visitor(visit, setting)
        assert currency in client.get("/portal/billing").get_data(as_text=True) or "¥" in client.get(
            "/portal/billing"
        ).get_data(as_text=True)
        session = fake_stripe.complete(pay_session(client, invoice["id"]))
        assert session["amount_total"] == price and session["currency"] == currency.lower()
        deliver(client, fake_stripe, "checkout.session.completed", session)
        assert invoices_of(in_practice, setting.practice)[0]["paid"] == price


def test_receipt_pdf(billing_practice, fake_stripe, in_practice, visit):
    from blueprints.billing.models import Payment
    from tenants.database import db

    setting, invoice = _billed(billing_practice, in_practice)
    connect_stripe(setting)
    form_page = f"/clients/{setting.client.id}/billing"
    setting.staff.post(
        f"/billing/invoices/{invoice['id']}/payments",
        {"method": "cash", "amount": "150"},
        form_page=form_page,
    )
    with in_practice(setting.practice):
        payment_id = db.session.scalar(select(Payment.id))
    client = client_visitor(visit, setting)
    assert "Receipt (PDF)" in client.get("/portal/billing").get_data(as_text=True)
    pdf = client.get(f"/portal/billing/receipts/{payment_id}")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    assert client.get(f"/portal/billing/receipts/{payment_id + 1000}").status_code == 404


def test_stripe_not_answering_changes_nothing_and_the_retry_applies(
    billing_practice, fake_stripe, in_practice, visit, app
):
    from blueprints.billing.models import StripeEvent
    from tenants.database import db

    setting, invoice = _billed(billing_practice, in_practice)
    connect_stripe(setting)
    client = client_visitor(visit, setting)
    session = fake_stripe.complete(pay_session(client, invoice["id"]))
    app.config["STRIPE_API_BASE"] = "http://127.0.0.1:9"  # nothing listens there
    try:
        failed = deliver(client, fake_stripe, "checkout.session.completed", session, "evt_retry")
        assert failed.status_code == 502
        refused = client.post(f"/portal/billing/invoices/{invoice['id']}/pay", form_page="/portal/billing")
        assert refused.status_code == 303  # the open session of the last hour is reused, no call
    finally:
        app.config["STRIPE_API_BASE"] = fake_stripe.base
    with in_practice(setting.practice):
        assert db.session.scalars(select(StripeEvent)).all() == []
    assert deliver(client, fake_stripe, "checkout.session.completed", session, "evt_retry").status_code == 200
    assert invoices_of(in_practice, setting.practice)[0]["status"] == "paid"
