"""Staff rules of scheduling: services, availability (practice hours and clinicians' own), who sees
which appointments and requests, staff bookings, approving and declining requests, calendar feeds.

Plain values in; functions flush but never commit (the view commits, so a refused change leaves
nothing behind). A refusal is `Problems` (field -> message, fit to show), `PermissionError` (wrong
role) or one of `service`'s scheduling errors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from icalendar import Calendar, Event
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import selectinload

from app.roles import SEES_ALL_CLIENTS
from app.tokens import new_token, token_hash
from blueprints.audit.service import record
from blueprints.auth.models import User
from blueprints.people.models import Client, ClientClinician
from blueprints.people.operations.access import visible_clients
from blueprints.scheduling import service
from blueprints.scheduling.invites import PRODID
from blueprints.scheduling.models import (
    Appointment,
    AppointmentRequest,
    AvailabilityException,
    AvailabilityRule,
    CalendarFeed,
    ClinicianSchedule,
    Service,
    ServiceClinician,
)
from tenants.context import current_practice
from tenants.database import db
from tenants.features import PracticeSettings, practice_today, practice_zone

MANAGE_SERVICES = ("owner", "admin")
MANAGE_PRACTICE_HOURS = ("owner", "admin")
# Who can offer services, keep hours and be booked.
OFFERING_ROLES = ("owner", "admin", "clinician", "intern")

MIN_DURATION, MAX_DURATION = 5, 600
MAX_PRICE_CENTS = 100_000_000
MAX_ALERT = 1000
MAX_DECLINE_MESSAGE = 2000
# Field -> (low, high) for the practice's defaults and a clinician's overrides.
SCHEDULE_NUMBERS = {
    "buffer_before_minutes": (0, 240),
    "buffer_after_minutes": (0, 240),
    "min_notice_hours": (0, 720),
    "horizon_days": (1, 730),
}
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
EXCEPTION_KINDS = {"day_off": "Day off", "hours_off": "Hours off", "extra": "Extra hours"}
REQUEST_KINDS = {"new": "New", "reschedule": "Reschedule", "cancellation": "Cancellation"}
REQUEST_STATUSES = ("pending", "approved", "declined", "withdrawn", "expired")
DEFAULT_REQUEST_DAYS = 365
FEED_TOKEN_BYTES = 32  # 256 bits

_PRICE = re.compile(r"^(\d{1,7})(?:[.,](\d{1,2}))?$")


class Problems(ValueError):
    """Input a rule refused: field name -> message."""

    def __init__(self, problems: dict[str, str]):
        super().__init__("; ".join(problems.values()))
        self.problems = problems


class Conflict(service.SchedulingError):
    """Someone else got there first (already handled, already cancelled): answer 409."""


def _audit(actor: User, action: str, client_id: int | None = None, detail: str | None = None) -> None:
    record(
        action,
        actor_kind="staff",
        actor_user_id=actor.id,
        actor_name=actor.name,
        client_id=client_id,
        detail=detail,
    )


def local_instant(day: date, wall: time, field_name: str = "at_time") -> datetime:
    """The UTC instant of a wall-clock time in the practice's zone; a time the clocks skip is refused."""
    zone = practice_zone()
    moment = datetime.combine(day, wall, tzinfo=zone)
    if moment.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != moment.replace(tzinfo=None):
        raise Problems(
            {field_name: "That time does not exist on that day (the clocks change). Choose another."}
        )
    return moment.astimezone(UTC)


def _number_problem(value, low: int, high: int) -> str | None:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        return f"Enter a whole number from {low} to {high}."
    return None


# ---------------------------------------------------------------------------------------------
# Services
# ---------------------------------------------------------------------------------------------


def offering_staff() -> list[User]:
    """Active staff who can offer services and be booked."""
    return list(
        db.session.scalars(
            select(User)
            .where(User.kind == "staff", User.is_active_account.is_(True), User.role.in_(OFFERING_ROLES))
            .order_by(User.name, User.id)
        )
    )


def bookable_clinician(user_id: int | None) -> User | None:
    user = db.session.get(User, user_id) if user_id else None
    if user is None or not user.is_staff or user.role not in OFFERING_ROLES or not user.is_active_account:
        return None
    return user


def list_services(active_only: bool = False) -> list[Service]:
    query = select(Service).options(selectinload(Service.clinicians)).order_by(func.lower(Service.name))
    if active_only:
        query = query.where(Service.is_active.is_(True))
    return list(db.session.scalars(query))


def services_offered_by(clinician_id: int) -> list[Service]:
    return list(
        db.session.scalars(
            select(Service)
            .join(ServiceClinician, ServiceClinician.service_id == Service.id)
            .where(ServiceClinician.user_id == clinician_id, Service.is_active.is_(True))
            .order_by(func.lower(Service.name))
        )
    )


def parse_price(text: str | None) -> int:
    """'120', '120.5' or '120,50' -> cents; blank is free."""
    text = (text or "").strip().replace(" ", "")
    if not text:
        return 0
    match = _PRICE.match(text)
    if match is None:
        raise Problems({"price": "Enter a price like 120 or 120.50."})
    whole, fraction = match.groups()
    return int(whole) * 100 + int((fraction or "0").ljust(2, "0"))


def format_price(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def service_problems(existing: Service | None, values: dict) -> dict[str, str]:
    """Field -> what is wrong with a service's values (see `save_service`); empty when acceptable."""
    problems: dict[str, str] = {}
    name = (values.get("name") or "").strip()
    if not name:
        problems["name"] = "Give the service a name."
    elif len(name) > 200:
        problems["name"] = "Use at most 200 characters."
    else:
        clash = db.session.scalars(
            select(Service.id).where(
                func.lower(Service.name) == name.lower(), Service.id != (existing.id if existing else -1)
            )
        ).first()
        if clash is not None:
            problems["name"] = "Another service already has that name."
    if _number_problem(values.get("duration_minutes"), MIN_DURATION, MAX_DURATION):
        problems["duration_minutes"] = f"Enter the length in minutes, from {MIN_DURATION} to {MAX_DURATION}."
    code = (values.get("service_code") or "").strip()
    if len(code) > 20:
        problems["service_code"] = "Use at most 20 characters."
    try:
        if parse_price(values.get("price")) > MAX_PRICE_CENTS:
            problems["price"] = "That price is too high."
    except Problems as error:
        problems.update(error.problems)
    eligible = {user.id for user in offering_staff()}
    if any(user_id not in eligible for user_id in values.get("clinician_ids") or []):
        problems["clinician_ids"] = "Choose active clinicians, interns, admins or owners."
    return problems


def save_service(actor: User, existing: Service | None, values: dict) -> Service:
    """Create (existing=None) or change a service. `values`: name, duration_minutes, service_code,
    price (text), bookable_online, is_active, clinician_ids."""
    if actor.role not in MANAGE_SERVICES:
        raise PermissionError("Only the owner or an admin can change services.")
    problems = service_problems(existing, values)
    if problems:
        raise Problems(problems)
    name = values["name"].strip()
    code = (values.get("service_code") or "").strip() or None
    price_cents = parse_price(values.get("price"))
    eligible = {user.id: user for user in offering_staff()}
    chosen_ids = list(dict.fromkeys(values.get("clinician_ids") or []))
    item = existing or Service()
    item.name = name
    item.duration_minutes = values["duration_minutes"]
    item.service_code = code
    item.price_cents = price_cents
    item.bookable_online = bool(values.get("bookable_online"))
    item.is_active = bool(values.get("is_active"))
    item.clinicians = [eligible[user_id] for user_id in chosen_ids]
    if existing is None:
        db.session.add(item)
    db.session.flush()
    _audit(actor, "changed service" if existing else "created service", detail=name)
    return item


# ---------------------------------------------------------------------------------------------
# Availability: the practice's hours and defaults, a clinician's own
# ---------------------------------------------------------------------------------------------


def may_edit_availability(actor: User, clinician: User | None) -> bool:
    """The practice's hours: owner or admin. A clinician's: that clinician, the owner or an admin."""
    if actor.role in MANAGE_PRACTICE_HOURS:
        return True
    return clinician is not None and clinician.id == actor.id and actor.role in OFFERING_ROLES


def availability_owner(actor: User, user_id: int) -> User | None:
    """The clinician whose availability `actor` may manage, or None (404: not theirs to see)."""
    clinician = db.session.get(User, user_id)
    if clinician is None or not clinician.is_staff or clinician.role not in OFFERING_ROLES:
        return None
    return clinician if may_edit_availability(actor, clinician) else None


def _owner_clause(model, clinician_id: int | None):
    column = model.clinician_user_id
    return column.is_(None) if clinician_id is None else column == clinician_id


def weekly_hours(clinician_id: int | None) -> dict[int, list[AvailabilityRule]]:
    """Weekday -> ranges of the practice's hours (None) or a clinician's own."""
    hours: dict[int, list[AvailabilityRule]] = {day: [] for day in range(7)}
    for rule in db.session.scalars(
        select(AvailabilityRule)
        .where(_owner_clause(AvailabilityRule, clinician_id))
        .order_by(AvailabilityRule.weekday, AvailabilityRule.start_time)
    ):
        hours[rule.weekday].append(rule)
    return hours


def _minutes(wall: time, is_end: bool) -> int:
    minutes = wall.hour * 60 + wall.minute
    return 24 * 60 if is_end and minutes == 0 else minutes


def _whole_minutes(wall: time | None) -> time | None:
    return wall.replace(second=0, microsecond=0) if wall is not None else None


def _overlap(start: time, end: time, other_start: time, other_end: time) -> bool:
    return _minutes(start, False) < _minutes(other_end, True) and _minutes(other_start, False) < _minutes(
        end, True
    )


def _range_problem(start: time | None, end: time | None) -> str | None:
    if start is None or end is None:
        return "Enter a start and an end time."
    if _minutes(end, True) <= _minutes(start, False):
        return "The end must be after the start (00:00 as the end means midnight)."
    return None


def add_weekly_range(actor: User, clinician: User | None, weekday: int, start: time, end: time):
    if not may_edit_availability(actor, clinician):
        raise PermissionError("availability")
    if not isinstance(weekday, int) or not 0 <= weekday <= 6:
        raise Problems({"weekday": "Choose a day of the week."})
    start, end = _whole_minutes(start), _whole_minutes(end)
    problem = _range_problem(start, end)
    if problem:
        raise Problems({"end": problem})
    clinician_id = clinician.id if clinician else None
    for other in weekly_hours(clinician_id)[weekday]:
        if _overlap(start, end, other.start_time, other.end_time):
            shown = f"{other.start_time:%H:%M}–{other.end_time:%H:%M}"
            raise Problems(
                {"end": f"That overlaps {shown} on {WEEKDAYS[weekday]}. Change or remove that range first."}
            )
    rule = AvailabilityRule(clinician_user_id=clinician_id, weekday=weekday, start_time=start, end_time=end)
    db.session.add(rule)
    db.session.flush()
    _audit(
        actor,
        "changed availability",
        detail=_whose(clinician) + f": added {WEEKDAYS[weekday]} {start:%H:%M}-{end:%H:%M}",
    )
    return rule


def _whose(clinician: User | None) -> str:
    return "practice hours" if clinician is None else f"{clinician.name}'s hours"


def _availability_row(model, clinician: User | None, row_id: int):
    """A weekly range or date exception of `clinician` (None: the practice's), else None."""
    row = db.session.get(model, row_id)
    if row is None or row.clinician_user_id != (clinician.id if clinician else None):
        return None
    return row


def _remove_availability_row(actor: User, clinician: User | None, row, described: str) -> None:
    if not may_edit_availability(actor, clinician):
        raise PermissionError("availability")
    db.session.delete(row)
    db.session.flush()
    _audit(actor, "changed availability", detail=f"{_whose(clinician)}: removed {described}")


def weekly_range(clinician: User | None, rule_id: int) -> AvailabilityRule | None:
    return _availability_row(AvailabilityRule, clinician, rule_id)


def remove_weekly_range(actor: User, clinician: User | None, rule: AvailabilityRule) -> None:
    described = f"{WEEKDAYS[rule.weekday]} {rule.start_time:%H:%M}-{rule.end_time:%H:%M}"
    _remove_availability_row(actor, clinician, rule, described)


def upcoming_exceptions(clinician_id: int | None) -> list[AvailabilityException]:
    return list(
        db.session.scalars(
            select(AvailabilityException)
            .where(
                _owner_clause(AvailabilityException, clinician_id),
                AvailabilityException.on_date >= practice_today(),
            )
            .order_by(AvailabilityException.on_date, AvailabilityException.start_time)
        )
    )


def add_exception(
    actor: User, clinician: User | None, on_date: date, kind: str, start: time | None, end: time | None
) -> AvailabilityException:
    """A date exception: a day off, some hours off, or extra hours."""
    if not may_edit_availability(actor, clinician):
        raise PermissionError("availability")
    problems: dict[str, str] = {}
    if on_date is None:
        problems["on_date"] = "Enter the date."
    elif on_date < practice_today():
        problems["on_date"] = "Choose today or a later date."
    if kind not in EXCEPTION_KINDS:
        problems["kind"] = "Choose a day off, hours off or extra hours."
    elif kind == "day_off":
        start = end = None
    else:
        problem = _range_problem(start, end)
        if problem:
            problems["end"] = problem
    if problems:
        raise Problems(problems)
    exception = AvailabilityException(
        clinician_user_id=clinician.id if clinician else None,
        on_date=on_date,
        kind="extra" if kind == "extra" else "off",
        start_time=start,
        end_time=end,
    )
    db.session.add(exception)
    db.session.flush()
    _audit(
        actor,
        "changed availability",
        detail=_whose(clinician) + f": {EXCEPTION_KINDS[kind].lower()} on {on_date.isoformat()}",
    )
    return exception


def exception_label(exception: AvailabilityException) -> str:
    if exception.kind == "off" and exception.start_time is None:
        return "Day off"
    label = "Hours off" if exception.kind == "off" else "Extra hours"
    return f"{label} {exception.start_time:%H:%M}–{exception.end_time:%H:%M}"


def date_exception(clinician: User | None, exception_id: int) -> AvailabilityException | None:
    return _availability_row(AvailabilityException, clinician, exception_id)


def remove_exception(actor: User, clinician: User | None, exception: AvailabilityException) -> None:
    described = f"an exception on {exception.on_date.isoformat()}"
    _remove_availability_row(actor, clinician, exception, described)


# PracticeSettings names the horizon booking_horizon_days; a clinician's row calls it horizon_days.
_PRACTICE_COLUMNS = {
    "buffer_before_minutes": "buffer_before_minutes",
    "buffer_after_minutes": "buffer_after_minutes",
    "min_notice_hours": "min_notice_hours",
    "horizon_days": "booking_horizon_days",
}


def practice_defaults(settings: PracticeSettings) -> dict:
    return {name: getattr(settings, column) for name, column in _PRACTICE_COLUMNS.items()}


def _schedule_problems(values: dict, blank_allowed: bool) -> dict[str, str]:
    problems = {}
    for name, (low, high) in SCHEDULE_NUMBERS.items():
        value = values.get(name)
        if value is None and blank_allowed:
            continue
        problem = _number_problem(value, low, high)
        if problem:
            problems[name] = problem
    return problems


def update_practice_defaults(actor: User, settings: PracticeSettings, values: dict) -> list[str]:
    if actor.role not in MANAGE_PRACTICE_HOURS:
        raise PermissionError("practice defaults")
    problems = _schedule_problems(values, blank_allowed=False)
    if problems:
        raise Problems(problems)
    changed = []
    for name, column in _PRACTICE_COLUMNS.items():
        if getattr(settings, column) != values[name]:
            setattr(settings, column, values[name])
            changed.append(column)
    if changed:
        db.session.flush()
        _audit(actor, "settings changed", detail="scheduling defaults: " + ", ".join(changed))
    return changed


def clinician_schedule(clinician: User) -> ClinicianSchedule:
    """The clinician's overrides (a blank, unsaved row when they have none)."""
    return db.session.get(ClinicianSchedule, clinician.id) or ClinicianSchedule(
        user_id=clinician.id, uses_own_hours=False
    )


def update_clinician_schedule(actor: User, clinician: User, uses_own_hours: bool, values: dict) -> None:
    """Own hours on/off and own buffers, notice and horizon (None = the practice's default).

    Switching own hours on with no hours of one's own yet starts from a copy of the practice's.
    """
    if not may_edit_availability(actor, clinician):
        raise PermissionError("availability")
    problems = _schedule_problems(values, blank_allowed=True)
    if problems:
        raise Problems(problems)
    row = db.session.get(ClinicianSchedule, clinician.id)
    if row is None:
        row = ClinicianSchedule(user_id=clinician.id, uses_own_hours=False)
        db.session.add(row)
    if uses_own_hours and not row.uses_own_hours and not any(weekly_hours(clinician.id).values()):
        for ranges in weekly_hours(None).values():
            for rule in ranges:
                db.session.add(
                    AvailabilityRule(
                        clinician_user_id=clinician.id,
                        weekday=rule.weekday,
                        start_time=rule.start_time,
                        end_time=rule.end_time,
                    )
                )
    row.uses_own_hours = bool(uses_own_hours)
    for name in SCHEDULE_NUMBERS:
        setattr(row, name, values.get(name))
    db.session.flush()
    _audit(actor, "changed availability", detail=f"{clinician.name}'s scheduling settings")


# ---------------------------------------------------------------------------------------------
# Who sees which appointments and requests
# ---------------------------------------------------------------------------------------------


def sees_everything(staff: User) -> bool:
    return staff.role in SEES_ALL_CLIENTS


def visible_appointments(staff: User):
    """Owners, admins and schedulers: every appointment. Clinicians and interns: their own, and
    those of the clients assigned to them."""
    query = select(Appointment)
    if not sees_everything(staff):
        assigned = select(ClientClinician.client_id).where(ClientClinician.user_id == staff.id)
        query = query.where(
            or_(Appointment.clinician_user_id == staff.id, Appointment.client_id.in_(assigned))
        )
    return query


def appointment_for_staff(staff: User, appointment_id: int) -> Appointment | None:
    return db.session.scalars(visible_appointments(staff).where(Appointment.id == appointment_id)).first()


def visible_requests(staff: User):
    """Owners, admins and schedulers: every request. Clinicians and interns: requests for themselves."""
    query = select(AppointmentRequest)
    if not sees_everything(staff):
        query = query.where(AppointmentRequest.clinician_user_id == staff.id)
    return query


def request_for_staff(staff: User, request_id: int, lock: bool = False) -> AppointmentRequest | None:
    query = visible_requests(staff).where(AppointmentRequest.id == request_id)
    if lock:
        query = query.with_for_update()
    return db.session.scalars(query).first()


def _still_open(now: datetime):
    """Pending requests whose time has not passed yet (expired ones only wait for their sweep)."""
    original = (
        select(Appointment.starts_at)
        .where(Appointment.id == AppointmentRequest.appointment_id)
        .scalar_subquery()
    )
    return and_(
        AppointmentRequest.status == "pending",
        or_(
            AppointmentRequest.requested_starts_at > now,
            and_(AppointmentRequest.requested_starts_at.is_(None), original > now),
        ),
    )


def pending_count(staff: User) -> int:
    query = visible_requests(staff).where(_still_open(datetime.now(UTC)))
    return db.session.scalar(select(func.count()).select_from(query.subquery())) or 0


def bookable_clients(staff: User) -> list[Client]:
    return list(
        db.session.scalars(
            visible_clients(staff)
            .where(Client.status == "active")
            .order_by(func.lower(Client.last_name), func.lower(Client.first_name), Client.id)
        )
    )


# ---------------------------------------------------------------------------------------------
# The staff calendar
# ---------------------------------------------------------------------------------------------


@dataclass
class Entry:
    kind: str  # "appointment" or "request"
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
    previous: date
    next: date
    zone: str


def calendar(staff: User, view: str, day: date, clinician_id: int | None = None) -> CalendarPage:
    """The week (Monday to Sunday) or the day around `day`, in the practice's zone; pending requests
    whose time has passed are marked expired first (they no longer show as requested)."""
    service.expire_past_requests()
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
        Appointment.status == "booked", Appointment.starts_at < end, Appointment.ends_at > start
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
    return CalendarPage(
        view="day" if view == "day" else "week",
        day=day,
        days=days,
        entries=entries,
        previous=day - step,
        next=day + step,
        zone=zone.key,
    )


# ---------------------------------------------------------------------------------------------
# Staff bookings: create, move, cancel
# ---------------------------------------------------------------------------------------------


def _duration_problem(minutes: int | None) -> str | None:
    if minutes is None:
        return None
    if _number_problem(minutes, MIN_DURATION, MAX_DURATION):
        return f"Enter the length in minutes, from {MIN_DURATION} to {MAX_DURATION}."
    return None


def _alert_text(alert: str | None) -> str | None:
    alert = (alert or "").strip() or None
    if alert is not None and len(alert) > MAX_ALERT:
        raise Problems({"alert": f"Use at most {MAX_ALERT} characters."})
    return alert


def create_appointment(
    actor: User,
    client: Client,
    clinician: User,
    chosen: Service,
    starts_at: datetime,
    *,
    duration_minutes: int | None = None,
    alert: str | None = None,
) -> Appointment:
    """Book `client` (whom `actor` may see) with `clinician`; client and clinician get an invite."""
    problems = {}
    if not chosen.is_active:
        problems["service_id"] = "That service is no longer offered."
    problem = _duration_problem(duration_minutes)
    if problem:
        problems["duration_minutes"] = problem
    if problems:
        raise Problems(problems)
    appointment = service.book(
        client, clinician, chosen, starts_at, duration_minutes=duration_minutes, alert=_alert_text(alert)
    )
    _audit(actor, "booked appointment", client.id, detail=f"with {clinician.name}")
    return appointment


def move_appointment(
    actor: User, appointment: Appointment, starts_at: datetime, *, version: int, duration_minutes: int | None
) -> Appointment:
    problem = _duration_problem(duration_minutes)
    if problem:
        raise Problems({"duration_minutes": problem})
    if appointment.status != "booked":
        raise Conflict("This appointment was cancelled, so it cannot be moved.")
    service.move(appointment, starts_at, expected_version=version, duration_minutes=duration_minutes)
    _audit(actor, "moved appointment", appointment.client_id)
    return appointment


def cancel_appointment(actor: User, appointment: Appointment, *, version: int) -> None:
    """Cancel (client and clinician get a CANCEL invite); its pending requests lapse as withdrawn."""
    if appointment.status != "booked":
        raise Conflict("This appointment was already cancelled.")
    service.cancel(appointment, expected_version=version)
    for item in db.session.scalars(
        select(AppointmentRequest).where(
            AppointmentRequest.appointment_id == appointment.id, AppointmentRequest.status == "pending"
        )
    ):
        service.withdraw_request(item)
    db.session.flush()
    _audit(actor, "cancelled appointment", appointment.client_id)


def requests_of(appointment: Appointment) -> list[AppointmentRequest]:
    return list(
        db.session.scalars(
            select(AppointmentRequest)
            .where(AppointmentRequest.appointment_id == appointment.id)
            .order_by(AppointmentRequest.requested_at.desc())
        )
    )


# ---------------------------------------------------------------------------------------------
# Appointment requests
# ---------------------------------------------------------------------------------------------


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


def list_requests(staff: User, filters: RequestFilters) -> list[AppointmentRequest]:
    """The requests `staff` may see that match `filters` (date range: when they were made)."""
    service.expire_past_requests()
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


def filter_problems(filters: RequestFilters) -> dict[str, str]:
    problems = {}
    if filters.status != "all" and filters.status not in REQUEST_STATUSES:
        problems["status"] = "Choose a status from the list."
    if filters.kind != "all" and filters.kind not in REQUEST_KINDS:
        problems["kind"] = "Choose a type from the list."
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        problems["date_to"] = "The end of the range must not be before its start."
    return problems


def _ensure_pending(item: AppointmentRequest) -> None:
    service.expire_past_requests()
    if item.status != "pending":
        raise Conflict(f"This request was already handled: it is {item.status}.")


def approve(
    actor: User,
    item: AppointmentRequest,
    *,
    service_id: int | None = None,
    service_code: str | None = None,
    duration_minutes: int | None = None,
    alert: str | None = None,
) -> Appointment | None:
    """Approve with the staff member's changes (a new request: service, code, length, alert; a
    reschedule: length, alert); the client is emailed what was approved."""
    _ensure_pending(item)
    problems = {}
    chosen = None
    if item.kind == "new" and service_id is not None and service_id != item.service_id:
        chosen = db.session.get(Service, service_id)
        if chosen is None or not chosen.is_active or not service.offers(item.clinician_user_id, chosen):
            problems["service_id"] = f"Choose a service that {item.clinician.name} offers."
    code = (service_code or "").strip() or None
    if code is not None and len(code) > 20:
        problems["service_code"] = "Use at most 20 characters."
    problem = _duration_problem(duration_minutes)
    if problem:
        problems["duration_minutes"] = problem
    try:
        alert = _alert_text(alert)
    except Problems as error:
        problems.update(error.problems)
    if problems:
        raise Problems(problems)
    if item.kind == "new":
        appointment = service.approve_request(
            item, actor, service=chosen, service_code=code, duration_minutes=duration_minutes, alert=alert
        )
    elif item.kind == "reschedule":
        appointment = service.approve_request(item, actor, duration_minutes=duration_minutes)
        if alert:
            appointment.alert = alert
        if code:
            appointment.service_code = code
    else:
        appointment = service.approve_request(item, actor)
    db.session.flush()
    _audit(actor, "approved appointment request", item.client_id, detail=REQUEST_KINDS[item.kind])
    return appointment


def decline(actor: User, item: AppointmentRequest, *, notify: bool, message: str | None) -> None:
    """Decline; the client hears of it only when `notify` is ticked, with the message written."""
    _ensure_pending(item)
    message = (message or "").strip() or None
    if notify and message is None:
        raise Problems({"message": "Write the message the client will get, or untick “Notify the client”."})
    if message is not None and len(message) > MAX_DECLINE_MESSAGE:
        raise Problems({"message": f"Use at most {MAX_DECLINE_MESSAGE} characters."})
    service.decline_request(item, actor, notify=notify, message=message)
    db.session.flush()
    _audit(
        actor,
        "declined appointment request",
        item.client_id,
        detail=REQUEST_KINDS[item.kind] + (", client notified" if notify else ""),
    )


# ---------------------------------------------------------------------------------------------
# Private calendar feeds (staff)
# ---------------------------------------------------------------------------------------------


def active_feed(user: User) -> CalendarFeed | None:
    return db.session.scalars(
        select(CalendarFeed)
        .where(CalendarFeed.user_id == user.id, CalendarFeed.revoked_at.is_(None))
        .order_by(CalendarFeed.created_at.desc())
    ).first()


def _revoke_feeds(user: User) -> int:
    feeds = db.session.scalars(
        select(CalendarFeed).where(CalendarFeed.user_id == user.id, CalendarFeed.revoked_at.is_(None))
    ).all()
    for feed in feeds:
        feed.revoked_at = func.now()
    db.session.flush()
    return len(feeds)


def create_feed(user: User) -> str:
    """A new private feed for `user` (any earlier one stops working); returns the raw token, which
    is shown once and stored only as its SHA-256."""
    _revoke_feeds(user)
    raw = new_token(FEED_TOKEN_BYTES)
    db.session.add(CalendarFeed(user_id=user.id, token_hash=token_hash(raw)))
    db.session.flush()
    _audit(user, "created calendar feed")
    return raw


def revoke_feed(user: User) -> bool:
    if _revoke_feeds(user):
        _audit(user, "revoked calendar feed")
        return True
    return False


def feed_owner(raw_token: str) -> User | None:
    """The active person (staff, or client-side login) whose live feed this token opens, or None."""
    if not raw_token or len(raw_token) > 200:
        return None
    feed = db.session.scalars(
        select(CalendarFeed).where(
            CalendarFeed.token_hash == token_hash(raw_token), CalendarFeed.revoked_at.is_(None)
        )
    ).first()
    if feed is None:
        return None
    user = db.session.get(User, feed.user_id)
    if user is None or not user.is_active_account:
        return None
    return user


def feed_calendar(user: User, now: datetime | None = None) -> str:
    """`user`'s upcoming appointments as an iCalendar feed: the same UID and SEQUENCE as the invites,
    so a calendar holding both shows one event each."""
    now = now or datetime.now(UTC)
    zone = practice_zone()
    calendar_ = Calendar()
    calendar_.add("prodid", PRODID)
    calendar_.add("version", "2.0")
    calendar_.add("x-wr-calname", f"{current_practice().name}: {user.name}")
    calendar_.add("x-wr-timezone", zone.key)
    if user.is_staff:
        whose = Appointment.clinician_user_id == user.id
    else:
        # A client's feed: their own records and the minors they may manage appointments for.
        from blueprints.portal.viewer import accessible_records

        records = [client.id for _, client, rights in accessible_records(user) if rights.appointments]
        whose = Appointment.client_id.in_(records)
    appointments = db.session.scalars(
        select(Appointment)
        .where(whose, Appointment.status == "booked", Appointment.ends_at > now)
        .options(
            selectinload(Appointment.client),
            selectinload(Appointment.service),
            selectinload(Appointment.clinician),
        )
        .order_by(Appointment.starts_at)
    )
    stamp = now.replace(microsecond=0)
    for appointment in appointments:
        event = Event()
        event.add("uid", appointment.ics_uid)
        event.add("sequence", appointment.ics_sequence)
        event.add("dtstamp", stamp)
        event.add("dtstart", appointment.starts_at.astimezone(zone))
        event.add("dtend", appointment.ends_at.astimezone(zone))
        if user.is_staff:
            summary = f"{appointment.service.name} with {appointment.client.first_name}"
        else:
            with_whom = f"{appointment.service.name} with {appointment.clinician.name}"
            summary = f"{appointment.client.first_name}: {with_whom}"
        event.add("summary", summary)
        event.add("status", "CONFIRMED")
        calendar_.add_component(event)
    today = now.date()
    calendar_.add_missing_timezones(
        first_date=today - timedelta(days=1), last_date=today + timedelta(days=3 * 366)
    )
    return calendar_.to_ical().decode()
