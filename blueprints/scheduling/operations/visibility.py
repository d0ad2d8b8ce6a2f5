"""Who sees which appointments and requests.

Staff: owners, admins and schedulers see everything; clinicians and interns see their own
appointments and those of the clients assigned to them, and the requests made for themselves.
A client (or whoever has their record open in the portal) sees that record's own. Anything outside
these is simply not found (404), never refused in a way that tells it exists.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import and_, func, or_, select

from app.roles import SEES_ALL_CLIENTS
from blueprints.auth.models import User
from blueprints.people.models import Client, ClientClinician
from blueprints.people.operations.access import visible_clients
from blueprints.scheduling.models import Appointment, AppointmentRequest
from tenants.database import db


def sees_everything(staff: User) -> bool:
    return staff.role in SEES_ALL_CLIENTS


def visible_appointments(staff: User):
    """A query of the appointments `staff` may see."""
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
    """A query of the requests `staff` may see."""
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
    """How many requests wait for `staff` (the to-do count in the navigation)."""
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


# --- A client's own ------------------------------------------------------------------------------


def client_appointment(client_id: int, appointment_id: int) -> Appointment | None:
    """A booked appointment of this client record, or None."""
    appointment = db.session.scalars(
        select(Appointment).where(Appointment.id == appointment_id, Appointment.client_id == client_id)
    ).first()
    return appointment if appointment is not None and appointment.status == "booked" else None


def upcoming_for_client(client_id: int, now: datetime | None = None) -> list[Appointment]:
    return list(
        db.session.scalars(
            select(Appointment)
            .where(
                Appointment.client_id == client_id,
                Appointment.status == "booked",
                Appointment.ends_at > (now or datetime.now(UTC)),
            )
            .order_by(Appointment.starts_at)
        )
    )


def past_for_client(client_id: int, now: datetime | None = None, limit: int = 20) -> list[Appointment]:
    return list(
        db.session.scalars(
            select(Appointment)
            .where(
                Appointment.client_id == client_id,
                Appointment.status.in_(("booked", "cancelled")),  # not a waitlist hold
                Appointment.ends_at <= (now or datetime.now(UTC)),
            )
            .order_by(Appointment.starts_at.desc())
            .limit(limit)
        )
    )


def pending_requests_for_client(client_id: int) -> list[AppointmentRequest]:
    return list(
        db.session.scalars(
            select(AppointmentRequest)
            .where(AppointmentRequest.client_id == client_id, AppointmentRequest.status == "pending")
            .order_by(AppointmentRequest.requested_at)
        )
    )
