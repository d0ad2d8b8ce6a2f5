"""Held times: a time kept for someone who has been offered it (the waitlist's offers), as an
appointment row with status 'held'. The no-double-booking constraint covers held rows as it covers
booked ones (`models.ACTIVE`), and free slots count them as busy, so nobody else can book the time
while it is held. A hold sends no invites: nobody has it yet.

Taking a hold is one conditional UPDATE (`status = 'held'` in its WHERE, with the caller's extra
condition): of several people taking one hold at once, exactly one row is updated, whoever asks
after the first sees it gone. Releasing one is a conditional DELETE, so a release and a take of the
same hold never both succeed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, update
from sqlalchemy.dialects.postgresql import insert

from blueprints.auth.models import User
from blueprints.notifications.automated import note_appointment_time
from blueprints.people.models import Client
from blueprints.scheduling.models import Appointment, Service
from blueprints.scheduling.operations.appointments import (
    appointment_booked,
    new_appointment_values,
    send_invites,
)
from tenants.database import db


def hold_time(client: Client, clinician: User, service: Service, starts_at: datetime) -> Appointment | None:
    """Hold `starts_at` with `clinician` for `service` (the row names `client`, the first it is
    offered to, until someone takes it); None when the time is no longer free."""
    values = new_appointment_values(client, clinician, service, starts_at, service.duration_minutes)
    # ON CONFLICT DO NOTHING works with an exclusion constraint: a time taken meanwhile (by another
    # transaction too) inserts nothing, without an error that would end the caller's transaction.
    held = db.session.execute(
        insert(Appointment)
        .values(**values, status="held")
        .on_conflict_do_nothing()
        .returning(Appointment.id)
    ).scalar()
    return None if held is None else db.session.get(Appointment, held)


def take_hold(appointment_id: int, client_id: int, *condition) -> Appointment | None:
    """Turn the held row into `client_id`'s booking, when it is still held and `condition` (SQL
    expressions, such as "the offer is still open") holds; None when someone else took it first or it
    lapsed. The booking's invites are sent (by the client)."""
    taken = db.session.execute(
        update(Appointment)
        .where(Appointment.id == appointment_id, Appointment.status == "held", *condition)
        .values(
            status="booked",
            client_id=client_id,
            time_set_at=func.now(),
            created_at=func.now(),
            version=Appointment.version + 1,
        )
        .returning(Appointment.id)
        .execution_options(synchronize_session=False)
    ).scalar()
    if taken is None:
        return None
    appointment = db.session.get(Appointment, taken)
    db.session.refresh(appointment)
    note_appointment_time(appointment.starts_at)
    send_invites(appointment, by="client")
    appointment_booked.send(appointment)  # a booking like any other (billing at booking listens)
    return appointment


def release_hold(appointment_id: int) -> bool:
    """Let a hold go (its row is deleted); False when it was no longer held (taken, or gone)."""
    released = db.session.execute(
        delete(Appointment)
        .where(Appointment.id == appointment_id, Appointment.status == "held")
        .returning(Appointment.id)
        .execution_options(synchronize_session=False)
    ).scalar()
    if released is not None:
        stale = db.session.identity_map.get(db.session.identity_key(Appointment, released))
        if stale is not None:
            db.session.expunge(stale)
    return released is not None
