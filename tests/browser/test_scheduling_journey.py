"""In a real browser: a client books, reschedules and cancels; staff approve a request from the calendar."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from blueprints.scheduling.models import (
    Appointment,
    AppointmentRequest,
)
from tenants.database import db
from tenants.features import practice_settings
from tests.conftest import OWNER_PASSWORD


@pytest.fixture
def clinic(make_practice, make_staff, make_client, open_for_booking):
    practice = make_practice(name="Browser Clinic")
    clinician_email = make_staff(practice, "clinician", name="Dr. Browser")
    client = make_client(
        practice,
        first="Riley",
        email=f"riley@{practice.slug}.example.com",
        login=True,
        clinicians=(clinician_email,),
    )
    open_for_booking(
        practice,
        clinician_email,
        "Therapy session",
        hours=(8, 18),
        min_notice_hours=2,
        cancellation_window_hours=1,
    )
    return practice, client, clinician_email


def log_in(page, live_server, practice, email):
    page.goto(live_server.practice_url(practice.slug, "/login"))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(OWNER_PASSWORD)
    page.get_by_role("button", name="Log in").click()


def assert_touch_target(locator):
    locator.page.wait_for_load_state("load")  # measured with the page's stylesheets applied
    box = locator.bounding_box()
    assert box["width"] >= 44 and box["height"] >= 44, box


def assert_fits(page, selector):
    """The element ends inside the window: nothing of the picker needs sideways scrolling."""
    right = page.evaluate(f"document.querySelector({selector!r}).getBoundingClientRect().right")
    assert right <= page.evaluate("window.innerWidth"), selector


def choose_another_day(page):
    """Click a marked day other than the one shown (in the next month if this one has no other);
    the page's script loads its times in place, without leaving the page."""
    days = page.locator("#booking-calendar a.booking-day")
    if days.count() < 2:
        page.get_by_role("link", name=re.compile("^Next month")).click()
        days = page.locator("#booking-calendar a.booking-day")
    day = days.nth(1) if days.nth(0).get_attribute("aria-current") else days.nth(0)
    assert_touch_target(day)
    label = day.get_attribute("aria-label")  # "Friday 27 November, 10 times free"
    page.evaluate("window.__stillHere = true")
    day.click()
    weekday, number = label.split()[0], label.split()[1]
    expect(page.locator("#day-times h2")).to_contain_text(f"{weekday} {int(number):02d}")
    assert page.evaluate("window.__stillHere") is True  # loaded in place, not a new page
    assert "day=" in page.url and day.get_attribute("aria-current") == "true"
    expect(page.locator('.booking-steps li[aria-current="step"]')).to_have_text("Time")
    expect(page.locator("#day-times a.booking-time").first).to_be_visible()


VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}


@pytest.mark.parametrize("size", VIEWPORTS)
def test_client_books_reschedules_and_cancels(
    page, live_server, clinic, console_errors, output_dir, in_practice, size
):
    practice, client, _ = clinic
    page.set_viewport_size(VIEWPORTS[size])
    log_in(page, live_server, practice, client.email)
    page.goto(live_server.practice_url(practice.slug, "/portal/appointments"))
    page.get_by_role("link", name="Book an appointment").click()
    # One service and one clinician: straight to the month, its first free day chosen.
    expect(page.locator("#booking-calendar caption")).to_be_visible()
    expect(page.get_by_text("Times are shown in UTC")).to_be_visible()
    choose_another_day(page)
    assert_fits(page, "#booking-calendar")
    assert_fits(page, "#day-times")
    page.screenshot(path=str(output_dir / f"booking-day-{size}.png"), full_page=True)
    time_link = page.locator("#day-times a.booking-time").nth(2)
    assert_touch_target(time_link)
    chosen = time_link.inner_text()
    time_link.click()
    expect(page.get_by_role("heading", name="Check and book")).to_be_visible()
    expect(page.locator("#booking-facts")).to_contain_text(chosen.split()[0])
    expect(page.locator("#booking-facts")).to_contain_text("Therapy session")
    assert_touch_target(page.get_by_role("button", name="Book"))
    page.screenshot(path=str(output_dir / f"booking-confirm-{size}.png"), full_page=True)
    # "Back" returns to the day, nothing booked; then the time again, and "Book".
    page.get_by_role("link", name="Back", exact=True).click()
    expect(page.locator("#day-times a.booking-time").nth(2)).to_have_text(chosen)
    page.locator("#day-times a.booking-time").nth(2).click()
    page.get_by_role("button", name="Book").click()
    expect(page.get_by_text("Your appointment is booked")).to_be_visible()
    assert page.url.endswith("/portal/appointments")
    page.screenshot(path=str(output_dir / f"appointments-{size}.png"), full_page=True)

    page.get_by_role("link", name="Reschedule").click()
    choose_another_day(page)
    expect(page.locator("#day-times")).to_contain_text("Your appointment now:")
    page.screenshot(path=str(output_dir / f"reschedule-day-{size}.png"), full_page=True)
    page.locator("#day-times a.booking-time").nth(6).click()
    expect(page.locator("#booking-facts")).to_contain_text("Current time")
    expect(page.locator("#booking-facts")).to_contain_text("New time")
    page.get_by_role("button", name="Reschedule").click()
    expect(page.get_by_text("Your appointment was moved")).to_be_visible()

    page.get_by_role("link", name="Cancel").click()
    expect(page.get_by_role("link", name="Keep session")).to_be_visible()
    page.get_by_role("button", name="Cancel appointment").click()
    expect(page.get_by_text("Your appointment was cancelled")).to_be_visible()
    page.screenshot(path=str(output_dir / "client-appointments.png"), full_page=True)

    with in_practice(practice):
        [appointment] = db.session.scalars(select(Appointment)).all()
        assert appointment.status == "cancelled" and appointment.ics_sequence == 2
    assert console_errors == []


def test_staff_approve_a_request_from_the_calendar(browser, live_server, clinic, in_practice, output_dir):
    practice, client, clinician_email = clinic
    with in_practice(practice):
        practice_settings().self_scheduling_enabled = False
        db.session.commit()

    client_page = browser.new_context().new_page()
    log_in(client_page, live_server, practice, client.email)
    client_page.goto(live_server.practice_url(practice.slug, "/portal/book"))
    client_page.locator("#day-times a.booking-time").first.click()
    expect(client_page.get_by_role("heading", name="Check and request")).to_be_visible()
    client_page.get_by_role("button", name="Request").click()
    expect(client_page.get_by_text("Your request was sent")).to_be_visible()

    with in_practice(practice):
        [request] = db.session.scalars(select(AppointmentRequest)).all()
        day = request.requested_starts_at.date().isoformat()

    staff_page = browser.new_context().new_page()
    log_in(staff_page, live_server, practice, clinician_email)
    staff_page.goto(live_server.practice_url(practice.slug, f"/calendar?date={day}"))
    entry = staff_page.locator(".sched-requested").first
    expect(entry).to_contain_text("(Requested)")
    staff_page.screenshot(path=str(output_dir / "calendar-with-request.png"), full_page=True)
    entry.click()
    staff_page.get_by_role("button", name=re.compile("^Approve$")).click()

    with in_practice(practice):
        [approved] = db.session.scalars(select(AppointmentRequest)).all()
        assert approved.status == "approved"
        [appointment] = db.session.scalars(select(Appointment)).all()
        assert appointment.starts_at == approved.requested_starts_at and appointment.status == "booked"
    client_page.goto(live_server.practice_url(practice.slug, "/portal/appointments"))
    expect(client_page.locator("#upcoming")).to_contain_text("Therapy session with Dr. Browser")
