"""The booking picker's steps as pages show them: the request's `month`, `day` and `time`
parameters read into a `PickerPage` (the calendar of a month, a day's free times, a chosen time),
with the links between the steps. The free times come from `operations.picker`; this module only
reads parameters and builds URLs (for book and reschedule alike)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from urllib.parse import urlencode

from flask import request, url_for

from app.errors import refuse
from blueprints.scheduling.operations import portal as rules
from blueprints.scheduling.operations.picker import Picker, next_month, previous_month

PICK_A_TIME = rules.PICK_A_TIME
UNREADABLE_DATE = "That date could not be read. Please pick a day from the calendar."
UNREADABLE_TIME = "That time could not be read. " + PICK_A_TIME


def parse_start(raw: str | None) -> datetime:
    # An instant without a zone, or so far off that no calendar shows it (year 1 at +05:00 is not
    # even representable in UTC), is not a time to pick.
    try:
        moment = datetime.fromisoformat(raw or "")
        readable = moment.tzinfo is not None and 1900 < moment.astimezone(UTC).year < 9000
    except (ValueError, OverflowError):
        readable = False
    if not readable:
        refuse(400, UNREADABLE_TIME)
    return moment


def parse_date(raw: str, pattern: str) -> date:
    try:
        return datetime.strptime(raw, pattern).date()
    except ValueError:
        refuse(400, UNREADABLE_DATE)


def linker(endpoint: str, **values):
    """`link(**params)`: the URL of `endpoint` with `values`, plus `params` as its query string. It asks
    the URL map once; a month of days and a day of times then cost string work only."""
    base = url_for(endpoint, **values)
    joiner = "&" if "?" in base else "?"
    return lambda **params: base + joiner + urlencode(params, safe=":") if params else base


def time_param(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


@dataclass
class PickerPage:
    """What the picker templates show: the month's calendar, the chosen day's times, the chosen
    time; `link(**params)` is this picker's page with those parameters, `times_link(day)` its partial."""

    picker: Picker
    month: date
    day: date | None
    times: list
    moment: datetime | None
    link: object
    times_link: object
    zone: str
    current: datetime | None = None  # rescheduling: the appointment's time now

    @property
    def days(self) -> dict[date, int]:
        """The month's days with free times (found once per request, when a page shows them)."""
        return self.picker.days_of(self.month)

    def day_url(self, day: date) -> str:
        return self.link(day=day.isoformat())

    def times_url(self, day: date) -> str:
        return self.times_link(day.isoformat())

    def time_url(self, moment: datetime) -> str:
        return self.link(time=time_param(moment))

    @property
    def previous(self) -> date | None:
        """The month before, if a client may book in it."""
        month = previous_month(self.month)
        return month if month >= self.picker.first_month else None

    @property
    def following(self) -> date | None:
        month = next_month(self.month)
        return month if month <= self.picker.last_month else None

    def month_url(self, month: date) -> str:
        return self.link(month=f"{month:%Y-%m}")

    @property
    def periods(self) -> list[tuple[str, list[datetime]]]:
        """The day's times in parts of the day (in the client's zone), to scan a long day quickly."""
        parts: dict[str, list[datetime]] = {}
        for moment in self.times:
            hour = moment.astimezone(self.picker.zone).hour
            parts.setdefault("Morning" if hour < 12 else "Afternoon" if hour < 17 else "Evening", []).append(
                moment
            )
        return list(parts.items())

    @property
    def back_url(self) -> str:
        return self.day_url(self.day) if self.day else self.link()


def picker_page(
    picker: Picker, link, times_link, current: datetime | None = None, with_month: bool = True
) -> PickerPage:
    """The step this request's `month`, `day` and `time` parameters ask for. A first visit shows the
    first month with free times and its first free day. The month's days are found only for a page
    that shows them (`with_month`, and not the confirmation step): a day's times alone are a day's work."""
    args = request.args
    moment = parse_start(args["time"]) if args.get("time") else None
    day = parse_date(args["day"], "%Y-%m-%d") if args.get("day") else None
    if moment is not None:
        day = moment.astimezone(picker.zone).date()
    month = parse_date(args["month"], "%Y-%m") if args.get("month") else None
    first_visit = day is None and month is None
    month = picker.clamp(day or month or picker.first_month_with_times())
    if day is not None and day.replace(day=1) != month:
        day = None  # outside the months a client may book in
    if first_visit:
        day = min(picker.days_of(month), default=None)
    elif with_month and moment is None:
        picker.days_of(month)  # the day's times then come from the month's
    times = picker.times_on(day) if day is not None else []
    return PickerPage(picker, month, day, times, moment, link, times_link, picker.zone.key, current)


def confirmed(page: PickerPage) -> tuple[str | None, int]:
    """A chosen time that is not free (any more) sends the client back to its day with NOT_FREE."""
    if page.moment is None or page.moment in page.times:
        return None, 200
    page.moment = None
    return rules.NOT_FREE, 409
