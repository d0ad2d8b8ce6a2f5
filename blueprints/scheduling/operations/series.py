"""Recurring series: every 1-4 weeks on the same weekday at the same local time, N times or until a
date, booked by staff (up to a year ahead) or by a client (where the practice allows it, for the
services it marks, within the booking horizon). Not for group appointments.

Every occurrence is checked before anything is booked: it must fall in the clinician's hours (date
exceptions included), clear of their booked appointments with buffers (the rule the database's
exclusion constraint enforces for single bookings), inside the dates people may book and, for a
client, inside minimum notice and the horizon. The plan lists each date with its problem; the person
books the free ones (skipping the others, or giving them another time) or nothing. The occurrences
are expanded in the practice's zone, so 10:00 stays 10:00 across a daylight-saving change.

Booking is all or nothing in the caller's transaction: one appointment row per occurrence, each with
its own calendar event (its own UID) and the series' id. If someone takes one of the times between
the check and the commit, the exclusion constraint refuses it, `SlotTaken` (409) rolls everything
back and nothing is booked.

Invites: each occurrence goes through the existing per-appointment path (`appointments.book`), so a
series of N sends the clinician N invites and queues N client notices, one per event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select

from app.refusals import Conflict, NotFound, Problems
from app.roles import SEES_ALL_CLIENTS
from blueprints.auth.models import User
from blueprints.people.models import Client, ClientClinician
from blueprints.scheduling.models import Appointment, AppointmentRequest, AppointmentSeries, Service
from blueprints.scheduling.operations.appointments import (
    SchedulingError,
    book,
    booking_problems,
    cancel,
    check_starts_at,
    starts_at_problem,
)
from blueprints.scheduling.operations.availability import available_slots, busy_for, rules_for
from blueprints.scheduling.operations.common import audit, number_problem
from blueprints.scheduling.slots import open_windows
from tenants.database import db
from tenants.features import is_enabled, practice_settings, practice_today, practice_zone

INTERVALS = {1: "Every week", 2: "Every 2 weeks", 3: "Every 3 weeks", 4: "Every 4 weeks"}
MAX_OCCURRENCES = 53  # weekly for a year, both ends included
STAFF_DAYS_AHEAD = 365
CHANGED = "Some dates were taken since you checked them. Nothing was booked: review the dates again."


@dataclass(frozen=True)
class Pattern:
    """How a series repeats: from `first_date` every `interval_weeks` weeks at `at_time` (local),
    `count` times or until `until` (inclusive)."""

    first_date: date
    at_time: time
    interval_weeks: int
    count: int | None = None
    until: date | None = None


@dataclass
class Occurrence:
    index: int  # 1-based position in the series
    day: date
    at_time: time
    starts_at: datetime | None  # None: that wall-clock time does not exist on that day
    problem: str | None = None
    moved: bool = False  # given another time than the pattern's


def pattern_problems(pattern: Pattern, *, by: str = "staff") -> dict[str, str]:
    problems = {}
    if pattern.interval_weeks not in INTERVALS:
        problems["repeat"] = "Choose every 1, 2, 3 or 4 weeks."
    today = practice_today()
    if pattern.first_date < today:
        problems["on_date"] = "A series starts today or later."
    if (pattern.count is None) == (pattern.until is None):
        problems["repeat_count"] = "Give either how many times or the last date."
    elif pattern.count is not None and number_problem(pattern.count, 2, MAX_OCCURRENCES):
        problems["repeat_count"] = f"Enter how many times, from 2 to {MAX_OCCURRENCES}."
    elif pattern.until is not None and pattern.until <= pattern.first_date:
        problems["repeat_until"] = "The last date comes after the first."
    if problems:
        return problems
    days = expand(pattern)
    limit = today + timedelta(days=STAFF_DAYS_AHEAD)
    field = "repeat_count" if pattern.count is not None else "repeat_until"
    if by == "staff" and days[-1] > limit:
        problems[field] = f"A series can run up to a year ahead (until {limit.isoformat()})."
    elif len(days) > MAX_OCCURRENCES:
        problems[field] = f"A series has at most {MAX_OCCURRENCES} dates."
    return problems


def expand(pattern: Pattern) -> list[date]:
    """The dates of the series (the weekday of the first date, every `interval_weeks` weeks)."""
    step = timedelta(weeks=pattern.interval_weeks)
    days, day = [], pattern.first_date
    while len(days) <= MAX_OCCURRENCES:
        if pattern.count is not None and len(days) >= pattern.count:
            break
        if pattern.until is not None and day > pattern.until:
            break
        days.append(day)
        day += step
    return days


def _instant(day: date, wall: time) -> datetime | None:
    """The UTC instant of `wall` on `day` in the practice's zone; None when the clocks skip it."""
    zone = practice_zone()
    moment = datetime.combine(day, wall, tzinfo=zone)
    if moment.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != moment.replace(tzinfo=None):
        return None
    return moment.astimezone(UTC)


def plan(
    clinician: User,
    service: Service,
    pattern: Pattern,
    *,
    duration_minutes: int | None = None,
    moves: dict[int, tuple[date, time]] | None = None,
    by: str = "staff",
    now: datetime | None = None,
) -> list[Occurrence]:
    """Every occurrence with its problem (None: free to book). `moves`: index -> another (date, time)
    for that occurrence. Reads only; nothing is booked."""
    moves = moves or {}
    now = now or datetime.now(UTC)
    rules = rules_for(clinician.id)
    length = timedelta(minutes=duration_minutes or service.duration_minutes)
    occurrences = []
    for index, day in enumerate(expand(pattern), start=1):
        day, wall = moves.get(index, (day, pattern.at_time))
        occurrences.append(Occurrence(index, day, wall, _instant(day, wall), moved=index in moves))
    known = [o.starts_at for o in occurrences if o.starts_at is not None]
    if not known:
        for occurrence in occurrences:
            occurrence.problem = "That time does not exist on that day (the clocks change)."
        return occurrences
    first, last = min(known), max(known) + length
    busy = busy_for(clinician.id, first - timedelta(days=1), last + timedelta(days=1))
    windows = open_windows(
        rules,
        min(o.day for o in occurrences) - timedelta(days=1),
        max(o.day for o in occurrences) + timedelta(days=1),
    )
    client_slots = set(available_slots(clinician.id, service, now=now)) if by == "client" else None
    taken: list[tuple[datetime, datetime]] = []  # this series' own earlier occurrences
    for occurrence in occurrences:
        occurrence.problem = _problem(
            occurrence, length, rules, busy + taken, windows, client_slots, clinician, by, now
        )
        if occurrence.problem is None:
            start = occurrence.starts_at
            taken.append((start - rules.buffer_before, start + length + rules.buffer_after))
    return occurrences


def _problem(occurrence, length, rules, busy, windows, client_slots, clinician, by, now) -> str | None:
    start = occurrence.starts_at
    if start is None:
        return "That time does not exist on that day (the clocks change)."
    if starts_at_problem(start):
        return starts_at_problem(start)
    if start < now:
        return "That time has passed."
    if by == "staff" and occurrence.day > practice_today() + timedelta(days=STAFF_DAYS_AHEAD):
        return "A series can run up to a year ahead."
    block = (start - rules.buffer_before, start + length + rules.buffer_after)
    if any(b_start < block[1] and block[0] < b_end for b_start, b_end in busy):
        return (
            "Not available: that time is taken."
            if by == "client"
            else f"{clinician.name} already has an appointment then (buffers included)."
        )
    if not any(w_start <= start and start + length <= w_end for w_start, w_end in windows):
        return (
            "Not available: outside the practice's hours."
            if by == "client"
            else f"Outside {clinician.name}'s hours (or a day off)."
        )
    if client_slots is not None and start not in client_slots:
        return "Not available online: too soon or too far ahead. Please contact the practice."
    return None


def _check_booking(client: Client, clinician: User, service: Service, duration_minutes) -> None:
    problems = booking_problems(clinician, service, duration_minutes)
    if problems:
        raise Problems(problems)


def check_series(
    client: Client,
    clinician: User,
    service: Service,
    pattern: Pattern,
    *,
    duration_minutes=None,
    moves=None,
    by: str = "staff",
) -> list[Occurrence]:
    """The plan of a series, after the checks of its values (a refused value: `Problems`)."""
    _check_booking(client, clinician, service, duration_minutes)
    problems = pattern_problems(pattern, by=by)
    if problems:
        raise Problems(problems)
    return plan(clinician, service, pattern, duration_minutes=duration_minutes, moves=moves, by=by)


def book_series(
    actor: User | dict,
    client: Client,
    clinician: User,
    service: Service,
    pattern: Pattern,
    *,
    duration_minutes: int | None = None,
    alert: str | None = None,
    skip: set[int] | frozenset = frozenset(),
    moves: dict[int, tuple[date, time]] | None = None,
    by: str = "staff",
) -> AppointmentSeries:
    """Book every free occurrence of the series, skipping the indexes in `skip` (the conflicts the
    person saw and chose to leave out) and moving those in `moves`. A conflict the person did not see
    refuses the whole series (`CHANGED`, 409); a time taken between this check and the insert, too
    (`SlotTaken`). Nothing is booked then: the caller rolls back."""
    occurrences = check_series(
        client, clinician, service, pattern, duration_minutes=duration_minutes, moves=moves, by=by
    )
    if any(o.problem and o.index not in skip for o in occurrences):
        raise Conflict(CHANGED)
    chosen = [o for o in occurrences if o.problem is None and o.index not in skip]
    if not chosen:
        raise Problems({"": "None of the dates is free: nothing was booked."})
    series = AppointmentSeries(
        client_id=client.id,
        clinician_user_id=clinician.id,
        service_id=service.id,
        interval_weeks=pattern.interval_weeks,
        occurrence_count=pattern.count,
        until_date=pattern.until,
        local_time=pattern.at_time,
        created_by_user_id=actor.id if isinstance(actor, User) else None,
        created_by_client=by == "client",
    )
    db.session.add(series)
    db.session.flush()
    taken = (
        f"{clinician.name} was just booked at one of these times by someone else. "
        "Nothing was booked: review the dates again."
    )
    for occurrence in chosen:
        check_starts_at(occurrence.starts_at)
        book(
            client,
            clinician,
            service,
            occurrence.starts_at,
            duration_minutes=duration_minutes,
            alert=alert,
            taken=taken,
            by=by,
            series_id=series.id,
        )
    audit(
        actor,
        "booked a series",
        client.id,
        detail=f"series {series.id}: {len(chosen)} appointments with {clinician.name}",
    )
    return series


# --- A booked series --------------------------------------------------------------------------


def series_for_staff(staff: User, series_id: int) -> AppointmentSeries | None:
    """The series if `staff` may see it (its clinician, a clinician of its client, or someone who
    sees every client), else None (404)."""
    series = db.session.get(AppointmentSeries, series_id)
    if series is None or staff.role in SEES_ALL_CLIENTS or series.clinician_user_id == staff.id:
        return series
    assigned = db.session.scalar(
        select(ClientClinician.client_id).where(
            ClientClinician.client_id == series.client_id, ClientClinician.user_id == staff.id
        )
    )
    return series if assigned is not None else None


def occurrences_of(series: AppointmentSeries) -> list[Appointment]:
    return list(
        db.session.scalars(
            select(Appointment)
            .where(Appointment.series_id == series.id)
            .order_by(Appointment.starts_at, Appointment.id)
        )
    )


def cancel_occurrences(
    actor: User, series: AppointmentSeries, appointment_id: int, *, following: bool
) -> int:
    """Cancel one occurrence, or it and every later booked one ("this and all following"): each sends
    its CANCEL invite to client and clinician. Returns how many were cancelled."""
    rows = occurrences_of(series)
    start = next((row for row in rows if row.id == appointment_id), None)
    if start is None:
        raise NotFound()
    if start.status != "booked":
        raise SchedulingError("This appointment was already cancelled.")
    chosen = (
        [row for row in rows if row.status == "booked" and row.starts_at >= start.starts_at]
        if following
        else [start]
    )
    for row in chosen:
        cancel(row)
    # As cancelling one appointment does: their pending requests lapse as withdrawn.
    for item in db.session.scalars(
        select(AppointmentRequest).where(
            AppointmentRequest.appointment_id.in_([row.id for row in chosen]),
            AppointmentRequest.status == "pending",
        )
    ):
        item.status = "withdrawn"
        item.decided_at = func.now()
    db.session.flush()
    audit(
        actor,
        "cancelled appointments of a series",
        series.client_id,
        detail=f"series {series.id}: {len(chosen)} cancelled",
    )
    return len(chosen)


def client_series_allowed(service: Service) -> bool:
    """May clients book `service` as a series? The practice lets clients book outright, allows
    series and marks the service."""
    return bool(
        is_enabled("self_scheduling")
        and practice_settings().client_series_enabled
        and service.series_bookable
    )


def client_book_series(
    actor: dict,
    client: Client,
    clinician: User,
    service: Service,
    pattern: Pattern,
    *,
    skip: set[int] | frozenset = frozenset(),
    moves: dict[int, tuple[date, time]] | None = None,
) -> AppointmentSeries:
    """A client books a series in the portal: only where the practice lets clients book outright
    and allows series of this service (else 404); each date must be a free slot for them (notice,
    horizon, hours, appointments), as a single booking must."""
    if not client_series_allowed(service):
        raise NotFound()
    return book_series(actor, client, clinician, service, pattern, skip=skip, moves=moves, by="client")
