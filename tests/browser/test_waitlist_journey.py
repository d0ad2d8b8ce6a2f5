"""In a real browser at phone width: a client joins the waitlist, a time frees, and the client
confirms the offer from the emailed link."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta

from playwright.sync_api import expect
from sqlalchemy import select

from blueprints.auth.service import find_user_by_email
from blueprints.people.models import Client
from blueprints.scheduling.models import Appointment, Service
from blueprints.scheduling.operations.appointments import book, cancel_appointment
from tenants.database import db
from tests.browser.conftest import assert_no_sideways_scroll, open_menu
from tests.browser.test_scheduling_journey import log_in

PHONE = {"width": 390, "height": 844}
LINK = re.compile(r"https?://[^\s]+/portal/offers/[A-Za-z0-9_-]+")


def test_a_client_joins_the_waitlist_and_confirms_an_offer_on_a_phone(
    page,
    live_server,
    make_practice,
    make_staff,
    make_client,
    open_for_booking,
    in_practice,
    mailbox,
    run_jobs,
):
    practice = make_practice(name="Waitlist Clinic")
    live_server.track(practice.slug)
    clinician_email = make_staff(practice, "clinician", name="Dr. Wait")
    riley = make_client(
        practice,
        first="Riley",
        email=f"riley@{practice.slug}.example.com",
        login=True,
        clinicians=(clinician_email,),
    )
    other = make_client(
        practice, first="Bo", email=f"bo@{practice.slug}.example.com", clinicians=(clinician_email,)
    )
    service_id = open_for_booking(
        practice, clinician_email, "Therapy session", min_notice_hours=0, waitlist_enabled=True
    )
    starts = datetime.combine((datetime.now(UTC) + timedelta(days=3)).date(), time(10), tzinfo=UTC)
    with in_practice(practice):
        clinician = find_user_by_email(clinician_email)
        taken = book(db.session.get(Client, other.id), clinician, db.session.get(Service, service_id), starts)
        db.session.commit()
        taken_id = taken.id

    page.set_viewport_size(PHONE)
    log_in(page, live_server, practice, riley.email)
    open_menu(page)
    page.get_by_role("link", name="Waitlist", exact=True).click()
    expect(page.get_by_role("heading", name="Waitlist", exact=True)).to_be_visible()
    page.get_by_label("Service").select_option(label="Therapy session")
    for day in ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"):
        page.get_by_label(day).check()
    page.get_by_label("Morning").check()
    page.get_by_label("Until").fill((datetime.now(UTC) + timedelta(days=20)).date().isoformat())
    assert_no_sideways_scroll(page)
    page.get_by_role("button", name="Join the waitlist").click()
    expect(page.get_by_text("You are on the waitlist")).to_be_visible()
    expect(page.locator("#waitlist-entries")).to_contain_text("Therapy session")
    assert_no_sideways_scroll(page)

    with in_practice(practice):  # the booked client cancels: the time frees
        owner = find_user_by_email(practice.owner_email)
        appointment = db.session.get(Appointment, taken_id)
        cancel_appointment(owner, appointment, version=appointment.version)
        db.session.commit()
    run_jobs()
    offers = [m for m in mailbox.to(riley.email) if m["Subject"] == "A time has opened up"]
    assert len(offers) == 1
    link = LINK.search(mailbox.body(offers[0])).group(0)
    page.goto(live_server.practice_url(practice.slug, "/portal/offers/" + link.rsplit("/", 1)[1]))
    expect(page.locator("#offer-time")).to_contain_text("Dr. Wait")
    assert_no_sideways_scroll(page)
    confirm = page.get_by_role("button", name="Confirm this time")
    box = confirm.bounding_box()
    assert box["height"] >= 44
    confirm.click()
    expect(page.locator("#offer-confirmed")).to_be_visible()
    assert_no_sideways_scroll(page)
    with in_practice(practice):
        mine = db.session.scalars(
            select(Appointment).where(Appointment.starts_at == starts, Appointment.status == "booked")
        ).one()
        assert mine.client_id == riley.id
