"""The booking picker: which days of a month have free times, and the free times of one day, in the
client's own zone.

It runs the same slot engine as `availability.available_slots` (the clinician's rules, busy time,
notice and horizon), but only over the span a page shows (a month of day markers, or one day), so a
page costs a month's work or a day's, never the whole horizon's. The free times it finds inside a
span are exactly those of `available_slots` that fall in that span: the engine's grid starts at each
open window's start, whatever span is asked for.
"""

from __future__ import annotations

import calendar as month_grid
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from blueprints.scheduling.operations.availability import busy_for, rules_for
from blueprints.scheduling.slots import Rules, free_slots

SEARCH_MONTHS = 3  # how many months the first page looks ahead for one with free times


def first_of_month(day: date) -> date:
    return day.replace(day=1)


def next_month(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def previous_month(month: date) -> date:
    return (month - timedelta(days=1)).replace(day=1)


@dataclass
class Picker:
    """Free times of one clinician for one length of appointment, seen from `zone` at `now`.

    `ignore_id`: an appointment whose own time counts as free (the one being moved).
    """

    clinician_id: int
    duration: timedelta
    zone: ZoneInfo
    now: datetime
    rules: Rules
    ignore_id: int | None = None
    _found: dict[date, list[datetime]] = field(default_factory=dict)  # month -> its free times
    _days: dict[date, dict[date, int]] = field(default_factory=dict)  # month -> its days' counts

    @classmethod
    def of(
        cls,
        clinician_id: int,
        duration_minutes: int,
        zone: str | ZoneInfo,
        ignore_id: int | None = None,
        now: datetime | None = None,
    ) -> Picker:
        return cls(
            clinician_id=clinician_id,
            duration=timedelta(minutes=duration_minutes),
            zone=zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone),
            now=now or datetime.now(UTC),
            rules=rules_for(clinician_id),
            ignore_id=ignore_id,
        )

    # --- the span a client may book in ----------------------------------------------------------

    @property
    def first_month(self) -> date:
        return first_of_month(self.now.astimezone(self.zone).date())

    @property
    def last_month(self) -> date:
        return first_of_month((self.now + self.rules.horizon).astimezone(self.zone).date())

    def clamp(self, month: date) -> date:
        """`month` (its first day), moved inside the months a client may book in."""
        return min(max(first_of_month(month), self.first_month), self.last_month)

    def _midnight(self, day: date) -> datetime:
        return datetime.combine(day, time(0), tzinfo=self.zone)

    # --- free times -----------------------------------------------------------------------------

    def times_between(self, start: datetime, end: datetime) -> list[datetime]:
        """Free start instants (UTC) from `start` up to (not including) `end`."""
        earliest = max(self.now + self.rules.min_notice, start)
        latest = min(self.now + self.rules.horizon, end - timedelta(microseconds=1))
        if latest < earliest:
            return []
        busy = busy_for(
            self.clinician_id, earliest - timedelta(days=1), latest + timedelta(days=1), self.ignore_id
        )
        # The engine counts notice and horizon from its `now`: asked from `earliest` with no notice
        # and a horizon reaching `latest`, it looks at this span only.
        span = replace(self.rules, min_notice=timedelta(0), horizon=latest - earliest)
        return free_slots(span, self.duration, busy, earliest)

    def _month_times(self, month: date) -> list[datetime]:
        if month not in self._found:
            self._found[month] = self.times_between(self._midnight(month), self._midnight(next_month(month)))
        return self._found[month]

    def days_of(self, month: date) -> dict[date, int]:
        """Day (in the client's zone) -> how many free times it has, for the days of `month` that have any."""
        month = first_of_month(month)
        if month not in self._days:
            found = self._month_times(month)
            self._days[month] = dict(Counter(moment.astimezone(self.zone).date() for moment in found))
        return self._days[month]

    def times_on(self, day: date) -> list[datetime]:
        """The free times of `day` (a date in the client's zone); from its month's when already found."""
        if first_of_month(day) in self._found:
            return [m for m in self._found[first_of_month(day)] if m.astimezone(self.zone).date() == day]
        return self.times_between(self._midnight(day), self._midnight(day + timedelta(days=1)))

    def is_free(self, moment: datetime) -> bool:
        return moment in self.times_between(moment, moment + timedelta(microseconds=1))

    def first_month_with_times(self) -> date:
        """The first bookable month with a free day (looking `SEARCH_MONTHS` ahead), else this month."""
        month = self.first_month
        for _ in range(SEARCH_MONTHS):
            if self.days_of(month):
                return month
            if month >= self.last_month:
                break
            month = next_month(month)
        return self.first_month

    # --- what a page shows ----------------------------------------------------------------------

    def weeks(self, month: date) -> list[list[date | None]]:
        """The weeks of `month`, Monday first; days of the months around it are None."""
        month = first_of_month(month)
        return [
            [day if day.month == month.month else None for day in week]
            for week in month_grid.Calendar(firstweekday=0).monthdatescalendar(month.year, month.month)
        ]

    def today(self) -> date:
        return self.now.astimezone(self.zone).date()
