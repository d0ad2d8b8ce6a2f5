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


def test_client_books_reschedules_and_cancels(
    page, live_server, clinic, console_errors, output_dir, in_practice
):
    practice, client, _ = clinic
    log_in(page, live_server, practice, client.email)
    page.get_by_role("link", name="Appointments").first.click()
    page.get_by_role("link", name="Book an appointment").click()
    page.get_by_label("Type of appointment").select_option(label="Therapy session (50 min)")
    page.get_by_role("button", name="Show free times").click()
    expect(page.get_by_text("Times are shown in UTC")).to_be_visible()
    page.locator(".slot-list button").nth(2).click()
    expect(page.get_by_text("Your appointment is booked")).to_be_visible()
    assert page.url.endswith("/portal/appointments")

    page.get_by_role("link", name="Reschedule").click()
    page.locator(".slot-list button").nth(6).click()
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
    client_page.get_by_label("Type of appointment").select_option(label="Therapy session (50 min)")
    client_page.get_by_role("button", name="Show free times").click()
    client_page.locator(".slot-list button").first.click()
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
