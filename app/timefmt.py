"""How dates and times are shown, in pages and in emails alike: a few named styles, and a moment is
always shown in a zone, with the zone named. Template filters `local_time` and `local_span`.

    long     Monday 02 June 2031, 10:00 CEST   a moment on its own (emails, an appointment's page)
    short    Mon 02 Jun 2031, 10:00 CEST       a moment in a list or a line of text
    time     10:00 CEST                        a moment on a day already named (slots, calendar)
    log      2031-06-02 10:00:05 CEST          the audit log (to the second)
    date     Mon 02 Jun 2031                   a date alone (no zone)
    day      Monday 02 June 2031               a day as a heading (no zone)
    weekday  Mon 02 Jun                        a day of a week already named (the calendar's columns)

A `date` (or a wall-clock `time` of a weekly rule) is shown as it is, without a zone.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo

STYLES = {
    "long": "%A %d %B %Y, %H:%M",
    "short": "%a %d %b %Y, %H:%M",
    "time": "%H:%M",
    "log": "%Y-%m-%d %H:%M:%S",
    "date": "%a %d %b %Y",
    "day": "%A %d %B %Y",
    "weekday": "%a %d %b",
}
DATE_STYLES = frozenset({"date", "day", "weekday"})


def _zone(zone: str | tzinfo | None) -> tzinfo:
    if isinstance(zone, tzinfo):
        return zone
    return ZoneInfo(zone or "UTC")


def local_time(value, zone: str | tzinfo | None = None, style: str = "short") -> str:
    """`value` in a named `style`: an aware datetime is shown in `zone` (a name or a tzinfo; UTC when
    none), with the zone named unless the style is a date; a date or a time is shown as it is."""
    if value is None:
        return ""
    pattern = STYLES[style]
    if isinstance(value, datetime):
        value = value.astimezone(_zone(zone))
        if style not in DATE_STYLES:
            pattern += " %Z"
    return value.strftime(pattern)


def local_span(start, end, zone: str | tzinfo | None = None, style: str = "time") -> str:
    """From `start` to `end`: the start in `style`, then the end's time. Moments (aware datetimes) are
    shown in `zone` with the zone named once ("Monday 02 June 2031, 10:00–10:50 CEST" in "long",
    "10:00–10:50 CEST" in "time"); wall-clock times of a weekly rule as they are ("09:00–12:00")."""
    if not isinstance(start, datetime):
        return f"{start.strftime(STYLES[style])}–{end.strftime(STYLES['time'])}"
    zone = _zone(zone)
    start, end = start.astimezone(zone), end.astimezone(zone)
    return f"{start.strftime(STYLES[style])}–{end.strftime(STYLES['time'])} {end.strftime('%Z')}"
