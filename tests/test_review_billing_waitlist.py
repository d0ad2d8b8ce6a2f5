"""Security review of payments: findings that were real bugs, each pinned by a test (the fix is in
the same commit as the test)."""

from __future__ import annotations

import time

from tests.billing_support import (  # noqa: F401 (fixtures)
    billing_practice_fixture,
    book,
    client_visitor,
    connect_stripe,
    deliver,
    fake_stripe_fixture,
    invoices_of,
    mark,
    pay_session,
    refund_in_full,
)
from tests.test_waitlist import waitlist as waitlist_fixture  # noqa: F401, F811 (fixture)


def _billed(billing_practice, in_practice, price=15000):
    setting = billing_practice("USD", price)
    assert mark(setting, book(in_practice, setting)).status_code == 302
    [invoice] = invoices_of(in_practice, setting.practice)
    return setting, invoice


def test_a_payment_made_for_another_practice_on_the_same_stripe_account_is_not_applied_here(
    billing_practice, fake_stripe, in_practice, visit
):
    """Two practices may share one Stripe account (one owner, two practices): every endpoint of the
    account receives every event. Invoice ids are practice-local, so another practice's payment for
    ITS invoice 1 carried `portico_invoice=1` and was recorded on this practice's invoice 1 too."""
    setting, invoice = _billed(billing_practice, in_practice)
    connect_stripe(setting)
    client = client_visitor(visit, setting)
    # What another practice's Checkout makes on the same account: the same local invoice id.
    foreign = fake_stripe._intent(
        15000,
        "usd",
        {
            "portico_invoice": str(invoice["id"]),
            "portico_attempt": "1",
            "portico_practice": str(setting.practice.id + 1000),
        },
    )
    assert deliver(client, fake_stripe, "payment_intent.succeeded", foreign).status_code == 200
    # Older metadata without any practice is not trusted either.
    bare = fake_stripe._intent(15000, "usd", {"portico_invoice": str(invoice["id"])})
    assert deliver(client, fake_stripe, "payment_intent.succeeded", bare).status_code == 200
    [after] = invoices_of(in_practice, setting.practice)
    assert (after["status"], after["paid"], after["payments"]) == ("open", 0, [])

    # This practice's own payment still applies.
    session = fake_stripe.complete(pay_session(client, invoice["id"]))
    assert fake_stripe.objects[session["payment_intent"]]["metadata"]["portico_practice"] == str(
        setting.practice.id
    )
    assert deliver(client, fake_stripe, "checkout.session.completed", session).status_code == 200
    [paid] = invoices_of(in_practice, setting.practice)
    assert (paid["status"], paid["paid"]) == ("paid", 15000)


def test_a_checkout_session_does_not_outlive_its_reuse_window(
    billing_practice, fake_stripe, in_practice, visit
):
    """Sessions were reused for one hour but Stripe keeps them payable for 24: pressing Pay again
    after an hour made a second payable session for the same balance (both could be paid: the
    invoice paid twice). Each session now expires when it stops being reused."""
    setting, invoice = _billed(billing_practice, in_practice)
    connect_stripe(setting)
    client = client_visitor(visit, setting)
    before = int(time.time())
    pay_session(client, invoice["id"])
    [created] = fake_stripe.calls("POST", "/v1/checkout/sessions")
    expires_at = int(created["params"]["expires_at"])
    # Stripe accepts 30 minutes to 24 hours; it must not outlive the hour the session is reused.
    assert before + 30 * 60 <= expires_at <= before + 3600 + 60


def test_voiding_or_paying_by_hand_closes_the_checkout_page_left_open(
    billing_practice, fake_stripe, in_practice, visit
):
    """A Checkout page opened before staff voided the invoice (or recorded cash for it) stayed
    payable at Stripe: the client could still pay a void invoice, or pay what was paid in cash."""
    setting, invoice = _billed(billing_practice, in_practice)
    connect_stripe(setting)
    client = client_visitor(visit, setting)
    form_page = f"/clients/{setting.client.id}/billing"
    first = pay_session(client, invoice["id"])
    response = setting.staff.post(
        f"/billing/invoices/{invoice['id']}/payments",
        {"method": "cash", "amount": "50"},
        form_page=form_page,
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    assert fake_stripe.objects[first]["status"] == "expired"
    # The balance left gets a fresh session; voiding is refused while money is on it, so refund
    # the cash, then void: the open session closes with it.
    second = pay_session(client, invoice["id"])
    assert second != first and fake_stripe.objects[second]["amount_total"] == 10000
    refund_in_full(in_practice, setting, form_page)
    assert (
        setting.staff.post(f"/billing/invoices/{invoice['id']}/void", {}, form_page=form_page).status_code
        == 302
    )
    assert fake_stripe.objects[second]["status"] == "expired"
    [voided] = invoices_of(in_practice, setting.practice)
    assert voided["status"] == "void"


def test_confirming_does_not_cancel_an_appointment_moved_earlier_than_the_offer_meanwhile(
    waitlist_fixture,  # noqa: F811 (the fixture)
    in_practice,
    visit,
    mailbox,
    run_jobs,
):
    """ "Move my appointment earlier" was checked when the offer went out, not when it is confirmed:
    staff moving that appointment before the offered time meanwhile (or into the cancellation
    window) and the client then confirming cancelled the EARLIER appointment for a later one."""
    from sqlalchemy import select

    from blueprints.scheduling.models import Appointment
    from blueprints.scheduling.operations.appointments import move
    from blueprints.waitlist.models import WaitlistEntry
    from tenants.database import db
    from tests.test_waitlist import free_the_time, offer_links, soon

    practice, ids, people, _ = waitlist_fixture(waiting=1, moving=True)
    with in_practice(practice):
        later_id = db.session.scalars(select(WaitlistEntry.move_appointment_id)).one()
    free_the_time(in_practice, practice, ids)
    links = offer_links(mailbox, run_jobs, practice)
    with in_practice(practice):
        move(db.session.get(Appointment, later_id), soon(2, 9), notify=False)
        db.session.commit()
    answer = visit(practice).post(links[people[0].email], {"answer": "confirm"})
    assert answer.status_code in (409, 410)
    with in_practice(practice):
        kept = db.session.get(Appointment, later_id)
        assert (kept.status, kept.starts_at) == ("booked", soon(2, 9))


def test_huge_and_junk_ids_are_not_found_never_500(
    billing_practice,
    fake_stripe,
    in_practice,
    visit,
    waitlist_fixture,  # noqa: F811 (the fixture)
):
    setting, invoice = _billed(billing_practice, in_practice)
    connect_stripe(setting)
    client = client_visitor(visit, setting)
    huge = str(10**30)
    assert client.post(f"/portal/billing/invoices/{huge}/pay", form_page="/portal/billing").status_code == 404
    assert client.get(f"/portal/billing/receipts/{huge}").status_code == 404

    practice, _, people, _ = waitlist_fixture(waiting=1)
    person = visit(practice)
    assert person.login(people[0].email).status_code == 302
    person.get("/portal/choose")
    for junk in (huge, "-1", "x", "9" * 19):
        answer = person.post(
            "/portal/waitlist",
            {
                "service_id": junk,
                "clinician_id": junk,
                "weekdays": ["1"],
                "parts": ["morning"],
                "from_date": "2099-01-01",
                "until_date": "2099-01-02",
                "move_appointment_id": junk,
            },
            form_page="/portal/waitlist",
        )
        assert answer.status_code == 400, (junk, answer.status_code)
    assert person.get("/portal/offers/" + "A" * 5000).status_code == 404


def test_a_time_confirmed_from_the_waitlist_is_billed_when_the_practice_bills_at_booking(
    waitlist_fixture,  # noqa: F811 (the fixture)
    in_practice,
    visit,
    mailbox,
    run_jobs,
):
    """Billing at booking listens to `appointment_booked`; a held time taken from the waitlist became
    a booking without it, so that session was never invoiced."""
    from sqlalchemy import select

    from blueprints.billing.models import Invoice, InvoiceLine
    from blueprints.billing.operations.invoices import billing_settings
    from blueprints.scheduling.models import Service
    from tenants.database import db
    from tests.test_waitlist import free_the_time, offer_links

    practice, ids, people, _ = waitlist_fixture(waiting=1)
    with in_practice(practice):
        db.session.get(Service, ids["service"]).price_minor = 15000
        billing_settings().bill_when = "booking"
        db.session.commit()
        before = db.session.scalar(select(db.func.count()).select_from(Invoice))
    free_the_time(in_practice, practice, ids)
    links = offer_links(mailbox, run_jobs, practice)
    assert visit(practice).post(links[people[0].email], {"answer": "confirm"}).status_code == 200
    with in_practice(practice):
        billed = db.session.scalars(
            select(Invoice).join(InvoiceLine).where(Invoice.client_id == people[0].id)
        ).all()
        assert len(billed) == 1 and billed[0].total_minor == 15000
        assert db.session.scalar(select(db.func.count()).select_from(Invoice)) == before + 1


def test_an_archived_clients_open_offer_cannot_be_confirmed(
    waitlist_fixture,  # noqa: F811 (the fixture)
    in_practice,
    visit,
    mailbox,
    run_jobs,
):
    """Offers go only to active clients, but the link (no login needed) still booked the time after
    staff archived the client while the offer was open."""
    from sqlalchemy import select

    from blueprints.people.models import Client
    from blueprints.scheduling.models import Appointment
    from tenants.database import db
    from tests.test_waitlist import free_the_time, offer_links

    practice, ids, people, _ = waitlist_fixture(waiting=1)
    free_the_time(in_practice, practice, ids)
    links = offer_links(mailbox, run_jobs, practice)
    with in_practice(practice):
        db.session.get(Client, people[0].id).status = "archived"
        db.session.commit()
    assert visit(practice).post(links[people[0].email], {"answer": "confirm"}).status_code == 410
    with in_practice(practice):
        assert not db.session.scalars(
            select(Appointment).where(Appointment.client_id == people[0].id, Appointment.status == "booked")
        ).all()
