"""Availability: the practice's weekly hours and scheduling defaults (owner, admin), a clinician's own
hours and overrides (that clinician, owner, admin), date exceptions, and the free slots they leave."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import or_, select

from app.dates import exception_date_problem
from app.refusals import NotAllowed, Problems
from app.roles import MANAGES_PRACTICE, OFFERS_SERVICES
from app.timefmt import local_span
from blueprints.auth.models import User
from blueprints.scheduling.models import (
    ACTIVE,
    Appointment,
    AvailabilityException,
    AvailabilityRule,
    ClinicianSchedule,
    Service,
)
from blueprints.scheduling.operations.common import audit, number_problem
from blueprints.scheduling.signals import announce_time_freed
from blueprints.scheduling.slots import Exception_, Rules, free_slots
from tenants.database import db
from tenants.features import PracticeSettings, practice_settings, practice_today

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
EXCEPTION_KINDS = {"day_off": "Day off", "hours_off": "Hours off", "extra": "Extra hours"}
# Field -> (low, high) for the practice's defaults and a clinician's overrides.
SCHEDULE_NUMBERS = {
    "buffer_before_minutes": (0, 240),
    "buffer_after_minutes": (0, 240),
    "min_notice_hours": (0, 720),
    "horizon_days": (1, 730),
}
# PracticeSettings names the horizon booking_horizon_days; a clinician's row calls it horizon_days.
_PRACTICE_COLUMNS = {
    "buffer_before_minutes": "buffer_before_minutes",
    "buffer_after_minutes": "buffer_after_minutes",
    "min_notice_hours": "min_notice_hours",
    "horizon_days": "booking_horizon_days",
}


def may_edit_availability(actor: User, clinician: User | None) -> bool:
    """The practice's hours: owner or admin. A clinician's: that clinician, the owner or an admin."""
    if actor.role in MANAGES_PRACTICE:
        return True
    return clinician is not None and clinician.id == actor.id and actor.role in OFFERS_SERVICES


def _check_may_edit(actor: User, clinician: User | None) -> None:
    if not may_edit_availability(actor, clinician):
        raise NotAllowed()


def availability_owner(actor: User, user_id: int) -> User | None:
    """The clinician whose availability `actor` may manage, or None (404: not theirs to see)."""
    clinician = db.session.get(User, user_id)
    if clinician is None or not clinician.is_staff or clinician.role not in OFFERS_SERVICES:
        return None
    return clinician if may_edit_availability(actor, clinician) else None


def _owner_clause(model, clinician_id: int | None):
    column = model.clinician_user_id
    return column.is_(None) if clinician_id is None else column == clinician_id


def _whose(clinician: User | None) -> str:
    return "practice hours" if clinician is None else f"{clinician.name}'s hours"


# --- Weekly hours ------------------------------------------------------------------------------


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


def add_weekly_hours(actor: User, clinician: User | None, weekdays, start: time, end: time):
    """Add `start`-`end` to each of `weekdays` (0 = Monday) of the practice's hours (clinician None)
    or a clinician's own, all or nothing: an overlap on any of the days refuses the whole change,
    naming each day it overlaps. Returns the new ranges."""
    _check_may_edit(actor, clinician)
    days = sorted(set(weekdays or ()))
    if not days or any(not isinstance(day, int) or not 0 <= day <= 6 for day in days):
        raise Problems({"weekday": "Choose at least one day of the week."})
    start, end = _whole_minutes(start), _whole_minutes(end)
    problem = _range_problem(start, end)
    if problem:
        raise Problems({"end": problem})
    clinician_id = clinician.id if clinician else None
    hours = weekly_hours(clinician_id)
    clashes = [
        f"{local_span(other.start_time, other.end_time)} on {WEEKDAYS[day]}"
        for day in days
        for other in hours[day]
        if _overlap(start, end, other.start_time, other.end_time)
    ]
    if clashes:
        which = "that range" if len(clashes) == 1 else "those ranges"
        raise Problems(
            {"end": f"That overlaps {', '.join(clashes)}. Change or remove {which} first; nothing was added."}
        )
    added = [
        AvailabilityRule(clinician_user_id=clinician_id, weekday=day, start_time=start, end_time=end)
        for day in days
    ]
    db.session.add_all(added)
    db.session.flush()
    described = f"added {', '.join(WEEKDAYS[day] for day in days)} {start:%H:%M}-{end:%H:%M}"
    audit(actor, "changed availability", detail=f"{_whose(clinician)}: {described}")
    announce_time_freed(clinician_id)
    return added


def set_weekly_hours(clinician: User | None, weekdays, start: time, end: time) -> None:
    """Seeding (the demo, test fixtures, benchmarks): on each of `weekdays`, the practice's hours
    (clinician None) or a clinician's own become `start`-`end`. No audit line: nobody did this."""
    clinician_id = clinician.id if clinician else None
    for weekday in weekdays:
        for rule in weekly_hours(clinician_id)[weekday]:
            db.session.delete(rule)
        db.session.add(
            AvailabilityRule(clinician_user_id=clinician_id, weekday=weekday, start_time=start, end_time=end)
        )
    db.session.flush()


def _availability_row(model, clinician: User | None, row_id: int):
    """A weekly range or date exception of `clinician` (None: the practice's), else None."""
    row = db.session.get(model, row_id)
    if row is None or row.clinician_user_id != (clinician.id if clinician else None):
        return None
    return row


def _remove_availability_row(actor: User, clinician: User | None, row, described: str) -> None:
    _check_may_edit(actor, clinician)
    db.session.delete(row)
    db.session.flush()
    audit(actor, "changed availability", detail=f"{_whose(clinician)}: removed {described}")


def weekly_range(clinician: User | None, rule_id: int) -> AvailabilityRule | None:
    return _availability_row(AvailabilityRule, clinician, rule_id)


def remove_weekly_range(actor: User, clinician: User | None, rule: AvailabilityRule) -> None:
    described = f"{WEEKDAYS[rule.weekday]} {rule.start_time:%H:%M}-{rule.end_time:%H:%M}"
    _remove_availability_row(actor, clinician, rule, described)


# --- Date exceptions ---------------------------------------------------------------------------


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
    _check_may_edit(actor, clinician)
    problems: dict[str, str] = {}
    if on_date is None:
        problems["on_date"] = "Enter the date."
    elif exception_date_problem(on_date):
        problems["on_date"] = exception_date_problem(on_date)
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
    described = f"{EXCEPTION_KINDS[kind].lower()} on {on_date.isoformat()}"
    audit(actor, "changed availability", detail=f"{_whose(clinician)}: {described}")
    if exception.kind == "extra":
        announce_time_freed(exception.clinician_user_id)
    return exception


def exception_label(exception: AvailabilityException) -> str:
    if exception.kind == "off" and exception.start_time is None:
        return "Day off"
    label = "Hours off" if exception.kind == "off" else "Extra hours"
    return f"{label} {local_span(exception.start_time, exception.end_time)}"


def date_exception(clinician: User | None, exception_id: int) -> AvailabilityException | None:
    return _availability_row(AvailabilityException, clinician, exception_id)


def remove_exception(actor: User, clinician: User | None, exception: AvailabilityException) -> None:
    described = f"an exception on {exception.on_date.isoformat()}"
    freed = exception.kind == "off"
    _remove_availability_row(actor, clinician, exception, described)
    if freed:
        announce_time_freed(clinician.id if clinician else None)


# --- Buffers, notice and horizon: the practice's defaults, a clinician's overrides -----------------


def practice_defaults(settings: PracticeSettings) -> dict:
    return {name: getattr(settings, column) for name, column in _PRACTICE_COLUMNS.items()}


def _schedule_problems(values: dict, blank_allowed: bool) -> dict[str, str]:
    problems = {}
    for name, (low, high) in SCHEDULE_NUMBERS.items():
        value = values.get(name)
        if value is None and blank_allowed:
            continue
        problem = number_problem(value, low, high)
        if problem:
            problems[name] = problem
    return problems


def update_practice_defaults(actor: User, settings: PracticeSettings, values: dict) -> list[str]:
    if actor.role not in MANAGES_PRACTICE:
        raise NotAllowed()
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
        audit(actor, "settings changed", detail="scheduling defaults: " + ", ".join(changed))
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
    _check_may_edit(actor, clinician)
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
    audit(actor, "changed availability", detail=f"{clinician.name}'s scheduling settings")


# --- Free slots --------------------------------------------------------------------------------


def rules_for(clinician_id: int, settings: PracticeSettings | None = None) -> Rules:
    """The clinician's scheduling rules: their own hours if they keep them, else the practice's."""
    settings = settings or practice_settings()
    own = db.session.get(ClinicianSchedule, clinician_id)
    owner = clinician_id if own is not None and own.uses_own_hours else None
    weekly: dict[int, list] = {}
    for weekday, ranges in weekly_hours(owner).items():
        if ranges:
            weekly[weekday] = [(rule.start_time, rule.end_time) for rule in ranges]
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
    """(start, end) of the time the clinician's booked (or held) appointments hold, buffers included."""
    query = select(Appointment.block_starts_at, Appointment.block_ends_at).where(
        Appointment.clinician_user_id == clinician_id,
        Appointment.status.in_(ACTIVE),
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
    """Start instants of every free slot for `service` with the clinician (`ignore_id`: an
    appointment whose own time counts as free, the one being moved)."""
    now = now or datetime.now(UTC)
    rules = rules_for(clinician_id)
    busy = busy_for(clinician_id, now - timedelta(days=1), now + rules.horizon + timedelta(days=1), ignore_id)
    return free_slots(rules, timedelta(minutes=service.duration_minutes), busy, now)
