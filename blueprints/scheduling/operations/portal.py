"""What a client may do with appointments in the portal, under the practice's toggles: book (or
request) a free slot, reschedule (or request to), cancel (or request to). The practice's toggles
choose between booking outright and asking the practice (`booking_mode` & co.); only a slot that is
free right now can be taken. Each change writes its audit line naming the portal viewer.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import selectinload

from app.refusals import Conflict, NotFound, Problems
from blueprints.auth.models import User
from blueprints.people.models import Client, ClientClinician
from blueprints.scheduling.models import Appointment, AppointmentRequest, Service, ServiceClinician
from blueprints.scheduling.operations.appointments import (
    book,
    cancel,
    group_members,
    move,
    starts_at_problem,
)
from blueprints.scheduling.operations.availability import available_slots
from blueprints.scheduling.operations.common import audit
from blueprints.scheduling.operations.requests import request_change, request_new
from tenants.database import db
from tenants.features import PracticeSettings, is_enabled, practice_settings

NOT_FREE = "That time is no longer available. Please pick another."
PICK_A_TIME = "Please pick a time from the list."
ANSWERED_DAYS = 30  # how long a declined or expired request stays on the client's page


class Reason(str):
    """Why a client may not do something: the full sentence (the refusal page, the 409) and, as
    `short`, the few words shown in place of the button that is not offered."""

    short: str

    def __new__(cls, message: str, short: str | None = None):
        reason = super().__new__(cls, message)
        reason.short = short or message
        return reason


def booking_mode() -> str | None:
    """ "book" (self-scheduling), "request" (online requests), or None (clients cannot book)."""
    if is_enabled("self_scheduling"):
        return "book"
    if is_enabled("online_requests"):
        return "request"
    return None


def reschedule_mode() -> str | None:
    if is_enabled("self_rescheduling"):
        return "book"
    if is_enabled("online_requests"):
        return "request"
    return None


def cancel_mode() -> str | None:
    if not is_enabled("client_cancellation"):
        return None
    return "book" if is_enabled("self_scheduling") else "request"


def bookable_services() -> list[Service]:
    return list(
        db.session.scalars(
            select(Service)
            .where(Service.is_active.is_(True), Service.bookable_online.is_(True))
            .order_by(Service.name)
        )
    )


def clinician_choices(client: Client, service: Service, settings: PracticeSettings) -> list[User]:
    """The client's own clinicians who offer `service`; or, for a client without clinicians in a
    practice that lets new clients choose, everyone who offers it."""
    offering = (
        select(User)
        .join(ServiceClinician, ServiceClinician.user_id == User.id)
        .where(ServiceClinician.service_id == service.id, User.is_active_account.is_(True))
    )
    own = list(
        db.session.scalars(
            offering.join(ClientClinician, ClientClinician.user_id == User.id)
            .where(ClientClinician.client_id == client.id)
            .order_by(User.name)
        )
    )
    if own:
        return own
    has_clinicians = db.session.scalar(
        select(func.count()).select_from(ClientClinician).where(ClientClinician.client_id == client.id)
    )
    if not has_clinicians and settings.new_clients_choose_clinician:
        return list(db.session.scalars(offering.order_by(User.name)))
    return []


def hours(count: int) -> str:
    return "1 hour" if count == 1 else f"{count} hours"


def _window_reason(count: int, action: str) -> Reason:
    return Reason(
        f"Appointments can be {action} online up to {hours(count)} before they start. "
        "Please contact the practice.",
        f"Inside the {count}-hour window: contact the practice",
    )


def reschedule_refusal(
    appointment: Appointment,
    is_group_primary_contact: bool = False,
    settings: PracticeSettings | None = None,
    now: datetime | None = None,
) -> Reason | None:
    """Why a client may not move this appointment themselves, or None.

    Besides DESIGN's three reasons: nothing that has started moves, and with `settings` the
    cancellation window applies too (moving an appointment away is cancelling its time).
    """
    now = now or datetime.now(UTC)
    if appointment.starts_at <= now:
        return Reason("This appointment has already started or taken place.", "Already started")
    if settings is not None and appointment.starts_at - now < timedelta(
        hours=settings.cancellation_window_hours
    ):
        return _window_reason(settings.cancellation_window_hours, "moved")
    if appointment.duration_overridden:
        return Reason(
            "This appointment's length was set by the practice, so it can only be moved by the practice.",
            "Length set by the practice: contact the practice to move it",
        )
    if not appointment.service.bookable_online:
        return Reason(
            "This kind of appointment cannot be booked online, so it can only be moved by the practice.",
            "Not bookable online: contact the practice to move it",
        )
    if appointment.group_id is not None and not (appointment.is_group_primary and is_group_primary_contact):
        return Reason(
            "This is a group appointment; only the group's primary contact can move it.",
            "Group appointment: only the group's primary contact can move it",
        )
    return None


def cancellation_refusal(
    appointment: Appointment, settings: PracticeSettings, now: datetime | None = None
) -> Reason | None:
    """Why a client may not cancel now (a group they lead, or inside the cancellation window), or None."""
    now = now or datetime.now(UTC)
    if (
        appointment.group_id is not None
        and appointment.is_group_primary
        and len(group_members(appointment)) > 1
    ):
        return Reason(
            "This is a group appointment you lead; please contact the practice to cancel it for everyone.",
            "Group appointment you lead: contact the practice to cancel it for everyone",
        )
    window = timedelta(hours=settings.cancellation_window_hours)
    if appointment.starts_at - now < window:
        return _window_reason(settings.cancellation_window_hours, "cancelled")
    return None


def _waiting_refusal(appointment: Appointment) -> Reason | None:
    """A request about this appointment already waits for the practice (one at a time)."""
    waiting = db.session.scalar(
        select(func.count())
        .select_from(AppointmentRequest)
        .where(AppointmentRequest.appointment_id == appointment.id, AppointmentRequest.status == "pending")
    )
    if not waiting:
        return None
    return Reason(
        "A request about this appointment is already waiting for the practice.",
        "Your request about this appointment is waiting for the practice",
    )


def client_reschedule_refusal(appointment: Appointment) -> Reason | None:
    """`reschedule_refusal` as it applies in the portal (the record holder leads their own group),
    and not while a request about the appointment waits. The appointments page offers "Reschedule"
    exactly when this is None, and the change itself checks it again."""
    return reschedule_refusal(
        appointment, is_group_primary_contact=appointment.is_group_primary, settings=practice_settings()
    ) or _waiting_refusal(appointment)


def client_cancel_refusal(appointment: Appointment) -> Reason | None:
    """`cancellation_refusal` as it applies in the portal, and not while a request about the
    appointment waits: "Cancel" is offered exactly when this is None, and the change checks it again."""
    return cancellation_refusal(appointment, practice_settings()) or _waiting_refusal(appointment)


def client_requests(client_id: int, now: datetime | None = None) -> list[AppointmentRequest]:
    """The client's requests still waiting, then those declined or expired in the last
    `ANSWERED_DAYS` days (newest first), with the appointment each is about."""
    since = (now or datetime.now(UTC)) - timedelta(days=ANSWERED_DAYS)
    answered = and_(
        AppointmentRequest.status.in_(("declined", "expired")), AppointmentRequest.decided_at >= since
    )
    found = db.session.scalars(
        select(AppointmentRequest)
        .options(
            selectinload(AppointmentRequest.appointment),
            selectinload(AppointmentRequest.service),
            selectinload(AppointmentRequest.clinician),
        )
        .where(
            AppointmentRequest.client_id == client_id,
            or_(AppointmentRequest.status == "pending", answered),
        )
        .order_by(AppointmentRequest.requested_at.desc(), AppointmentRequest.id.desc())
    )
    return sorted(found, key=lambda item: item.status != "pending")


def reschedule_slots(appointment: Appointment) -> list[datetime]:
    """Where `appointment` could move to: its clinician's free slots, its own time counting as free."""
    return available_slots(appointment.clinician_user_id, appointment.service, ignore_id=appointment.id)


def client_book(actor: dict, client: Client, clinician: User, service: Service, starts_at: datetime) -> str:
    """Book a free slot, or request it when the practice approves bookings; returns what was done
    (the audit action)."""
    mode = _mode(booking_mode)
    _check_start(starts_at)
    if starts_at not in available_slots(clinician.id, service):
        raise Conflict(NOT_FREE)
    if mode == "book":
        done, about = "booked appointment", book(client, clinician, service, starts_at, by="client").id
    else:
        request_new(client, clinician, service, starts_at, requested_by=None)
        done, about = "requested appointment", None
    _audit(actor, client, done, about)
    return done


def client_reschedule(actor: dict, client: Client, appointment: Appointment, starts_at: datetime) -> str:
    """Move the appointment (a group's primary contact moves the whole group) to a free slot, or ask
    the practice to; returns what was done (the audit action)."""
    mode = _mode(reschedule_mode)
    refusal = client_reschedule_refusal(appointment)
    if refusal:
        raise Conflict(refusal)
    _check_start(starts_at)
    if starts_at not in reschedule_slots(appointment):
        raise Conflict(NOT_FREE)
    if mode == "book":
        move(appointment, starts_at, by="client")
        done = "moved group appointment" if appointment.group_id is not None else "moved appointment"
    else:
        request_change(appointment, "reschedule", starts_at=starts_at, requested_by=None)
        done = "requested to move appointment"
    _audit(actor, client, done, appointment.id)
    return done


def client_cancel(actor: dict, client: Client, appointment: Appointment) -> str:
    """Cancel outside the cancellation window, or ask the practice to; returns what was done."""
    mode = _mode(cancel_mode)
    refusal = client_cancel_refusal(appointment)
    if refusal:
        raise Conflict(refusal)
    if mode == "book":
        cancel(appointment, by="client")
        done = "cancelled appointment"
    else:
        request_change(appointment, "cancellation", requested_by=None)
        done = "requested to cancel appointment"
    _audit(actor, client, done, appointment.id)
    return done


def _check_start(starts_at: datetime) -> None:
    """A posted time far outside the dates anyone may book is unreadable input (400), not a slot
    someone just took (409)."""
    problem = starts_at_problem(starts_at)
    if problem:
        raise Problems({"starts_at": f"{problem} {PICK_A_TIME}"})


def _mode(which) -> str:
    """The practice's choice between "book" and "request" for this change; off is 404."""
    mode = which()
    if mode is None:
        raise NotFound()
    return mode


def _audit(actor: dict, client: Client, done: str, appointment_id: int | None) -> None:
    audit(actor, done, client.id, detail=f"appointment {appointment_id}" if appointment_id else None)
