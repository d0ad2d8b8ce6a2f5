"""Reminders and follow-ups, from a given "now" (time travel): what is due and not sent yet goes,
once; late reminders for appointments not started go, the rest are dropped; DST counts real hours;
the platform's fan-out reaches the practices with something due; one practice's messages never name
another's clients. Mail goes to the real test SMTP server (aiosmtpd)."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text, update

from app.jobs import run_worker
from blueprints.auth.service import find_user_by_email
from blueprints.automations.reminders import next_due, run_periodic
from blueprints.notifications.automated import message_settings
from blueprints.people.models import Client
from blueprints.scheduling.models import Appointment, Service
from blueprints.scheduling.operations import appointments
from tenants.database import db
from tenants.features import practice_settings
from tests.conftest import Mailbox

DAY, HOUR = timedelta(days=1), timedelta(hours=1)


@pytest.fixture
def world(make_practice, make_staff, make_client, open_for_booking):
    def make(name=None, first="Robin", zone=None):
        practice = make_practice(name)
        clinician = make_staff(practice, "clinician", name="Dr Alma Reyes")
        service_id = open_for_booking(practice, clinician, hours=(0, 23))
        email = f"{first.lower()}-{uuid.uuid4().hex[:6]}@example.net"
        client = make_client(practice, first, email=email, clinicians=(clinician,), time_zone=zone)
        return practice, {"clinician": clinician, "service": service_id, "client": client.id, "email": email}

    return make


def book_long_ago(in_practice, practice, ids, starts_at, set_at=None):
    """Book at `starts_at`, as if booked at `set_at` (default: long before)."""
    with in_practice(practice):
        appointment = appointments.book(
            db.session.get(Client, ids["client"]),
            find_user_by_email(ids["clinician"]),
            db.session.get(Service, ids["service"]),
            starts_at,
            notify=False,
        )
        appointment.time_set_at = set_at or starts_at - 30 * DAY
        db.session.commit()
        return appointment.id


def _run(in_practice, practice, now):
    with in_practice(practice):
        return run_periodic(now)


def _reminders(mailbox, ids):
    return [m for m in mailbox.to(ids["email"]) if m["Subject"].startswith("Reminder")]


def _start(days=5, hour=10):
    return (datetime.now(UTC) + days * DAY).replace(hour=hour, minute=0, second=0, microsecond=0)


def test_each_offset_goes_once_at_its_time(world, in_practice, mailbox: Mailbox):
    practice, ids = world()
    starts_at = _start()
    book_long_ago(in_practice, practice, ids, starts_at)
    assert _run(in_practice, practice, starts_at - 25 * HOUR) == 0
    assert _run(in_practice, practice, starts_at - 24 * HOUR) == 1
    assert _run(in_practice, practice, starts_at - 23 * HOUR) == 0  # a retry, a restart: nothing new
    assert _run(in_practice, practice, starts_at - 2 * HOUR + timedelta(minutes=1)) == 1
    assert _run(in_practice, practice, starts_at - HOUR) == 0
    sent = _reminders(mailbox, ids)
    assert len(sent) == 2
    assert "Hello Robin," in Mailbox.body(sent[0]) and "/l/" in Mailbox.body(sent[0])


def test_a_worker_that_was_down_sends_one_late_reminder_and_drops_started_ones(world, in_practice, mailbox):
    practice, ids = world()
    later, started = _start(days=5, hour=10), _start(days=5, hour=4)
    book_long_ago(in_practice, practice, ids, later)
    book_long_ago(in_practice, practice, ids, started)
    # Down from a day before both until 30 minutes before the later one: the earlier one has begun.
    assert _run(in_practice, practice, later - timedelta(minutes=30)) == 1
    [reminder] = _reminders(mailbox, ids)
    assert "10:00" in reminder["Subject"]
    assert _run(in_practice, practice, later - timedelta(minutes=10)) == 0  # both offsets were claimed


def test_booked_inside_an_offset_skips_it(world, in_practice, mailbox):
    practice, ids = world()
    starts_at = _start()
    book_long_ago(in_practice, practice, ids, starts_at, set_at=starts_at - 10 * HOUR)
    assert _run(in_practice, practice, starts_at - 9 * HOUR) == 0  # the day-before one is skipped
    assert _run(in_practice, practice, starts_at - 2 * HOUR) == 1


def test_a_moved_appointment_is_reminded_of_its_new_time_only(world, in_practice, mailbox):
    practice, ids = world()
    starts_at = _start()
    appointment_id = book_long_ago(in_practice, practice, ids, starts_at)
    assert _run(in_practice, practice, starts_at - 24 * HOUR) == 1
    new_start = starts_at + 2 * DAY
    with in_practice(practice):
        appointments.move(db.session.get(Appointment, appointment_id), new_start, notify=False)
        db.session.execute(  # moved long before the new reminders fall due
            update(Appointment)
            .where(Appointment.id == appointment_id)
            .values(time_set_at=starts_at - 23 * HOUR)
        )
        db.session.commit()
    assert _run(in_practice, practice, starts_at - 2 * HOUR) == 0  # the old time's reminder: never
    assert _run(in_practice, practice, new_start - 24 * HOUR) == 1
    assert _run(in_practice, practice, new_start - 2 * HOUR) == 1
    assert len(_reminders(mailbox, ids)) == 3


def test_dst_counts_real_hours_and_shows_the_clients_wall_clock(world, in_practice, mailbox):
    practice, ids = world(zone="Europe/London")
    with in_practice(practice):
        practice_settings().time_zone = "Europe/London"
        db.session.commit()
    # Clocks go forward at 01:00 UTC on Sunday 28 March 2027: 10:00 BST that day is 09:00 UTC.
    starts_at = datetime(2027, 3, 28, 9, 0, tzinfo=UTC)
    book_long_ago(in_practice, practice, ids, starts_at, set_at=datetime(2027, 3, 1, tzinfo=UTC))
    # 24 hours before is 09:00 UTC = 09:00 GMT on Saturday (23 wall-clock hours before 10:00 BST).
    assert _run(in_practice, practice, datetime(2027, 3, 27, 8, 59, tzinfo=UTC)) == 0
    assert _run(in_practice, practice, datetime(2027, 3, 27, 9, 0, tzinfo=UTC)) == 1
    [reminder] = _reminders(mailbox, ids)
    assert "Sunday 28 March 2027, 10:00 BST (Europe/London)" in Mailbox.body(reminder)
    with in_practice(practice):
        assert next_due(datetime(2027, 3, 27, 9, 0, tzinfo=UTC)) == datetime(2027, 3, 28, 7, 0, tzinfo=UTC)


def test_reminders_switched_off_send_nothing(world, in_practice, mailbox):
    practice, ids = world()
    with in_practice(practice):
        message_settings().events = {"reminder": False}
        db.session.commit()
    starts_at = _start()
    book_long_ago(in_practice, practice, ids, starts_at)
    assert _run(in_practice, practice, starts_at - HOUR) == 0
    assert _reminders(mailbox, ids) == []


def test_the_platform_fans_out_to_due_practices_and_their_messages_name_only_their_clients(
    app, world, in_practice, mailbox, admin_engine
):
    first, first_ids = world(first="Ariadne")
    second, second_ids = world(first="Bartholomew")
    for practice, ids in ((first, first_ids), (second, second_ids)):
        # In 20 hours, booked long ago: the day-before reminder is due now.
        book_long_ago(in_practice, practice, ids, datetime.now(UTC) + 20 * HOUR)
    with admin_engine.connect() as conn:
        due = dict(
            conn.execute(
                text(
                    "SELECT practice_id, next_due_at FROM public.practice_due WHERE practice_id IN (:a, :b)"
                ),
                {"a": first.id, "b": second.id},
            ).all()
        )
    assert set(due) == {first.id, second.id}
    # In a thread of its own, as the run_jobs fixture does (browser tests keep an event loop here).
    worker = threading.Thread(target=run_worker, args=(app,), kwargs={"wait": False, "fan_out_first": True})
    worker.start()
    worker.join(60)
    [to_first] = _reminders(mailbox, first_ids)
    [to_second] = _reminders(mailbox, second_ids)
    assert "Bartholomew" not in to_first.as_string() and second.record.name not in to_first.as_string()
    assert "Ariadne" not in to_second.as_string() and first.record.name not in to_second.as_string()
    with admin_engine.connect() as conn:
        after = conn.execute(
            text("SELECT next_due_at FROM public.practice_due WHERE practice_id = :a"), {"a": first.id}
        ).scalar()
    assert after is not None and after > datetime.now(UTC)  # the two-hour reminder, later


def _cancelled_client(world, in_practice):
    """A practice with follow-ups on, and a client whose appointment was cancelled (nothing sent)."""
    practice, ids = world()
    with in_practice(practice):
        message_settings().events = {"cancellation_followup": True}
        db.session.commit()
    appointment_id = book_long_ago(in_practice, practice, ids, _start(days=2))
    with in_practice(practice):
        appointments.cancel(db.session.get(Appointment, appointment_id), notify=False)
        db.session.commit()
    return practice, ids


def _followups(mailbox, ids):
    return [m for m in mailbox.to(ids["email"]) if m["Subject"].startswith("Book your next")]


def test_a_cancellation_follow_up_goes_once_unless_they_rebooked(world, in_practice, mailbox, run_jobs):
    practice, ids = _cancelled_client(world, in_practice)
    now = datetime.now(UTC)
    for days in (13, 15, 16):  # not yet; due (14 days by default); already sent
        _run(in_practice, practice, now + days * DAY)
        run_jobs()
    [followup] = _followups(mailbox, ids)
    assert "Hello Robin," in Mailbox.body(followup)

    other, other_ids = _cancelled_client(world, in_practice)
    book_long_ago(in_practice, other, other_ids, _start(days=3))  # they booked again
    _run(in_practice, other, now + 15 * DAY)
    run_jobs()
    assert _followups(mailbox, other_ids) == []


def test_reminders_left_by_a_worker_that_died_mid_batch_are_handed_to_the_outbox(
    world, in_practice, mailbox, run_jobs
):
    from blueprints.automations.reminders import deliver_leftovers, send_reminders

    practice, ids = world()
    starts_at = _start()
    book_long_ago(in_practice, practice, ids, starts_at)
    with in_practice(practice):  # claimed and queued, then the process "dies" before SMTP
        [email] = send_reminders(starts_at - 24 * HOUR)
        email_id = email.id
        db.session.commit()
    assert _run(in_practice, practice, starts_at - 23 * HOUR) == 0  # claimed: never queued again
    assert _reminders(mailbox, ids) == []
    with in_practice(practice):
        deliver_leftovers([email_id])
    run_jobs()
    assert len(_reminders(mailbox, ids)) == 1
    with in_practice(practice):
        deliver_leftovers([email_id])  # sent: left alone
    run_jobs()
    assert len(_reminders(mailbox, ids)) == 1
