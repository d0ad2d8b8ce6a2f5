"""Calendar invites (.ics): one stable UID per appointment, a SEQUENCE that rises with each change,
METHOD:CANCEL on cancellation, the time zone included as VTIMEZONE. Calendars that import them keep
one event that moves or disappears. Each recipient's copy is in their own zone: UID, SEQUENCE and
DTSTAMP are the same in every copy of one change, only the zone (and the words) differ."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vCalAddress, vText

PRODID = "-//Portico//Client portal//EN"


def invite(
    *,
    uid: str,
    sequence: int,
    starts_at: datetime,
    ends_at: datetime,
    time_zone: str,
    summary: str,
    organizer_email: str,
    attendee_emails: list[str],
    cancelled: bool = False,
    location: str | None = None,
    organizer_name: str | None = None,
    stamp: datetime | None = None,
) -> str:
    zone = ZoneInfo(time_zone)
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "CANCEL" if cancelled else "REQUEST")
    event = Event()
    event.add("uid", uid)
    event.add("sequence", sequence)
    event.add("dtstamp", stamp or datetime.now(UTC))
    event.add("dtstart", starts_at.astimezone(zone))
    event.add("dtend", ends_at.astimezone(zone))
    event.add("summary", summary)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    if location:
        event.add("location", location)
    organizer = vCalAddress(f"mailto:{organizer_email}")
    organizer.params["cn"] = vText(organizer_name or summary.split(" with ")[-1])
    event["organizer"] = organizer
    for email in attendee_emails:
        attendee = vCalAddress(f"mailto:{email}")
        attendee.params["role"] = vText("REQ-PARTICIPANT")
        attendee.params["partstat"] = vText("NEEDS-ACTION")
        event.add("attendee", attendee, encode=0)
    calendar.add_component(event)
    # The VTIMEZONE covers the event's own dates (with a year's margin), however far ahead it is.
    calendar.add_missing_timezones(
        first_date=starts_at.astimezone(zone).date() - timedelta(days=366),
        last_date=ends_at.astimezone(zone).date() + timedelta(days=366),
    )
    return calendar.to_ical().decode()
