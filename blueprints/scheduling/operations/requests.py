"""Appointment requests (online requests on, self-scheduling off): a New, Reschedule or Cancellation
request waits until staff approve it (with their changes) or decline it; one whose time passes
expires. The client (a minor's guardians and own login: `recipients`) is emailed the decision (a
decline only when staff say so)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from app.dates import appointment_date_problem
from app.refusals import Problems
from blueprints.auth.models import User
from blueprints.notifications.automated import notify_client
from blueprints.people.models import Client
from blueprints.scheduling.models import Appointment, AppointmentRequest, Service
from blueprints.scheduling.operations.appointments import (
    SchedulingError,
    alert_text,
    book,
    cancel,
    flush_guarded,
    move,
)
from blueprints.scheduling.operations.catalog import duration_problem, offers
from blueprints.scheduling.operations.common import audit
from blueprints.scheduling.operations.visibility import visible_requests
from blueprints.staff_notifications.service import notify_staff, register_kind
from tenants.database import db
from tenants.features import practice_today, practice_zone

REQUEST_KINDS = {"new": "New", "reschedule": "Reschedule", "cancellation": "Cancellation"}
REQUEST_STATUSES = ("pending", "approved", "declined", "withdrawn", "expired")
DEFAULT_REQUEST_DAYS = 365
MAX_DECLINE_MESSAGE = 2000
# Who changed an appointment by approving a request: the client hears of it from the decision's own
# message (which carries the invite), so no booked/rescheduled/cancelled message is switched on for it.
DECIDED = "request"
TAKEN = (
    "That time is already taken for this clinician (buffers included). "
    "The request is still pending: decline it, or book another time."
)
NEW_REQUEST = "appointment_request"
register_kind(NEW_REQUEST, "New appointment request", "A client asked for an appointment change or booking.")


def _tell_staff(request: AppointmentRequest, client: Client, requested_by: User | None) -> None:
    """Staff who may see the client hear of the request (but the staff member who made it)."""
    notify_staff(
        NEW_REQUEST,
        client,
        "scheduling.request_detail",
        {"request_id": request.id},
        exclude_user_id=requested_by.id if requested_by else None,
    )


def request_new(
    client: Client, clinician: User, service: Service, starts_at: datetime, *, requested_by: User | None
) -> AppointmentRequest:
    starts_at = starts_at.astimezone(UTC)
    has_history = db.session.scalar(
        select(func.count())
        .select_from(Appointment)
        .where(Appointment.client_id == client.id, Appointment.status != "held")
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
    _tell_staff(request, client, requested_by)
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
    flush_guarded()
    _tell_staff(request, appointment.client, requested_by)
    return request


def expire_past_requests(now: datetime | None = None) -> int:
    """Pending requests whose requested (or original) time has passed become expired."""
    now = now or datetime.now(UTC)
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


def requests_of(appointment: Appointment) -> list[AppointmentRequest]:
    return list(
        db.session.scalars(
            select(AppointmentRequest)
            .where(AppointmentRequest.appointment_id == appointment.id)
            .order_by(AppointmentRequest.requested_at.desc())
        )
    )


# --- The staff list ------------------------------------------------------------------------------


@dataclass
class RequestFilters:
    status: str = "pending"  # or "all"
    kind: str = "all"
    clinician_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None


def default_filters() -> RequestFilters:
    today = practice_today()
    return RequestFilters(date_from=today - timedelta(days=DEFAULT_REQUEST_DAYS), date_to=today)


def filter_problems(filters: RequestFilters) -> dict[str, str]:
    problems = {}
    if filters.status != "all" and filters.status not in REQUEST_STATUSES:
        problems["status"] = "Choose a status from the list."
    if filters.kind != "all" and filters.kind not in REQUEST_KINDS:
        problems["kind"] = "Choose a type from the list."
    for name in ("date_from", "date_to"):
        day = getattr(filters, name)
        if day is not None and appointment_date_problem(day):
            problems[name] = appointment_date_problem(day)
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        problems.setdefault("date_to", "The end of the range must not be before its start.")
    return problems


def list_requests(staff: User, filters: RequestFilters) -> list[AppointmentRequest]:
    """The requests `staff` may see that match `filters` (date range: when they were made); those
    whose time passed are marked expired first."""
    expire_past_requests()
    query = visible_requests(staff).options(
        selectinload(AppointmentRequest.client),
        selectinload(AppointmentRequest.clinician),
        selectinload(AppointmentRequest.service),
        selectinload(AppointmentRequest.appointment),
    )
    if filters.status != "all":
        query = query.where(AppointmentRequest.status == filters.status)
    if filters.kind != "all":
        query = query.where(AppointmentRequest.kind == filters.kind)
    if filters.clinician_id is not None:
        query = query.where(AppointmentRequest.clinician_user_id == filters.clinician_id)
    zone = practice_zone()
    if filters.date_from is not None:
        since = datetime.combine(filters.date_from, time(0), tzinfo=zone)
        query = query.where(AppointmentRequest.requested_at >= since)
    if filters.date_to is not None:
        until = datetime.combine(filters.date_to + timedelta(days=1), time(0), tzinfo=zone)
        query = query.where(AppointmentRequest.requested_at < until)
    query = query.order_by(AppointmentRequest.requested_at.desc(), AppointmentRequest.id.desc())
    return list(db.session.scalars(query.limit(500)))


# --- Deciding ------------------------------------------------------------------------------------


def _ensure_pending(item: AppointmentRequest) -> None:
    expire_past_requests()
    if item.status != "pending":
        raise SchedulingError(f"This request was already handled: it is {item.status}.")


def _decided(item: AppointmentRequest, outcome: str, decided_by: User) -> None:
    item.status = outcome
    item.decided_at = func.now()
    item.decided_by_user_id = decided_by.id


def approve(
    actor: User,
    item: AppointmentRequest,
    *,
    service_id: int | None = None,
    service_code: str | None = None,
    duration_minutes: int | None = None,
    alert: str | None = None,
) -> Appointment | None:
    """Carry out a pending request with the staff member's changes (a new request: service, code,
    length, alert; a reschedule: length, code, alert); the client is emailed what was approved."""
    _ensure_pending(item)
    problems = {}
    chosen = item.service
    if item.kind == "new" and service_id is not None and service_id != item.service_id:
        chosen = db.session.get(Service, service_id)
        if chosen is None or not chosen.is_active:
            chosen = None
    if item.kind == "new" and (chosen is None or not offers(item.clinician_user_id, chosen)):
        problems["service_id"] = f"Choose a service that {item.clinician.name} offers."
    code = (service_code or "").strip() or None
    if code is not None and len(code) > 20:
        problems["service_code"] = "Use at most 20 characters."
    if duration_problem(duration_minutes):
        problems["duration_minutes"] = duration_problem(duration_minutes)
    try:
        alert = alert_text(alert)
    except Problems as error:
        problems.update(error.problems)
    if problems:
        raise Problems(problems)

    changes = []
    if item.kind == "new":
        if chosen.id != item.service_id:
            changes.append(f"service: {item.service.name} -> {chosen.name}")
        appointment = book(
            item.client,
            item.clinician,
            chosen,
            item.requested_starts_at,
            duration_minutes=duration_minutes,
            alert=alert,
            taken=TAKEN,
            by=DECIDED,
        )
        if duration_minutes and duration_minutes != item.service.duration_minutes:
            changes.append(f"length: {duration_minutes} minutes")
        if code and code != appointment.service_code:
            appointment.service_code = code
            changes.append(f"service code: {code}")
    elif item.kind == "reschedule":
        appointment = move(
            item.appointment,
            item.requested_starts_at,
            duration_minutes=duration_minutes,
            taken=TAKEN,
            by=DECIDED,
        )
        if alert:
            appointment.alert = alert
        if code:
            appointment.service_code = code
    else:
        cancel(item.appointment, by=DECIDED)
        appointment = item.appointment
    _decided(item, "approved", actor)
    _notify_decision(item, "approved", appointment, note="; ".join(changes) or None)
    db.session.flush()
    audit(actor, "approved appointment request", item.client_id, detail=REQUEST_KINDS[item.kind])
    return appointment


def decline(
    actor: User, item: AppointmentRequest, *, notify: bool = False, message: str | None = None
) -> None:
    """Decline; the client hears of it only when `notify` is ticked, with the message written."""
    _ensure_pending(item)
    message = (message or "").strip() or None
    if notify and message is None:
        raise Problems({"message": "Write the message the client will get, or untick “Notify the client”."})
    if message is not None and len(message) > MAX_DECLINE_MESSAGE:
        raise Problems({"message": f"Use at most {MAX_DECLINE_MESSAGE} characters."})
    _decided(item, "declined", actor)
    item.decline_message = message if notify else None
    if notify:
        _notify_decision(item, "declined", item.appointment, note=message)
    db.session.flush()
    detail = REQUEST_KINDS[item.kind] + (", client notified" if notify else "")
    audit(actor, "declined appointment request", item.client_id, detail=detail)


def _notify_decision(item: AppointmentRequest, outcome: str, appointment, note: str | None = None) -> None:
    """Tell the client side what was decided: the automated "request approved/declined" message
    (with the calendar invite of an approved change; `note`: what the practice changed, or its words
    on a decline). A request for a new time names that time even when no appointment came of it."""
    if outcome == "approved" and note:
        note = f"Changed by the practice: {note}"
    notify_client(
        f"request_{outcome}",
        item.client_id,
        appointment=appointment,
        told=(None, item.requested_starts_at),
        detail=note,
    )
