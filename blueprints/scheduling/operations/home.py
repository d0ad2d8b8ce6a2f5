"""Scheduling on the portal home: a record's next appointment, what the client may do with it (by
the same rules as the appointments page: `operations.portal`), and that one appointment as a
calendar file to add it to a calendar."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from icalendar import Calendar, Event
from sqlalchemy import select

from blueprints.scheduling.invites import PRODID
from blueprints.scheduling.models import Appointment, AppointmentRequest
from blueprints.scheduling.operations import portal as rules
from blueprints.scheduling.operations.visibility import upcoming_for_client
from tenants.context import current_practice
from tenants.database import db
from tenants.features import practice_settings


@dataclass(frozen=True)
class Action:
    """One thing the client might do with an appointment: offered (mode "book" or "request") or
    not, and why not, in words fit to show in place."""

    mode: str | None
    refusal: str | None = None

    @property
    def offered(self) -> bool:
        return self.mode is not None and self.refusal is None


def next_appointment(client_id: int, now: datetime | None = None) -> Appointment | None:
    upcoming = upcoming_for_client(client_id, now)
    return upcoming[0] if upcoming else None


def pending_request(appointment: Appointment) -> AppointmentRequest | None:
    """The request about `appointment` that waits for the practice (to move or cancel it), if any."""
    return db.session.scalars(
        select(AppointmentRequest).where(
            AppointmentRequest.appointment_id == appointment.id, AppointmentRequest.status == "pending"
        )
    ).first()


def actions(appointment: Appointment) -> dict[str, Action]:
    """Reschedule and cancel for this appointment, as the portal's rules decide them today. A
    feature the practice has off is not mentioned at all (no mode, no reason)."""
    settings = practice_settings()
    reschedule_mode, cancel_mode = rules.reschedule_mode(), rules.cancel_mode()
    return {
        "reschedule": Action(
            reschedule_mode, rules.client_reschedule_refusal(appointment) if reschedule_mode else None
        ),
        "cancel": Action(
            cancel_mode, rules.cancellation_refusal(appointment, settings) if cancel_mode else None
        ),
    }


def appointment_calendar(appointment: Appointment, zone, now: datetime | None = None) -> str:
    """One appointment as an iCalendar file (METHOD:PUBLISH) with the same UID and SEQUENCE as its
    invites, so a calendar that has both keeps one event."""
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = Event()
    event.add("uid", appointment.ics_uid)
    event.add("sequence", appointment.ics_sequence)
    event.add("dtstamp", now)
    event.add("dtstart", appointment.starts_at.astimezone(zone))
    event.add("dtend", appointment.ends_at.astimezone(zone))
    event.add("summary", f"{appointment.service.name} with {appointment.clinician.name}")
    event.add("location", current_practice().name)
    event.add("status", "CONFIRMED")
    calendar.add_component(event)
    day = timedelta(days=1)
    calendar.add_missing_timezones(
        first_date=appointment.starts_at.date() - day, last_date=appointment.ends_at.date() + day
    )
    return calendar.to_ical().decode()
