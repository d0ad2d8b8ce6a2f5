"""Booking rules against the database: no double booking (even under a race), buffers, stale edits,
client refusals, and calendar invites that keep one event in step."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, time, timedelta

import pytest
from icalendar import Calendar
from sqlalchemy import select

from blueprints.auth.models import User
from blueprints.auth.service import find_user_by_email
from blueprints.people.models import Client
from blueprints.scheduling.models import Appointment, AvailabilityRule, Service, ServiceClinician
from blueprints.scheduling.operations import appointments, availability
from blueprints.scheduling.operations import portal as portal_rules
from blueprints.scheduling.operations import requests as appointment_requests
from tenants.database import db
from tenants.features import practice_settings

MONDAY = date(2031, 6, 2)  # far ahead: notice and horizon are set to allow it below


@pytest.fixture
def clinic(make_practice, make_staff, make_client, in_practice):
    practice = make_practice()
    clinician_email = make_staff(practice, "clinician")
    client = make_client(practice, first="Bo", email=f"bo@{practice.slug}.example.com")
    with in_practice(practice):
        settings = practice_settings()
        settings.time_zone = "Europe/Berlin"
        settings.min_notice_hours = 0
        settings.booking_horizon_days = 3650
        settings.buffer_after_minutes = 10
        clinician = find_user_by_email(clinician_email)
        therapy = Service(name="Therapy", duration_minutes=50, service_code="90834", bookable_online=True)
        db.session.add(therapy)
        db.session.flush()
        db.session.add(ServiceClinician(service_id=therapy.id, user_id=clinician.id))
        for weekday in range(5):
            db.session.add(AvailabilityRule(weekday=weekday, start_time=time(9), end_time=time(17)))
        db.session.commit()
        ids = {"clinician": clinician.id, "service": therapy.id, "client": client.id, "email": client.email}
    return practice, ids


def at(hour: int, minute: int = 0, day: date = MONDAY) -> datetime:
    from zoneinfo import ZoneInfo

    return datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo("Europe/Berlin"))


def load(ids):
    return (
        db.session.get(Client, ids["client"]),
        db.session.get(User, ids["clinician"]),
        db.session.get(Service, ids["service"]),
    )


def test_double_booking_is_refused_by_the_database(clinic, in_practice):
    practice, ids = clinic
    with in_practice(practice):
        appointments.book(*load(ids), at(10))
        db.session.commit()
    with in_practice(practice):
        with pytest.raises(appointments.SlotTaken):
            appointments.book(*load(ids), at(10, 30))
        db.session.rollback()
    with in_practice(practice):
        # The 10-minute buffer after 10:00-10:50 keeps 10:50 busy; 11:00 is free.
        with pytest.raises(appointments.SlotTaken):
            appointments.book(*load(ids), at(10, 55))
        db.session.rollback()
        appointments.book(*load(ids), at(11))
        db.session.commit()


def test_twenty_parallel_bookings_of_one_slot_give_exactly_one(app, clinic):
    from tenants.database import practice_scope

    practice, ids = clinic
    barrier = threading.Barrier(20)
    outcomes = []

    def attempt():
        with app.app_context(), practice_scope(practice.record):
            barrier.wait()
            try:
                appointments.book(*load(ids), at(14), notify=False)
                db.session.commit()
                outcomes.append("booked")
            except appointments.SlotTaken:
                db.session.rollback()
                outcomes.append("taken")

    threads = [threading.Thread(target=attempt) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["booked"] + ["taken"] * 19


def test_slots_leave_out_booked_time_and_buffers(clinic, in_practice):
    practice, ids = clinic
    with in_practice(practice):
        appointments.book(*load(ids), at(10), notify=False)
        db.session.commit()
        therapy = db.session.get(Service, ids["service"])
        slots = availability.available_slots(ids["clinician"], therapy, now=at(0))
        monday = [s for s in slots if s.date() == MONDAY]
        assert at(10).astimezone(UTC) not in monday
        assert at(9).astimezone(UTC) in monday  # 9:00-9:50 plus its 10-minute buffer ends at 10:00
        assert at(9, 15).astimezone(UTC) not in monday  # ... but 9:15 would run into 10:00
        assert at(10, 45).astimezone(UTC) not in monday  # 10:00-10:50 keeps its buffer to 11:00
        assert at(11).astimezone(UTC) in monday


def test_stale_edits_are_detected(clinic, in_practice):
    practice, ids = clinic
    with in_practice(practice):
        appointment = appointments.book(*load(ids), at(9), notify=False)
        db.session.commit()
        appointment_id, version = appointment.id, appointment.version
    with in_practice(practice):
        appointments.move(
            db.session.get(Appointment, appointment_id), at(12), expected_version=version, notify=False
        )
        db.session.commit()
    with in_practice(practice):
        with pytest.raises(appointments.StaleAppointment):
            appointments.move(db.session.get(Appointment, appointment_id), at(15), expected_version=version)


def test_client_refusals(clinic, in_practice):
    practice, ids = clinic
    with in_practice(practice):
        settings = practice_settings()
        settings.cancellation_window_hours = 24
        appointment = appointments.book(*load(ids), at(10), notify=False)
        start = appointment.starts_at
        assert (
            portal_rules.cancellation_refusal(
                appointment, settings, now=start - timedelta(hours=24, minutes=1)
            )
            is None
        )
        assert "24 hours" in portal_rules.cancellation_refusal(
            appointment, settings, now=start - timedelta(hours=23, minutes=59)
        )
        assert portal_rules.reschedule_refusal(appointment) is None
        resized = appointments.book(*load(ids), at(13), duration_minutes=80, notify=False)
        assert "length was set by the practice" in portal_rules.reschedule_refusal(resized)
        appointment.service.bookable_online = False
        assert "cannot be booked online" in portal_rules.reschedule_refusal(appointment)
        appointment.service.bookable_online = True
        appointment.group_id, appointment.is_group_primary = 7, False
        assert "group" in portal_rules.reschedule_refusal(appointment)
        db.session.rollback()


def invites_of(mailbox, address):
    calendars = []
    for message in mailbox.to(address):
        for part in message.iter_attachments():
            if part.get_content_type() == "text/calendar":
                calendars.append(Calendar.from_ical(part.get_content()))
    return calendars


def test_book_reschedule_cancel_keep_one_calendar_event(clinic, in_practice, mailbox, run_jobs):
    practice, ids = clinic
    # Each change goes out before the next (changes inside the hold collapse into one message).
    with in_practice(practice):
        appointment = appointments.book(*load(ids), at(9))
        db.session.commit()
        appointment_id = appointment.id
    run_jobs()
    with in_practice(practice):
        appointments.move(db.session.get(Appointment, appointment_id), at(15))
        db.session.commit()
    run_jobs()
    with in_practice(practice):
        appointments.cancel(db.session.get(Appointment, appointment_id))
        db.session.commit()
    run_jobs()
    calendars = invites_of(mailbox, ids["email"])
    assert [c["method"] for c in calendars] == ["REQUEST", "REQUEST", "CANCEL"]
    events = [next(iter(c.walk("VEVENT"))) for c in calendars]
    assert len({str(e["uid"]) for e in events}) == 1
    assert [int(e["sequence"]) for e in events] == [0, 1, 2]
    assert str(events[-1]["status"]) == "CANCELLED"
    assert events[1].decoded("dtstart") == at(15)
    assert all(any(True for _ in c.walk("VTIMEZONE")) for c in calendars)
    with in_practice(practice):
        clinician_email = db.session.get(User, ids["clinician"]).email
    assert len(invites_of(mailbox, clinician_email)) == 3


def test_appointments_of_another_practice_are_invisible(clinic, make_practice, in_practice):
    """Isolation: another practice's appointment ids find nothing here."""
    practice, ids = clinic
    with in_practice(practice):
        appointment_id = appointments.book(*load(ids), at(16), notify=False).id
        db.session.commit()
    other = make_practice()
    with in_practice(other):
        assert db.session.get(Appointment, appointment_id) is None
        assert db.session.scalars(select(Appointment)).all() == []


def test_requests_approve_with_changes_decline_and_expire(clinic, in_practice, mailbox, run_jobs):
    from blueprints.scheduling.models import AppointmentRequest

    practice, ids = clinic
    with in_practice(practice):
        client, clinician, therapy = load(ids)
        longer = Service(name="Long therapy", duration_minutes=80, service_code="90837")
        db.session.add(longer)
        db.session.flush()
        db.session.add(ServiceClinician(service_id=longer.id, user_id=clinician.id))
        request = appointment_requests.request_new(client, clinician, therapy, at(9), requested_by=None)
        assert request.new_client is True and request.status == "pending"
        appointment = appointment_requests.approve(
            clinician, request, service_id=longer.id, alert="Bring forms"
        )
        assert appointment.starts_at == at(9) and appointment.service_id == longer.id
        assert appointment.alert == "Bring forms"

        moved = appointment_requests.request_change(
            appointment, "reschedule", starts_at=at(13), requested_by=None
        )
        assert appointment.starts_at == at(9)  # the original time holds until approved
        with pytest.raises(appointments.SchedulingError, match="already waiting"):
            appointment_requests.request_change(appointment, "cancellation", requested_by=None)
        appointment_requests.decline(clinician, moved)  # no email by default
        cancellation = appointment_requests.request_change(appointment, "cancellation", requested_by=None)
        appointment_requests.decline(clinician, cancellation, notify=True, message="Please call us.")
        with pytest.raises(appointments.SchedulingError, match="already handled"):
            appointment_requests.approve(clinician, cancellation)

        stale = appointment_requests.request_new(client, clinician, therapy, at(11), requested_by=None)
        assert appointment_requests.expire_past_requests(now=at(12)) >= 1
        assert db.session.get(AppointmentRequest, stale.id).status == "expired"
        db.session.commit()
    run_jobs()
    subjects = [m["Subject"] for m in mailbox.to(ids["email"])]
    assert len([s for s in subjects if s.endswith("your request was approved")]) == 1
    # The reschedule was declined without notice; only the cancellation's decline is sent.
    [declined] = [m for m in mailbox.to(ids["email"]) if m["Subject"].endswith("your request was declined")]
    assert "From the practice: Please call us." in mailbox.body(declined)
    approved = next(m for m in mailbox.to(ids["email"]) if m["Subject"].endswith("request was approved"))
    assert "service: Therapy -> Long therapy" in mailbox.body(approved)
