"""Calendar invites (.ics): one stable UID per appointment, a SEQUENCE that rises with each change,
METHOD:CANCEL on cancellation, the time zone included as VTIMEZONE. Calendars that import them keep
one event that moves or disappears. Each recipient's copy is in their own zone: UID, SEQUENCE and
DTSTAMP are the same in every copy of one change, only the zone (and the words) differ."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vCalAddress, vText

from blueprints.scheduling.models import Appointment
from blueprints.scheduling.operations.recipients import (
    Recipient,
    client_recipients,
    clinician_recipient,
    unique,
)
from blueprints.scheduling.places import place_of
from tenants.context import current_practice
from tenants.features import practice_settings

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
    url: str | None = None,
    description: str | None = None,
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
    if url:
        event.add("url", url)
    if description:
        event.add("description", description)
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


def client_invite(
    appointment: Appointment, person: Recipient, cancelled: bool, stamp: datetime, discreet: bool = False
) -> tuple[str, str, str]:
    """The invite attachment of `appointment` for one reader, in their zone. Every copy of one change
    carries the same UID and SEQUENCE, so calendars keep one event. Where it takes place (a room link,
    an address) comes from the registered place provider (`places`), in step with each change."""
    client, clinician = appointment.client, appointment.clinician
    with_clinician = f"{appointment.service.name} with {clinician.name}"
    staff_side = clinician_recipient(clinician)
    if person.kind == "clinician":
        summary = f"{appointment.service.name} with {client.first_name}"
        attendees = [someone.address for someone in unique(client_recipients(client) + staff_side)]
    else:
        summary = with_clinician if person.kind == "client" else f"{client.first_name}: {with_clinician}"
        # A client-side copy names its reader and the clinician, never the other guardians.
        attendees = [someone.address for someone in unique([person, *staff_side])]
    place = place_of(appointment, discreet)
    ics = invite(
        uid=appointment.ics_uid,
        sequence=appointment.ics_sequence,
        starts_at=appointment.starts_at,
        ends_at=appointment.ends_at,
        time_zone=person.zone.key,
        summary=summary,
        organizer_email=practice_settings().contact_email or clinician.email,
        organizer_name=clinician.name,
        attendee_emails=attendees,
        cancelled=cancelled,
        location=place.location if place else current_practice().name,
        url=place.url if place else None,
        description=place.description if place else None,
        stamp=stamp,
    )
    return ("invite.ics", f"text/calendar; method={'CANCEL' if cancelled else 'REQUEST'}", ics)
