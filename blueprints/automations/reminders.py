"""Reminders, cancellation follow-ups and the staff digest: the practice's periodic work, run from a
given "now".

`run_periodic(now)` sends what is due and not sent yet, not only what falls in the current minute:
a worker that was down sends late reminders for appointments that have not started, and drops the
rest (an appointment that started gets nothing). When several offsets of one appointment are due at
once, one reminder goes (the others are claimed with it). An offset whose due time came before the
appointment got its current time (booked or moved inside the offset) is skipped.

Once at most: each (appointment, offset, start) is claimed by inserting `ReminderSent` before the
message is queued, in the same transaction, and the whole run holds the practice's advisory lock, so
a restart, a retry or a second worker finds it claimed. A moved appointment has a new start, hence
new claims: it is reminded of its new time only.

The reminders of one run go out over one SMTP connection (`app.mail.deliver_batch`); one that fails
there is handed to the outbox's own job, with its retries. Should the worker die between committing
the batch and handing it over, a job deferred with the batch (`deliver_leftovers`, ten minutes on)
hands what is still unsent to the outbox's job: claimed reminders are never lost, only late.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import exists, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import joinedload

from app import jobs
from app.mail import deliver_batch
from blueprints.automations import sms
from blueprints.automations.compose import send_to_client_side, text_message
from blueprints.notifications.automated import event_on, message_settings, notify_client, reminder_offsets
from blueprints.notifications.look import email_look
from blueprints.notifications.models import ClientNotice, OutboxEmail, ReminderSent
from blueprints.notifications.raw import raw_message
from blueprints.notifications.service import SEND_EMAIL_TASK, queue_email_batch
from blueprints.portal.service import is_minor
from blueprints.scheduling.models import Appointment
from blueprints.staff_notifications.digest import next_digest_at, send_digests
from tenants.database import db
from tenants.due import set_next_due
from tenants.features import practice_settings, practice_today

LEFTOVERS_TASK = "automations.deliver_leftovers"
LEFTOVERS_AFTER_SECONDS = 600
FOLLOWUP_WINDOW = timedelta(days=7)  # a follow-up later than this after its due time is dropped
_LOCK = text("SELECT pg_advisory_xact_lock(hashtext(current_schema()), 13)")


def due_reminders(now: datetime) -> list[tuple[Appointment, list[int]]]:
    """Booked appointments not started with reminder offsets due at `now` (each with its due
    offsets), claimed or not: `_claim` decides."""
    settings = message_settings()
    offsets = reminder_offsets(settings)
    if not offsets or not event_on(settings, "reminder"):
        return []
    found = []
    candidates = db.session.scalars(
        select(Appointment)
        .options(
            joinedload(Appointment.client), joinedload(Appointment.clinician), joinedload(Appointment.service)
        )
        .where(
            Appointment.status == "booked",
            Appointment.starts_at > now,
            Appointment.starts_at <= now + timedelta(minutes=offsets[0]),
        )
        .order_by(Appointment.starts_at, Appointment.id)
    )
    for appointment in candidates:
        set_at = appointment.time_set_at or appointment.created_at
        due = [
            offset for offset in offsets if set_at <= appointment.starts_at - timedelta(minutes=offset) <= now
        ]
        if due:
            found.append((appointment, due))
    return found


def _claim(due: list[tuple[Appointment, list[int]]]) -> list[Appointment]:
    """Claim every due (appointment, offset, start) in one INSERT; returns the appointments with at
    least one claim that was not taken before (by an earlier run, a retry or another worker)."""
    if not due:
        return []
    rows = [
        {"appointment_id": appointment.id, "offset_minutes": offset, "starts_at": appointment.starts_at}
        for appointment, offsets in due
        for offset in offsets
    ]
    claimed = set(
        db.session.scalars(
            insert(ReminderSent).values(rows).on_conflict_do_nothing().returning(ReminderSent.appointment_id)
        )
    )
    return [appointment for appointment, _ in due if appointment.id in claimed]


def send_reminders(now: datetime) -> list[OutboxEmail]:
    """Claim and queue the reminders due at `now`; returns the queued emails, for the caller to
    deliver (texts go to their own job)."""
    by_text = message_settings().reminder_channel == "sms" and sms.provider() is not None
    emails: list[dict] = []
    for appointment in _claim(due_reminders(now)):
        client = appointment.client
        if by_text and sms.can_text(client) and not is_minor(client, practice_settings(), practice_today()):
            if sms.queue_sms(client, text_message("reminder", client, appointment)):
                continue
        send_to_client_side("reminder", client, appointment, email_kind="reminder", collect=emails)
    db.session.flush()  # the profile links, in one INSERT
    return queue_email_batch(emails, tried=True)


def queue_followups(now: datetime) -> int:
    """One invitation to rebook per cancelled appointment whose client booked nothing in the
    practice's `followup_days` since (late by more than a week: dropped)."""
    settings = message_settings()
    if not event_on(settings, "cancellation_followup"):
        return 0
    due_before = now - timedelta(days=settings.followup_days)
    cancelled = db.session.scalars(
        select(Appointment).where(
            Appointment.status == "cancelled",
            Appointment.cancelled_at <= due_before,
            Appointment.cancelled_at > due_before - FOLLOWUP_WINDOW,
            ~exists().where(
                ClientNotice.appointment_id == Appointment.id, ClientNotice.event == "cancellation_followup"
            ),
        )
    ).all()
    sent = 0
    for appointment in cancelled:
        booked_since = db.session.scalar(  # a new booking since, or one still to come: no invitation
            select(func.count(Appointment.id)).where(
                Appointment.client_id == appointment.client_id,
                (Appointment.created_at > appointment.cancelled_at)
                | ((Appointment.status == "booked") & (Appointment.starts_at > now)),
            )
        )
        if booked_since:
            continue
        if notify_client("cancellation_followup", appointment.client_id, appointment=appointment):
            sent += 1
    return sent


# The periodic work of features above this one (the waitlist's lapsing holds), each a pair of
# work(now) and due(now) -> the next time it is due (or None); they register, automations runs them.
_MORE_WORK: list[tuple] = []


def register_periodic(work, due) -> None:
    """Run `work(now)` in each practice's periodic work, which is due no later than `due(now)`."""
    if (work, due) not in _MORE_WORK:
        _MORE_WORK.append((work, due))


def next_due(now: datetime) -> datetime | None:
    """When this practice next has a reminder or a follow-up due, after `now` (None: nothing)."""
    settings = message_settings()
    times = []
    for offset in reminder_offsets(settings):
        first = db.session.scalar(
            select(func.min(Appointment.starts_at)).where(
                Appointment.status == "booked",
                Appointment.starts_at > now + timedelta(minutes=offset),
            )
        )
        if first is not None:
            times.append(first - timedelta(minutes=offset))
    if event_on(settings, "cancellation_followup"):
        first_cancel = db.session.scalar(
            select(func.min(Appointment.cancelled_at)).where(
                Appointment.status == "cancelled",
                Appointment.cancelled_at > now - timedelta(days=settings.followup_days),
            )
        )
        if first_cancel is not None:
            times.append(first_cancel + timedelta(days=settings.followup_days))
    digest_at = next_digest_at(now)
    if digest_at is not None:
        times.append(digest_at)
    times += [at for _, due in _MORE_WORK if (at := due(now)) is not None]
    return min(times) if times else None


def run_periodic(now: datetime) -> int:
    """The practice's periodic work at `now` (its own transaction, committed); returns how many
    reminders were delivered."""
    db.session.execute(_LOCK)
    emails = send_reminders(now)
    queue_followups(now)
    send_digests(now)
    for work, _ in _MORE_WORK:
        work(now)
    set_next_due(next_due(now))
    messages, email_ids = _built(emails), [email.id for email in emails]
    if email_ids:  # a safety net, should this process die before the batch is handed over
        jobs.defer_in(LEFTOVERS_TASK, LEFTOVERS_AFTER_SECONDS, email_ids=email_ids)
    db.session.commit()  # claims, links and emails are kept, and the try is on record, before SMTP
    return deliver_built(email_ids, messages)


def _built(emails: list[OutboxEmail]) -> list:
    """The batch's emails in their wire form (the practice's look read once for the batch)."""
    look = email_look() if emails else None
    return [raw_message(email, look=None if email.discreet else look) for email in emails]


def deliver_leftovers(email_ids: list[int]) -> None:
    """Ten minutes after a batch: its emails that were neither sent nor handed to the outbox's own
    job (the worker died before or while talking to SMTP) are handed to it now, with its retries.
    The others are left alone, so no email gets two series of tries."""
    for email_id in db.session.scalars(
        select(OutboxEmail.id).where(
            OutboxEmail.id.in_(email_ids),
            OutboxEmail.sent_at.is_(None),
            OutboxEmail.failed_at.is_(None),
            OutboxEmail.last_error.is_(None),
            OutboxEmail.attempts == 1,
        )
    ):
        jobs.defer(SEND_EMAIL_TASK, email_id=email_id)
    db.session.commit()


def deliver_built(email_ids: list[int], messages: list) -> int:
    """Deliver these emails over one SMTP connection; one that fails goes to the outbox's own job
    (its retries); returns how many were delivered."""
    if not email_ids:
        return 0
    settings = current_app.config["PORTICO"]
    try:
        results = deliver_batch(messages, settings.smtp_url, settings.ensure_data_dir())
    except Exception:  # no connection at all: every one goes to the outbox job and its retries
        results = [RuntimeError("batch delivery failed")] * len(email_ids)
    delivered = []
    for email_id, result in zip(email_ids, results, strict=True):
        if isinstance(result, Exception):  # its own job takes over (the error marks it as handed over)
            db.session.execute(
                update(OutboxEmail)
                .where(OutboxEmail.id == email_id)
                .values(last_error=f"{type(result).__name__}: {result}"[:1000])
                .execution_options(synchronize_session=False)
            )
            jobs.defer(SEND_EMAIL_TASK, email_id=email_id)
        else:
            delivered.append(email_id)
    if delivered:
        db.session.execute(
            update(OutboxEmail)
            .where(OutboxEmail.id.in_(delivered))
            .values(sent_at=func.now(), body_sealed=None, attachment_sealed=None)
            .execution_options(synchronize_session=False)
        )
    db.session.commit()
    return len(delivered)
