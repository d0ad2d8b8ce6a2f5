"""The staff calendar: a week (Monday to Sunday) or a day of the appointments and pending requests a
staff member may see, in the practice's zone. Requests show as "(Requested)" entries, times held for a
waitlist offer as "(Held)"; an appointment
with a pending request, a length set by hand or an alert carries a flag."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy.orm import selectinload

from app.dates import appointment_window
from blueprints.auth.models import User
from blueprints.scheduling.models import Appointment, AppointmentRequest
from blueprints.scheduling.operations.requests import REQUEST_KINDS, expire_past_requests
from blueprints.scheduling.operations.visibility import visible_appointments, visible_requests
from tenants.database import db
from tenants.features import practice_zone


@dataclass
class Entry:
    kind: str  # "appointment", "request" or "held" (a time held for a waitlist offer)
    id: int
    starts: datetime  # in the practice's zone
    ends: datetime
    client: str
    service: str
    clinician: str
    request_kind: str | None = None
    flags: list[str] = field(default_factory=list)

    @property
    def requested(self) -> bool:
        return self.kind == "request"


@dataclass
class CalendarPage:
    view: str
    day: date
    days: list[date]
    entries: dict[date, list[Entry]]
    previous: date | None  # None at the edge of the dates the calendar shows (`app.dates`)
    next: date | None
    zone: str


def calendar_page(staff: User, view: str, day: date, clinician_id: int | None = None) -> CalendarPage:
    """The week or the day around `day`; pending requests whose time has passed are marked expired
    first (they no longer show as requested), so the caller commits."""
    expire_past_requests()
    zone = practice_zone()
    if view == "day":
        days = [day]
        step = timedelta(days=1)
    else:
        monday = day - timedelta(days=day.weekday())
        days = [monday + timedelta(days=offset) for offset in range(7)]
        step = timedelta(days=7)
    start = datetime.combine(days[0], time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(days[-1] + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    entries: dict[date, list[Entry]] = {d: [] for d in days}

    pending_by_appointment: dict[int, list[str]] = {}
    request_query = (
        visible_requests(staff)
        .where(AppointmentRequest.status == "pending")
        .options(
            selectinload(AppointmentRequest.client),
            selectinload(AppointmentRequest.service),
            selectinload(AppointmentRequest.clinician),
        )
    )
    if clinician_id is not None:
        request_query = request_query.where(AppointmentRequest.clinician_user_id == clinician_id)
    for item in db.session.scalars(request_query):
        if item.appointment_id is not None:
            pending_by_appointment.setdefault(item.appointment_id, []).append(
                f"{REQUEST_KINDS[item.kind]} requested"
            )
        if item.requested_starts_at is not None and start <= item.requested_starts_at < end:
            local = item.requested_starts_at.astimezone(zone)
            entries[local.date()].append(
                Entry(
                    "request",
                    item.id,
                    local,
                    (item.requested_ends_at or item.requested_starts_at).astimezone(zone),
                    item.client.display_name,
                    item.service.name,
                    item.clinician.name,
                    request_kind=REQUEST_KINDS[item.kind],
                    flags=["New client"] if item.new_client else [],
                )
            )

    query = visible_appointments(staff).where(
        # "held": a freed time held for a waitlist offer (no one's appointment yet; shown so that
        # staff see why the time is not free, never with the client it was offered to).
        Appointment.status.in_(("booked", "held")),
        Appointment.starts_at < end,
        Appointment.ends_at > start,
    )
    if clinician_id is not None:
        query = query.where(Appointment.clinician_user_id == clinician_id)
    query = query.options(
        selectinload(Appointment.client),
        selectinload(Appointment.service),
        selectinload(Appointment.clinician),
    )
    for appointment in db.session.scalars(query.order_by(Appointment.starts_at)):
        local = appointment.starts_at.astimezone(zone)
        if local.date() not in entries:
            continue  # began the evening before the first day shown
        if appointment.status == "held":
            entries[local.date()].append(
                Entry(
                    "held",
                    appointment.id,
                    local,
                    appointment.ends_at.astimezone(zone),
                    "Held for a waitlist offer",
                    appointment.service.name,
                    appointment.clinician.name,
                )
            )
            continue
        flags = list(pending_by_appointment.get(appointment.id, []))
        if appointment.duration_overridden:
            flags.append("Length set by hand")
        if appointment.alert:
            flags.append("Alert")
        entries[local.date()].append(
            Entry(
                "appointment",
                appointment.id,
                local,
                appointment.ends_at.astimezone(zone),
                appointment.client.display_name,
                appointment.service.name,
                appointment.clinician.name,
                flags=flags,
            )
        )
    for day_entries in entries.values():
        day_entries.sort(key=lambda e: (e.starts, e.kind))
    first, last = appointment_window()
    return CalendarPage(
        view="day" if view == "day" else "week",
        day=day,
        days=days,
        entries=entries,
        previous=max(day - step, first) if day > first else None,
        next=min(day + step, last) if day < last else None,
        zone=zone.key,
    )
