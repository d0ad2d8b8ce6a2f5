"""Scheduling rules: free slots, booking, moving and cancelling appointments, and what a client may
do with their own. Every change runs in the caller's transaction with its invites queued in it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from app.refusals import Conflict
from blueprints.auth.models import User
from blueprints.notifications.service import queue_email
from blueprints.people.models import Client
from blueprints.scheduling.invites import invite
from blueprints.scheduling.models import (
    Appointment,
    AppointmentRequest,
    AvailabilityException,
    AvailabilityRule,
    ClinicianSchedule,
    Service,
    ServiceClinician,
)
from blueprints.scheduling.slots import Exception_, Rules, free_slots
from tenants.context import current_practice
from tenants.database import db
from tenants.features import PracticeSettings, practice_settings

EXCLUSION_VIOLATION = "23P01"


class SchedulingError(Conflict):
    """A scheduling rule refused the change (409: the time or the appointment is not as it was)."""


class SlotTaken(SchedulingError):
    """Someone else has that time (the database refused the overlap)."""


class StaleAppointment(SchedulingError):
    """The appointment changed since it was read: nothing was overwritten."""


def _now() -> datetime:
    return datetime.now(UTC)


def rules_for(clinician_id: int, settings: PracticeSettings | None = None) -> Rules:
    """The clinician's scheduling rules: their own hours if they keep them, else the practice's."""
    settings = settings or practice_settings()
    own = db.session.get(ClinicianSchedule, clinician_id)
    owner = clinician_id if own is not None and own.uses_own_hours else None
    weekly: dict[int, list] = {}
    for rule in db.session.scalars(
        select(AvailabilityRule)
        .where(
            AvailabilityRule.clinician_user_id.is_(None)
            if owner is None
            else AvailabilityRule.clinician_user_id == owner
        )
        .order_by(AvailabilityRule.weekday, AvailabilityRule.start_time)
    ):
        weekly.setdefault(rule.weekday, []).append((rule.start_time, rule.end_time))
    exceptions = [
        Exception_(e.on_date, e.kind, e.start_time, e.end_time)
        for e in db.session.scalars(
            select(AvailabilityException).where(
                or_(
                    AvailabilityException.clinician_user_id.is_(None),
                    AvailabilityException.clinician_user_id == clinician_id,
                )
            )
        )
    ]

    def pick(override, default):
        return default if override is None else override

    return Rules(
        time_zone=settings.time_zone or "UTC",
        weekly_hours=weekly,
        exceptions=exceptions,
        buffer_before=timedelta(
            minutes=pick(own and own.buffer_before_minutes, settings.buffer_before_minutes)
        ),
        buffer_after=timedelta(minutes=pick(own and own.buffer_after_minutes, settings.buffer_after_minutes)),
        min_notice=timedelta(hours=pick(own and own.min_notice_hours, settings.min_notice_hours)),
        horizon=timedelta(days=pick(own and own.horizon_days, settings.booking_horizon_days)),
    )


def busy_for(clinician_id: int, start: datetime, end: datetime, ignore_id: int | None = None):
    query = select(Appointment.block_starts_at, Appointment.block_ends_at).where(
        Appointment.clinician_user_id == clinician_id,
        Appointment.status == "booked",
        or_(Appointment.group_id.is_(None), Appointment.is_group_primary.is_(True)),  # rows holding time
        Appointment.block_ends_at > start,
        Appointment.block_starts_at < end,
    )
    if ignore_id is not None:
        query = query.where(Appointment.id != ignore_id)
    return [(row.block_starts_at, row.block_ends_at) for row in db.session.execute(query)]


def available_slots(
    clinician_id: int, service: Service, now: datetime | None = None, ignore_id: int | None = None
) -> list[datetime]:
    now = now or _now()
    rules = rules_for(clinician_id)
    busy = busy_for(clinician_id, now - timedelta(days=1), now + rules.horizon + timedelta(days=1), ignore_id)
    return free_slots(rules, timedelta(minutes=service.duration_minutes), busy, now)


def offers(clinician_id: int, service: Service) -> bool:
    return db.session.get(ServiceClinician, (service.id, clinician_id)) is not None


def _block(rules: Rules, starts_at: datetime, ends_at: datetime) -> tuple[datetime, datetime]:
    return starts_at - rules.buffer_before, ends_at + rules.buffer_after


def _flush_guarded() -> None:
    """Flush inside a savepoint, turning the database's refusals into scheduling errors."""
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError as error:
        if getattr(error.orig, "sqlstate", None) == EXCLUSION_VIOLATION:
            raise SlotTaken("That time was just taken. Please choose another.") from None
        if "uq_appointment_requests_pending" in str(error.orig):
            raise SchedulingError(
                "A request for this appointment is already waiting for the practice."
            ) from None
        raise
    except StaleDataError:
        raise StaleAppointment("Someone else changed this appointment first. Please reload.") from None


def book(
    client: Client,
    clinician: User,
    service: Service,
    starts_at: datetime,
    *,
    duration_minutes: int | None = None,
    alert: str | None = None,
    notify: bool = True,
) -> Appointment:
    if not offers(clinician.id, service):
        raise SchedulingError(f"{clinician.name} does not offer {service.name}.")
    starts_at = starts_at.astimezone(UTC)
    minutes = duration_minutes or service.duration_minutes
    ends_at = starts_at + timedelta(minutes=minutes)
    block_start, block_end = _block(rules_for(clinician.id), starts_at, ends_at)
    appointment = Appointment(
        client_id=client.id,
        clinician_user_id=clinician.id,
        service_id=service.id,
        service_code=service.service_code,
        starts_at=starts_at,
        ends_at=ends_at,
        block_starts_at=block_start,
        block_ends_at=block_end,
        duration_overridden=minutes != service.duration_minutes,
        alert=alert,
        ics_uid=f"{uuid.uuid4()}@{current_app.config['PORTICO'].base_host}",
    )
    db.session.add(appointment)
    _flush_guarded()
    if notify:
        send_invites(appointment)
    return appointment


def move(
    appointment: Appointment,
    starts_at: datetime,
    *,
    expected_version: int | None = None,
    duration_minutes: int | None = None,
    notify: bool = True,
) -> Appointment:
    """Move (and optionally resize) an appointment; same clinician, same event for calendars.

    A group moves as one: moving its primary row moves every member; a member alone cannot move.
    """
    if appointment.status != "booked":
        raise SchedulingError("This appointment was cancelled.")
    if expected_version is not None and expected_version != appointment.version:
        raise StaleAppointment("Someone else changed this appointment first. Please reload.")
    if appointment.group_id is not None and not appointment.is_group_primary:
        raise SchedulingError(
            "This is part of a group appointment: move the group from its primary appointment."
        )
    for member in group_members(appointment)[1:]:  # the primary's members, moved alongside it
        _move_row(member, starts_at, duration_minutes, notify)
    return _move_row(appointment, starts_at, duration_minutes, notify)


def _move_row(appointment: Appointment, starts_at: datetime, duration_minutes: int | None, notify: bool):
    minutes = duration_minutes or int((appointment.ends_at - appointment.starts_at).total_seconds() // 60)
    appointment.starts_at = starts_at.astimezone(UTC)
    appointment.ends_at = appointment.starts_at + timedelta(minutes=minutes)
    appointment.block_starts_at, appointment.block_ends_at = _block(
        rules_for(appointment.clinician_user_id), appointment.starts_at, appointment.ends_at
    )
    if duration_minutes is not None and duration_minutes != appointment.service.duration_minutes:
        appointment.duration_overridden = True
    appointment.ics_sequence += 1
    _flush_guarded()
    if notify:
        send_invites(appointment)
    return appointment


def cancel(appointment: Appointment, *, expected_version: int | None = None, notify: bool = True) -> None:
    if appointment.status != "booked":
        return
    if expected_version is not None and expected_version != appointment.version:
        raise StaleAppointment("Someone else changed this appointment first. Please reload.")
    # Cancelling a group's primary row cancels the session for everyone (its members hold no time).
    rows = group_members(appointment) if appointment.is_group_primary else [appointment]
    for row in rows:
        row.status = "cancelled"
        row.cancelled_at = func.now()
        row.ics_sequence += 1
    _flush_guarded()
    if notify:
        for row in rows:
            send_invites(row, cancelled=True)


def reschedule_refusal(
    appointment: Appointment,
    is_group_primary_contact: bool = False,
    settings: PracticeSettings | None = None,
    now: datetime | None = None,
) -> str | None:
    """Why a client may not move this appointment themselves, or None.

    Besides DESIGN's three reasons: nothing that has started moves, and with `settings` the
    cancellation window applies too (moving an appointment away is cancelling its time).
    """
    now = now or _now()
    if appointment.starts_at <= now:
        return "This appointment has already started or taken place."
    if settings is not None and appointment.starts_at - now < timedelta(
        hours=settings.cancellation_window_hours
    ):
        return (
            f"Appointments can be moved online up to {settings.cancellation_window_hours} hours before they "
            "start. Please contact the practice."
        )
    if appointment.duration_overridden:
        return "This appointment's length was set by the practice, so it can only be moved by the practice."
    if not appointment.service.bookable_online:
        return "This kind of appointment cannot be booked online, so it can only be moved by the practice."
    if appointment.group_id is not None and not (appointment.is_group_primary and is_group_primary_contact):
        return "This is a group appointment; only the group's primary contact can move it."
    return None


def cancellation_refusal(appointment: Appointment, settings: PracticeSettings, now: datetime | None = None):
    """Why a client may not cancel now (inside the cancellation window), or None."""
    now = now or _now()
    if (
        appointment.group_id is not None
        and appointment.is_group_primary
        and len(group_members(appointment)) > 1
    ):
        return "This is a group appointment you lead; please contact the practice to cancel it for everyone."
    window = timedelta(hours=settings.cancellation_window_hours)
    if appointment.starts_at - now < window:
        return (
            f"Appointments can be cancelled online up to {settings.cancellation_window_hours} hours "
            "before they start. Please contact the practice."
        )
    return None


def upcoming_for_client(client_id: int, now: datetime | None = None) -> list[Appointment]:
    return list(
        db.session.scalars(
            select(Appointment)
            .where(
                and_(
                    Appointment.client_id == client_id,
                    Appointment.status == "booked",
                    Appointment.ends_at > (now or _now()),
                )
            )
            .order_by(Appointment.starts_at)
        )
    )


def send_invites(appointment: Appointment, cancelled: bool = False) -> None:
    """Email the client and the clinician an .ics for this appointment's current state."""
    practice = current_practice()
    settings = practice_settings()
    client, clinician = appointment.client, appointment.clinician
    summary = f"{appointment.service.name} with {clinician.name}"
    recipients = [address for address in (client.email, clinician.email) if address]
    ics = invite(
        uid=appointment.ics_uid,
        sequence=appointment.ics_sequence,
        starts_at=appointment.starts_at,
        ends_at=appointment.ends_at,
        time_zone=settings.time_zone or "UTC",
        summary=summary,
        organizer_email=settings.contact_email or clinician.email,
        attendee_emails=recipients,
        cancelled=cancelled,
        location=practice.name,
    )
    method = "CANCEL" if cancelled else "REQUEST"
    local = appointment.starts_at.astimezone(ZoneInfo(client.time_zone or settings.time_zone or "UTC"))
    when = local.strftime("%A %d %B %Y, %H:%M %Z")
    verb = "cancelled" if cancelled else ("updated" if appointment.ics_sequence else "booked")
    for address in recipients:
        queue_email(
            address,
            f"Appointment {verb}: {when}",
            f"{summary}\n{when}\n\nThe attached invite keeps your calendar in step.\n\n{practice.name}\n",
            attachment=("invite.ics", f"text/calendar; method={method}", ics),
        )


# --- Group appointments: one row per client sharing a group_id; the primary row holds the time ----


def group_members(appointment: Appointment) -> list[Appointment]:
    """The booked rows of `appointment`'s group (just itself when it is not in one)."""
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
    """Add `client` to `appointment`'s group (making it a group led by this appointment's client)."""
    if appointment.status != "booked":
        raise SchedulingError("This appointment was cancelled.")
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
        ics_uid=f"{uuid.uuid4()}@{current_app.config['PORTICO'].base_host}",
    )
    db.session.add(member)
    _flush_guarded()
    if notify:
        send_invites(member)
    return member


# --- Appointment requests (online requests on, self-scheduling off) ---------------------------


def request_new(
    client: Client, clinician: User, service: Service, starts_at: datetime, *, requested_by: User | None
) -> AppointmentRequest:
    starts_at = starts_at.astimezone(UTC)
    has_history = db.session.scalar(
        select(func.count()).select_from(Appointment).where(Appointment.client_id == client.id)
    )
    request = AppointmentRequest(
        kind="new",
        client_id=client.id,
        clinician_user_id=clinician.id,
        service_id=service.id,
        requested_starts_at=starts_at,
        requested_ends_at=starts_at + timedelta(minutes=service.duration_minutes),
        new_client=not has_history,
        requested_by_user_id=requested_by.id if requested_by else None,
    )
    db.session.add(request)
    db.session.flush()
    return request


def request_change(
    appointment: Appointment, kind: str, *, starts_at: datetime | None = None, requested_by: User | None
) -> AppointmentRequest:
    """A Reschedule or Cancellation request; the appointment keeps its time until approved."""
    if kind not in ("reschedule", "cancellation"):
        raise ValueError(kind)
    pending = db.session.scalars(
        select(AppointmentRequest).where(
            AppointmentRequest.appointment_id == appointment.id, AppointmentRequest.status == "pending"
        )
    ).first()
    if pending is not None:
        raise SchedulingError("A request for this appointment is already waiting for the practice.")
    duration = appointment.ends_at - appointment.starts_at
    request = AppointmentRequest(
        kind=kind,
        client_id=appointment.client_id,
        clinician_user_id=appointment.clinician_user_id,
        service_id=appointment.service_id,
        appointment_id=appointment.id,
        requested_starts_at=starts_at.astimezone(UTC) if starts_at else None,
        requested_ends_at=(starts_at.astimezone(UTC) + duration) if starts_at else None,
        requested_by_user_id=requested_by.id if requested_by else None,
    )
    db.session.add(request)
    _flush_guarded()
    return request


def expire_past_requests(now: datetime | None = None) -> int:
    """Pending requests whose requested (or original) time has passed become expired."""
    now = now or _now()
    expired = 0
    for request in db.session.scalars(
        select(AppointmentRequest).where(AppointmentRequest.status == "pending")
    ):
        moment = request.requested_starts_at or (
            request.appointment.starts_at if request.appointment else None
        )
        if moment is not None and moment <= now:
            request.status = "expired"
            request.decided_at = now
            expired += 1
    db.session.flush()
    return expired


def approve_request(
    request: AppointmentRequest,
    decided_by: User,
    *,
    service: Service | None = None,
    service_code: str | None = None,
    duration_minutes: int | None = None,
    alert: str | None = None,
) -> Appointment | None:
    """Carry out a pending request, with the staff member's changes; the client is emailed."""
    if request.status != "pending":
        raise SchedulingError("This request was already handled.")
    if request.requested_starts_at is not None and request.requested_starts_at <= _now():
        raise SchedulingError("The requested time has passed; the request can no longer be approved.")
    changes = []
    appointment = None
    if request.kind == "new":
        chosen = service or request.service
        if chosen.id != request.service_id:
            changes.append(f"service: {request.service.name} -> {chosen.name}")
        appointment = book(
            request.client,
            request.clinician,
            chosen,
            request.requested_starts_at,
            duration_minutes=duration_minutes,
            alert=alert,
        )
        if duration_minutes and duration_minutes != request.service.duration_minutes:
            changes.append(f"length: {duration_minutes} minutes")
        if service_code and service_code != appointment.service_code:
            appointment.service_code = service_code
            changes.append(f"service code: {service_code}")
    elif request.kind == "reschedule":
        appointment = move(
            request.appointment, request.requested_starts_at, duration_minutes=duration_minutes
        )
    else:
        cancel(request.appointment)
        appointment = request.appointment
    request.status = "approved"
    request.decided_at = func.now()
    request.decided_by_user_id = decided_by.id
    _notify_decision(request, "approved", changes)
    return appointment


def decline_request(
    request: AppointmentRequest, decided_by: User, *, notify: bool = False, message: str | None = None
) -> None:
    if request.status != "pending":
        raise SchedulingError("This request was already handled.")
    request.status = "declined"
    request.decided_at = func.now()
    request.decided_by_user_id = decided_by.id
    request.decline_message = message if notify else None
    if notify:
        _notify_decision(request, "declined", [message] if message else [])


def withdraw_request(request: AppointmentRequest) -> None:
    if request.status == "pending":
        request.status = "withdrawn"
        request.decided_at = func.now()


def _notify_decision(request: AppointmentRequest, outcome: str, changes: list[str]) -> None:
    client = request.client
    if not client.email:
        return
    practice = current_practice()
    kinds = {
        "new": "appointment request",
        "reschedule": "reschedule request",
        "cancellation": "cancellation request",
    }
    lines = [f"Your {kinds[request.kind]} was {outcome}."]
    if request.requested_starts_at is not None:
        zone = ZoneInfo(client.time_zone or practice_settings().time_zone or "UTC")
        lines.append(
            "Time: " + request.requested_starts_at.astimezone(zone).strftime("%A %d %B %Y, %H:%M %Z")
        )
    if changes:
        lines.append("Changed by the practice: " + "; ".join(changes))
    queue_email(client.email, f"{practice.name}: {kinds[request.kind]} {outcome}", "\n".join(lines) + "\n")


# --- What a client may do, under the practice's toggles ----------------------------------------


def booking_mode(enabled) -> str | None:
    """ "book" (self-scheduling), "request" (online requests), or None; `enabled(feature)` -> bool."""
    if enabled("self_scheduling"):
        return "book"
    if enabled("online_requests"):
        return "request"
    return None


def reschedule_mode(enabled) -> str | None:
    if enabled("self_rescheduling"):
        return "book"
    if enabled("online_requests"):
        return "request"
    return None


def cancel_mode(enabled) -> str | None:
    if not enabled("client_cancellation"):
        return None
    return "book" if enabled("self_scheduling") else "request"


def bookable_services() -> list[Service]:
    return list(
        db.session.scalars(
            select(Service)
            .where(Service.is_active.is_(True), Service.bookable_online.is_(True))
            .order_by(Service.name)
        )
    )


def clinician_choices(client: Client, service: Service, settings: PracticeSettings) -> list[User]:
    """The client's own clinicians who offer `service`; or, for a client without clinicians in a
    practice that lets new clients choose, everyone who offers it."""
    from blueprints.people.models import ClientClinician

    offering = (
        select(User)
        .join(ServiceClinician, ServiceClinician.user_id == User.id)
        .where(ServiceClinician.service_id == service.id, User.is_active_account.is_(True))
    )
    own = list(
        db.session.scalars(
            offering.join(ClientClinician, ClientClinician.user_id == User.id)
            .where(ClientClinician.client_id == client.id)
            .order_by(User.name)
        )
    )
    if own:
        return own
    has_clinicians = db.session.scalar(
        select(func.count()).select_from(ClientClinician).where(ClientClinician.client_id == client.id)
    )
    if not has_clinicians and settings.new_clients_choose_clinician:
        return list(db.session.scalars(offering.order_by(User.name)))
    return []


def past_for_client(client_id: int, now: datetime | None = None, limit: int = 20) -> list[Appointment]:
    return list(
        db.session.scalars(
            select(Appointment)
            .where(Appointment.client_id == client_id, Appointment.ends_at <= (now or _now()))
            .order_by(Appointment.starts_at.desc())
            .limit(limit)
        )
    )


def pending_requests_for_client(client_id: int) -> list[AppointmentRequest]:
    return list(
        db.session.scalars(
            select(AppointmentRequest)
            .where(AppointmentRequest.client_id == client_id, AppointmentRequest.status == "pending")
            .order_by(AppointmentRequest.requested_at)
        )
    )
