"""Appointments: book, move and cancel (for staff and clients alike), group appointments, and the
calendar invites every change sends. Every change runs in the caller's transaction with its invites
queued in it; the database itself refuses a double booking (see `models`), which arrives here as
`SlotTaken`.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta

from blinker import Namespace
from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from app.dates import appointment_date_problem
from app.refusals import Conflict, Problems
from app.timefmt import local_time
from blueprints.auth.models import User
from blueprints.notifications.automated import (
    message_settings,
    note_appointment_time,
    note_cancellation,
    notify_client,
)
from blueprints.notifications.service import queue_email
from blueprints.people.models import Client
from blueprints.scheduling.invites import client_invite
from blueprints.scheduling.models import Appointment, AppointmentRequest, Service
from blueprints.scheduling.operations.availability import rules_for
from blueprints.scheduling.operations.catalog import duration_problem, offers
from blueprints.scheduling.operations.common import audit
from blueprints.scheduling.operations.recipients import clinician_recipient
from blueprints.scheduling.signals import announce_time_freed
from blueprints.scheduling.slots import Rules
from tenants.context import current_practice
from tenants.database import db
from tenants.features import practice_zone

EXCLUSION_VIOLATION = "23P01"
MAX_ALERT = 1000
TAKEN = "That time was just taken. Please choose another."
# Sent (sender: the Appointment) in the booking's transaction, whoever booked it; a higher package
# (billing) listens without scheduling knowing of it.
appointment_booked = Namespace().signal("appointment-booked")
STALE = "Someone else changed this appointment first. Nothing was changed: reload it and try again."


class SchedulingError(Conflict):
    """A scheduling rule refused the change (409: the time or the appointment is not as it was)."""


class SlotTaken(SchedulingError):
    """Someone else has that time (the database refused the overlap)."""


class StaleAppointment(SchedulingError):
    """The appointment changed since it was read: nothing was overwritten."""


def local_instant(day: date, wall: time, field_name: str = "at_time") -> datetime:
    """The UTC instant of a wall-clock time in the practice's zone; a time the clocks skip is refused."""
    zone = practice_zone()
    moment = datetime.combine(day, wall, tzinfo=zone)
    if moment.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != moment.replace(tzinfo=None):
        raise Problems(
            {field_name: "That time does not exist on that day (the clocks change). Choose another."}
        )
    return moment.astimezone(UTC)


def starts_at_problem(starts_at: datetime) -> str | None:
    """Why an appointment may not start at `starts_at`: its day in the practice's zone lies outside
    the dates people may book (`app.dates.appointment_window`); else None."""
    try:
        day = starts_at.astimezone(practice_zone()).date()
    except (OverflowError, ValueError):  # beyond the years a datetime can hold in that zone
        day = date.min if starts_at.year < 2000 else date.max
    return appointment_date_problem(day)


def check_starts_at(starts_at: datetime, field_name: str = "starts_at") -> None:
    problem = starts_at_problem(starts_at)
    if problem:
        raise Problems({field_name: problem})


def alert_text(alert: str | None) -> str | None:
    """A staff alert as stored (blank: none); too long is refused."""
    alert = (alert or "").strip() or None
    if alert is not None and len(alert) > MAX_ALERT:
        raise Problems({"alert": f"Use at most {MAX_ALERT} characters."})
    return alert


def _block(rules: Rules, starts_at: datetime, ends_at: datetime) -> tuple[datetime, datetime]:
    return starts_at - rules.buffer_before, ends_at + rules.buffer_after


def flush_guarded(taken: str = TAKEN) -> None:
    """Flush inside a savepoint, turning the database's refusals into scheduling errors (`taken`:
    what a refused overlap means for the change at hand)."""
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError as error:
        if getattr(error.orig, "sqlstate", None) == EXCLUSION_VIOLATION:
            raise SlotTaken(taken) from None
        if "uq_appointment_requests_pending" in str(error.orig):
            raise SchedulingError(
                "A request for this appointment is already waiting for the practice."
            ) from None
        raise
    except StaleDataError:
        raise StaleAppointment(STALE) from None


def _new_uid() -> str:
    return f"{uuid.uuid4()}@{current_app.config['PORTICO'].base_host}"



def booking_problems(clinician: User, service: Service, duration_minutes) -> dict[str, str]:
    """What stops `clinician` giving `service` for this long (form field -> message): one booking's
    checks, and each date's of a series."""
    problems = {}
    if not service.is_active:
        problems["service_id"] = "That service is no longer offered."
    elif not offers(clinician.id, service):
        problems["service_id"] = f"{clinician.name} does not offer {service.name}."
    if duration_problem(duration_minutes):
        problems["duration_minutes"] = duration_problem(duration_minutes)
    return problems

def new_appointment_values(
    client: Client, clinician: User, service: Service, starts_at: datetime, minutes: int
) -> dict:
    """The columns every new appointment row starts with: who, what, its time (checked, in UTC),
    the block it takes with the clinician's buffers, and a new calendar UID. Booking (`book`) and
    holding a time (`holds.hold_time`) both build their row from it."""
    check_starts_at(starts_at)
    starts_at = starts_at.astimezone(UTC)
    ends_at = starts_at + timedelta(minutes=minutes)
    block_start, block_end = _block(rules_for(clinician.id), starts_at, ends_at)
    return {
        "client_id": client.id,
        "clinician_user_id": clinician.id,
        "service_id": service.id,
        "service_code": service.service_code,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "block_starts_at": block_start,
        "block_ends_at": block_end,
        "ics_uid": _new_uid(),
    }


def book(
    client: Client,
    clinician: User,
    service: Service,
    starts_at: datetime,
    *,
    duration_minutes: int | None = None,
    alert: str | None = None,
    notify: bool = True,
    taken: str = TAKEN,
    by: str = "staff",
    series_id: int | None = None,
) -> Appointment:
    """Book `client` with `clinician` (who must offer `service`); both get an invite unless `notify`
    is off (`by`: "client" or "staff", whose switch decides the client's message; `series_id`: the
    recurring series it is an occurrence of). No audit line:
    the operation that calls this one writes it (or, seeding, nobody)."""
    if not offers(clinician.id, service):
        raise SchedulingError(f"{clinician.name} does not offer {service.name}.")
    minutes = duration_minutes or service.duration_minutes
    appointment = Appointment(
        **new_appointment_values(client, clinician, service, starts_at, minutes),
        duration_overridden=minutes != service.duration_minutes,
        alert=alert,
        series_id=series_id,
    )
    db.session.add(appointment)
    flush_guarded(taken)
    note_appointment_time(appointment.starts_at)
    if notify:
        send_invites(appointment, by=by)
    appointment_booked.send(appointment)
    return appointment


def move(
    appointment: Appointment,
    starts_at: datetime,
    *,
    expected_version: int | None = None,
    duration_minutes: int | None = None,
    notify: bool = True,
    taken: str = TAKEN,
    by: str = "staff",
) -> Appointment:
    """Move (and optionally resize) an appointment; same clinician, same event for calendars.

    A group moves as one: moving its primary row moves every member; a member alone cannot move.
    """
    if appointment.status != "booked":
        raise SchedulingError("This appointment was cancelled.")
    if expected_version is not None and expected_version != appointment.version:
        raise StaleAppointment(STALE)
    if appointment.group_id is not None and not appointment.is_group_primary:
        raise SchedulingError(
            "This is part of a group appointment: move the group from its primary appointment."
        )
    check_starts_at(starts_at)
    for member in group_members(appointment)[1:]:  # the primary's members, moved alongside it
        _move_row(member, starts_at, duration_minutes, notify, taken, by)
    return _move_row(appointment, starts_at, duration_minutes, notify, taken, by)


def _move_row(appointment, starts_at: datetime, duration_minutes, notify: bool, taken: str, by: str):
    minutes = duration_minutes or int((appointment.ends_at - appointment.starts_at).total_seconds() // 60)
    told = (appointment.status, appointment.starts_at)
    was = (appointment.starts_at, appointment.ends_at)
    appointment.starts_at = starts_at.astimezone(UTC)
    appointment.time_set_at = datetime.now(UTC)
    appointment.ends_at = appointment.starts_at + timedelta(minutes=minutes)
    appointment.block_starts_at, appointment.block_ends_at = _block(
        rules_for(appointment.clinician_user_id), appointment.starts_at, appointment.ends_at
    )
    if duration_minutes is not None and duration_minutes != appointment.service.duration_minutes:
        appointment.duration_overridden = True
    appointment.ics_sequence += 1
    flush_guarded(taken)
    note_appointment_time(appointment.starts_at)
    if notify:
        send_invites(appointment, by=by, told=told)
    if holds_time(appointment):
        announce_time_freed(appointment.clinician_user_id, *was)
    return appointment


def cancel(
    appointment: Appointment, *, expected_version: int | None = None, notify: bool = True, by: str = "staff"
) -> None:
    if appointment.status != "booked":
        return
    if expected_version is not None and expected_version != appointment.version:
        raise StaleAppointment(STALE)
    # Cancelling a group's primary row cancels the session for everyone (its members hold no time).
    rows = group_members(appointment) if appointment.is_group_primary else [appointment]
    for row in rows:
        row.status = "cancelled"
        row.cancelled_at = func.now()
        row.ics_sequence += 1
    flush_guarded()
    note_cancellation()
    if notify:
        for row in rows:
            send_invites(row, cancelled=True, by=by, told=("booked", row.starts_at))
    for row in rows:
        if holds_time(row):
            announce_time_freed(row.clinician_user_id, row.starts_at, row.ends_at)


def holds_time(appointment: Appointment) -> bool:
    """Whether this row holds its clinician's time (a group's members do not: its primary does)."""
    return appointment.group_id is None or appointment.is_group_primary


def send_invites(
    appointment: Appointment, cancelled: bool = False, by: str = "staff", told: tuple = (None, None)
) -> None:
    """Email the clinician an .ics of this appointment's current state at once, and queue the client
    side's automated message (`notifications.automated`: held, collapsed per appointment, sent with
    its own invite unless discreet, when the practice has that event switched on for `by`)."""
    clinician = appointment.clinician
    stamp = datetime.now(UTC).replace(microsecond=0)
    verb = "cancelled" if cancelled else ("updated" if appointment.ics_sequence else "booked")
    discreet = message_settings().discreet_mode
    for person in clinician_recipient(clinician):
        when = local_time(appointment.starts_at, person.zone, "long")
        queue_email(
            person.address,
            f"Appointment {verb}: {when}",
            f"{appointment.service.name} with {appointment.client.first_name}\n{when}\n"
            f"Times are shown in {person.zone.key}.\n\n"
            f"The attached invite keeps your calendar in step.\n\n{current_practice().name}\n",
            attachment=client_invite(appointment, person, cancelled, stamp, discreet),
        )
    kind = "cancelled" if cancelled else ("booked" if told[0] is None else "rescheduled")
    notify_client(kind, appointment.client_id, by=by, appointment=appointment, told=told)


# --- Group appointments: one row per client sharing a group_id; the primary row holds the time ----


def group_members(appointment: Appointment) -> list[Appointment]:
    """The booked rows of `appointment`'s group, primary first (just itself when it is not in one)."""
    if appointment.group_id is None:
        return [appointment]
    return list(
        db.session.scalars(
            select(Appointment)
            .where(Appointment.group_id == appointment.group_id, Appointment.status == "booked")
            .order_by(Appointment.is_group_primary.desc(), Appointment.id)
        )
    )


def add_to_group(appointment: Appointment, client: Client, *, notify: bool = True) -> Appointment:
    """Add `client` to `appointment`'s group (making it a group led by this appointment's client).
    No audit line: `add_client_to_group` writes it (or, seeding, nobody)."""
    if appointment.status != "booked":
        raise SchedulingError("This appointment was cancelled.")
    if appointment.series_id is not None:
        raise SchedulingError("An appointment of a recurring series cannot become a group appointment.")
    members = group_members(appointment)
    primary = members[0]
    if any(member.client_id == client.id for member in members):
        raise SchedulingError(f"{client.display_name} is already in this appointment.")
    if primary.group_id is None:
        primary.group_id, primary.is_group_primary = primary.id, True
    member = Appointment(
        client_id=client.id,
        clinician_user_id=primary.clinician_user_id,
        service_id=primary.service_id,
        service_code=primary.service_code,
        starts_at=primary.starts_at,
        ends_at=primary.ends_at,
        block_starts_at=primary.block_starts_at,
        block_ends_at=primary.block_ends_at,
        duration_overridden=primary.duration_overridden,
        group_id=primary.group_id,
        is_group_primary=False,
        ics_uid=_new_uid(),
    )
    db.session.add(member)
    flush_guarded()
    if notify:
        send_invites(member)
    return member


# --- Staff changes from the calendar -------------------------------------------------------------


def create_appointment(
    actor: User,
    client: Client,
    clinician: User,
    chosen: Service,
    on_date: date,
    at_time: time,
    *,
    duration_minutes: int | None = None,
    alert: str | None = None,
) -> Appointment:
    """Book `client` (whom `actor` may see) with `clinician` at a time in the practice's zone; client
    and clinician get an invite."""
    problems = booking_problems(clinician, chosen, duration_minutes)
    if appointment_date_problem(on_date):
        problems["on_date"] = appointment_date_problem(on_date)
    if problems:
        raise Problems(problems)
    taken = (
        f"{clinician.name} already has an appointment at that time (buffers included). "
        "Nothing was booked. Please choose another time."
    )
    appointment = book(
        client,
        clinician,
        chosen,
        local_instant(on_date, at_time),
        duration_minutes=duration_minutes,
        alert=alert_text(alert),
        taken=taken,
    )
    audit(actor, "booked appointment", client.id, detail=f"with {clinician.name}")
    return appointment


def move_appointment(
    actor: User, appointment: Appointment, on_date: date, at_time: time, *, version: int, duration_minutes
) -> Appointment:
    problems = {}
    if appointment_date_problem(on_date):
        problems["on_date"] = appointment_date_problem(on_date)
    if duration_problem(duration_minutes):
        problems["duration_minutes"] = duration_problem(duration_minutes)
    if problems:
        raise Problems(problems)
    starts_at = local_instant(on_date, at_time)
    if appointment.status != "booked":
        raise SchedulingError("This appointment was cancelled, so it cannot be moved.")
    taken = (
        "That time is already taken for this clinician (buffers included). "
        "The appointment was not moved. Please choose another time."
    )
    move(appointment, starts_at, expected_version=version, duration_minutes=duration_minutes, taken=taken)
    audit(actor, "moved appointment", appointment.client_id)
    return appointment


def add_client_to_group(actor: User, appointment: Appointment, client: Client) -> Appointment:
    """Staff add `client` (whom `actor` may see) to `appointment`, making it a group appointment; the
    new member gets an invite."""
    member = add_to_group(appointment, client)
    audit(actor, "added a client to a group", client.id, detail=f"appointment {appointment.id}")
    return member


def cancel_appointment(actor: User, appointment: Appointment, *, version: int) -> None:
    """Cancel (client and clinician get a CANCEL invite); its pending requests lapse as withdrawn."""
    if appointment.status != "booked":
        raise SchedulingError("This appointment was already cancelled.")
    cancel(appointment, expected_version=version)
    for item in db.session.scalars(
        select(AppointmentRequest).where(
            AppointmentRequest.appointment_id == appointment.id, AppointmentRequest.status == "pending"
        )
    ):
        item.status = "withdrawn"
        item.decided_at = func.now()
    db.session.flush()
    audit(actor, "cancelled appointment", appointment.client_id)
