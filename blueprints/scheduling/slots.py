"""Free appointment slots: weekly hours and date exceptions in the clinician's time zone, minus busy
time (existing appointments with their buffers), minimum notice and the booking horizon.

Plain values in, aware UTC datetimes out. Wall-clock hours are turned into real instants per date,
so a day of a daylight-saving change is as long as it really is: a spring-forward day loses the
skipped hour, a fall-back day offers its repeated hour twice (once in each offset).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Exception_:
    """A date exception: the whole day off (no times), some hours off, or extra hours."""

    on: date
    kind: str  # "off" or "extra"
    start: time | None = None
    end: time | None = None


@dataclass(frozen=True)
class Rules:
    time_zone: str
    weekly_hours: dict[int, Sequence[tuple[time, time]]]  # Monday = 0
    exceptions: Sequence[Exception_] = field(default_factory=tuple)
    buffer_before: timedelta = timedelta(0)
    buffer_after: timedelta = timedelta(0)
    min_notice: timedelta = timedelta(hours=24)
    horizon: timedelta = timedelta(days=60)
    step: timedelta = timedelta(minutes=15)


def _instant(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of a wall-clock time on `day` (a skipped time is read in the earlier offset)."""
    return datetime.combine(day, wall, tzinfo=zone).astimezone(UTC)


def _end_instant(day: date, wall: time, zone: ZoneInfo) -> datetime:
    # "24:00" is written as 00:00: the end of the day is the start of the next one.
    if wall == time(0):
        return _instant(day + timedelta(days=1), wall, zone)
    return _instant(day, wall, zone)


def _subtract(windows: list[tuple[datetime, datetime]], cut: tuple[datetime, datetime]):
    result = []
    for start, end in windows:
        if cut[1] <= start or cut[0] >= end:
            result.append((start, end))
            continue
        if start < cut[0]:
            result.append((start, cut[0]))
        if cut[1] < end:
            result.append((cut[1], end))
    return result


def open_windows(rules: Rules, first_day: date, last_day: date) -> list[tuple[datetime, datetime]]:
    """Available (start, end) UTC intervals between two local dates, inclusive."""
    zone = ZoneInfo(rules.time_zone)
    by_date: dict[date, list[Exception_]] = {}
    for exception in rules.exceptions:
        by_date.setdefault(exception.on, []).append(exception)
    windows: list[tuple[datetime, datetime]] = []
    day = first_day
    while day <= last_day:
        todays = by_date.get(day, [])
        day_windows = [
            (_instant(day, start, zone), _end_instant(day, end, zone))
            for start, end in rules.weekly_hours.get(day.weekday(), ())
        ]
        for exception in todays:
            if exception.kind == "off":
                if exception.start is None:
                    day_windows = []
                else:
                    cut = (_instant(day, exception.start, zone), _end_instant(day, exception.end, zone))
                    day_windows = _subtract(day_windows, cut)
        for exception in todays:
            if exception.kind == "extra" and exception.start is not None:
                day_windows.append(
                    (_instant(day, exception.start, zone), _end_instant(day, exception.end, zone))
                )
        windows.extend((start, end) for start, end in day_windows if start < end)
        day += timedelta(days=1)
    return sorted(windows)


def free_slots(
    rules: Rules,
    duration: timedelta,
    busy: Iterable[tuple[datetime, datetime]],
    now: datetime,
) -> list[datetime]:
    """Start instants (UTC) of every bookable slot of `duration` from `now` on."""
    zone = ZoneInfo(rules.time_zone)
    earliest = now + rules.min_notice
    latest = now + rules.horizon
    busy_sorted = sorted(busy)
    first_day = now.astimezone(zone).date()
    last_day = latest.astimezone(zone).date()
    slots: list[datetime] = []
    cursor = 0  # busy intervals before this index end before the current candidate
    for window_start, window_end in open_windows(rules, first_day, last_day):
        start = window_start
        while start + duration <= window_end:
            if earliest <= start <= latest:
                block_start = start - rules.buffer_before
                block_end = start + duration + rules.buffer_after
                while cursor < len(busy_sorted) and busy_sorted[cursor][1] <= block_start:
                    cursor += 1
                if not _overlaps_any(busy_sorted, cursor, block_start, block_end):
                    slots.append(start)
            start += rules.step
    return slots


def _overlaps_any(busy_sorted, first: int, start: datetime, end: datetime) -> bool:
    for busy_start, busy_end in busy_sorted[first:]:
        if busy_start >= end:
            return False  # sorted by start: nothing later can overlap
        if busy_end > start:
            return True
    return False
