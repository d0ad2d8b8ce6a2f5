"""In a real browser at phone width: staff book a weekly series from the appointment form, see the
one date that conflicts, book the free ones, and cancel "this and all following" from the series page."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import expect
from sqlalchemy import select

from blueprints.auth.models import User
from blueprints.people.models import Client
from blueprints.scheduling.models import Appointment, Service
from blueprints.scheduling.operations.appointments import book
from tenants.database import db
from tenants.features import practice_settings
from tests.browser.conftest import assert_no_sideways_scroll
from tests.browser.test_every_page import axe_script, axe_violations
from tests.browser.test_scheduling_journey import assert_touch_target, log_in

FIRST = date(2027, 1, 4)  # a Monday, within the year staff may book ahead
BERLIN = ZoneInfo("Europe/Berlin")


def test_staff_book_a_series_at_phone_width(
    page,
    live_server,
    make_practice,
    make_staff,
    make_client,
    open_for_booking,
    in_practice,
    console_errors,
    output_dir,
):
    practice = make_practice(name="Series Clinic")
    clinician_email = make_staff(practice, "clinician", name="Dr. Weekly")
    client = make_client(practice, first="Sam", last="Steady", clinicians=(clinician_email,))
    other = make_client(practice, first="Olive", last="Other", clinicians=(clinician_email,))
    service_id = open_for_booking(practice, clinician_email, "Therapy session", hours=(8, 18))
    with in_practice(practice):
        practice_settings().time_zone = "Europe/Berlin"
        clinician = db.session.scalars(select(User).where(User.email == clinician_email)).one()
        third = datetime.combine(FIRST + timedelta(weeks=2), time(10), tzinfo=BERLIN)
        book(
            db.session.get(Client, other.id),
            clinician,
            db.session.get(Service, service_id),
            third,
            notify=False,
        )
        db.session.commit()
        clinician_id = clinician.id

    page.set_viewport_size({"width": 390, "height": 844})
    page.context.add_init_script(path=str(axe_script()))
    log_in(page, live_server, practice, practice.owner_email)
    page.goto(
        live_server.practice_url(practice.slug, f"/calendar/new?client={client.id}&clinician={clinician_id}")
    )
    page.get_by_label("Date", exact=True).fill(FIRST.isoformat())
    page.get_by_label("Time", exact=True).fill("10:00")
    page.get_by_label("Repeat").select_option(label="Every week")
    page.get_by_label("How many times").fill("4")
    assert_no_sideways_scroll(page)
    page.get_by_role("button", name="Book", exact=True).click()

    expect(page.locator("#series-review-title")).to_have_text("1 of 4 dates cannot be booked")
    expect(page.locator('tr.series-conflict[data-index="3"]')).to_contain_text("already has an appointment")
    expect(page.locator("tr.series-free")).to_have_count(3)
    assert_no_sideways_scroll(page)
    assert axe_violations(page) == []
    book_free = page.get_by_role("button", name="Book the free dates")
    assert_touch_target(book_free)
    page.screenshot(path=str(output_dir / "series-conflicts-390.png"), full_page=True)
    book_free.click()

    expect(page.get_by_text("Booked 3 appointments")).to_be_visible()
    expect(page.locator('#series-occurrences tr[data-status="booked"]')).to_have_count(3)
    assert "/calendar/series/" in page.url
    assert_no_sideways_scroll(page)
    page.screenshot(path=str(output_dir / "series-page-390.png"), full_page=True)
    page.get_by_role("button", name="Cancel this and all following from date 2").click()
    expect(page.locator('#series-occurrences tr[data-status="cancelled"]')).to_have_count(2)
    with in_practice(practice):
        rows = db.session.scalars(
            select(Appointment).where(Appointment.series_id.is_not(None)).order_by(Appointment.starts_at)
        ).all()
        assert [row.status for row in rows] == ["booked", "cancelled", "cancelled"]
        assert {row.starts_at.astimezone(BERLIN).time() for row in rows} == {time(10)}
    # The one expected: the dates with a conflict answer 409 (the browser logs the status).
    assert [error for error in console_errors if "status of 409" not in error] == []
