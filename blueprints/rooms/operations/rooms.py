"""Rooms and their links: a clinician's permanent room, a client's own room, the room of an
appointment, regenerating a client's room, and joining one (audited; with Jitsi token authentication,
a short-lived signed token valid for that room only).

Which room an appointment uses:
- in person: none (its invite carries the practice's address);
- Jitsi: the client's own room (a minor's is shared with the guardians who may see their
  appointments, since they open the minor's record); a group appointment uses the clinician's room,
  so no client's room reaches another client;
- a link per clinician: the clinician's pasted link.

Room names are `secrets.token_urlsafe` in lower case (Jitsi folds room names to lower case; 32
characters keep well over 128 bits), never a name or an id, and are stored sealed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timedelta
from urllib.parse import quote

import jwt
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from app.refusals import NotAllowed, NotFound, Problems
from app.tokens import new_token
from blueprints.audit.service import record
from blueprints.auth.models import User
from blueprints.people.operations.access import client_for_staff
from blueprints.rooms.models import ClientRoom, ClinicianRoom, VideoSettings
from blueprints.rooms.operations.video import (
    https_link_problem,
    jitsi_domain,
    jitsi_secret,
    uses_tokens,
    video_settings,
)
from blueprints.scheduling.models import Appointment
from tenants.database import db
from tenants.encryption import seal_text, unseal_text

JOIN_EARLY = timedelta(minutes=15)  # the Join button shows this long before the start, until the end
TOKEN_LIFETIME = timedelta(minutes=5)
MAX_LINK = 500


def new_room_name() -> str:
    return new_token(24).lower()


def _seal(value: str, table: str, row_id: int, column: str) -> bytes:
    return seal_text(value, table=table, row_id=row_id, column=column)


def _unseal(blob: bytes | None, table: str, row_id: int, column: str) -> str | None:
    return None if blob is None else unseal_text(blob, table=table, row_id=row_id, column=column)


def jitsi_url(settings: VideoSettings, room: str) -> str:
    return f"{settings.jitsi_base_url}/{quote(room, safe='')}"


# --- A clinician's permanent room -----------------------------------------------------------------


def _clinician_row(user_id: int, create: bool) -> ClinicianRoom | None:
    row = db.session.get(ClinicianRoom, user_id)
    if row is None and create:
        db.session.execute(insert(ClinicianRoom).values(user_id=user_id).on_conflict_do_nothing())
        row = db.session.get(ClinicianRoom, user_id)
    return row


def clinician_room_name(user_id: int, create: bool = True) -> str | None:
    """The clinician's Jitsi room name (made on first use), or None when `create` is off and none is."""
    row = _clinician_row(user_id, create)
    if row is None:
        return None
    if row.token_sealed is None:
        if not create:
            return None
        # Locked, so two first uses at once agree on one name.
        row = db.session.scalars(
            select(ClinicianRoom).where(ClinicianRoom.user_id == user_id).with_for_update()
        ).one()
        db.session.refresh(row)
        if row.token_sealed is None:
            row.token_sealed = _seal(new_room_name(), ClinicianRoom.__tablename__, user_id, "token_sealed")
            db.session.flush()
    return _unseal(row.token_sealed, ClinicianRoom.__tablename__, user_id, "token_sealed")


def own_link(user_id: int) -> str | None:
    row = db.session.get(ClinicianRoom, user_id)
    return (
        None
        if row is None
        else _unseal(row.own_link_sealed, ClinicianRoom.__tablename__, user_id, "own_link_sealed")
    )


def clinician_link(user_id: int, create: bool = True) -> str | None:
    """The clinician's permanent room link under the practice's video service, or None."""
    settings = video_settings()
    if settings.service == "jitsi":
        name = clinician_room_name(user_id, create)
        return jitsi_url(settings, name) if name else None
    if settings.service == "per_clinician":
        return own_link(user_id)
    return None


def set_own_link(actor: User, link: str) -> None:
    """The clinician pastes their own permanent room link (a link per clinician); blank removes it."""
    if not actor.is_staff:
        raise NotAllowed()
    if video_settings().service != "per_clinician":
        raise NotFound()
    link = (link or "").strip()
    if link and (problem := https_link_problem(link, MAX_LINK)):
        raise Problems({"link": problem})
    row = _clinician_row(actor.id, create=True)
    row.own_link_sealed = (
        _seal(link, ClinicianRoom.__tablename__, actor.id, "own_link_sealed") if link else None
    )
    db.session.flush()
    record(
        "changed own room link" if link else "removed own room link",
        actor_kind="staff",
        actor_user_id=actor.id,
        actor_name=actor.name,
    )


# --- A client's own room --------------------------------------------------------------------------


def client_room_name(client_id: int, create: bool = True) -> str | None:
    row = db.session.get(ClientRoom, client_id)
    if row is None and create:
        sealed = _seal(new_room_name(), ClientRoom.__tablename__, client_id, "token_sealed")
        db.session.execute(
            insert(ClientRoom).values(client_id=client_id, token_sealed=sealed).on_conflict_do_nothing()
        )
        row = db.session.get(ClientRoom, client_id)
    return (
        None
        if row is None
        else _unseal(row.token_sealed, ClientRoom.__tablename__, client_id, "token_sealed")
    )


def client_room_link(client_id: int, create: bool = True) -> str | None:
    settings = video_settings()
    if settings.service != "jitsi":
        return None
    name = client_room_name(client_id, create)
    return jitsi_url(settings, name) if name else None


def regenerate(actor: User, client_id: int) -> str:
    """Give the client a new room: the old name stops being handed out at once (the portal's Join and
    the next invite use the new one). Returns the new link."""
    client = client_for_staff(actor, client_id) if actor.is_staff else None
    if client is None:
        raise NotFound()
    settings = video_settings()
    if settings.service != "jitsi":
        raise NotFound()
    client_room_name(client.id)
    row = db.session.scalars(
        select(ClientRoom).where(ClientRoom.client_id == client.id).with_for_update()
    ).one()
    row.token_sealed = _seal(new_room_name(), ClientRoom.__tablename__, client.id, "token_sealed")
    row.generation += 1
    db.session.flush()
    record(
        "regenerated room link",
        actor_kind="staff",
        actor_user_id=actor.id,
        actor_name=actor.name,
        client_id=client.id,
    )
    return client_room_link(client.id)


# --- An appointment's room ------------------------------------------------------------------------


def room_of(appointment: Appointment) -> tuple[str | None, str] | None:
    """(Jitsi room name or None, link) of an online appointment, or None when it has no room."""
    settings = video_settings()
    if appointment.service.delivery == "in_person" or settings.service == "none":
        return None
    if settings.service == "per_clinician":
        link = own_link(appointment.clinician_user_id)
        return (None, link) if link else None
    if appointment.group_id is not None:
        name = group_room_name(appointment.clinician_user_id, appointment.group_id)
    else:
        name = client_room_name(appointment.client_id)
    return name, jitsi_url(settings, name)


def group_room_name(clinician_id: int, group_id: int) -> str:
    """A group session's own room, never the clinician's permanent one (a member of one group would
    hold the room where every other session meets). Derived, so no table: an HMAC keyed with the
    clinician's secret room name over the group, unguessable without that name, one per group;
    a new clinician room (regenerated) moves every group room with it."""
    key = clinician_room_name(clinician_id).encode()
    digest = hmac.new(key, f"group:{group_id}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode().rstrip("=").lower()[:32]


def join_open(appointment: Appointment, now: datetime) -> bool:
    """Whether the Join button shows: from 15 minutes before the start until the end. Instants, so a
    daylight-saving change in the client's zone moves nothing."""
    return appointment.starts_at - JOIN_EARLY <= now < appointment.ends_at


def room_token(settings: VideoSettings, room: str, now: datetime, moderator: bool = False) -> str:
    """A Jitsi JWT for `room` only, valid for a few minutes; it names nobody."""
    claims = {
        "aud": "jitsi",
        "iss": settings.jitsi_app_id,
        "sub": jitsi_domain(settings),
        "room": room,
        "iat": now,
        "nbf": now - timedelta(seconds=30),
        "exp": now + TOKEN_LIFETIME,
        "context": {"user": {"moderator": moderator}},
    }
    return jwt.encode(claims, jitsi_secret(settings), algorithm="HS256")


def _entry(appointment: Appointment, now: datetime, moderator: bool) -> str:
    room = room_of(appointment)
    if room is None:
        raise NotFound()
    name, link = room
    settings = video_settings()
    if name and uses_tokens(settings):
        return f"{link}?jwt={room_token(settings, name, now, moderator)}"
    return link


def portal_join(viewer, appointment: Appointment | None, now: datetime) -> str:
    """Where the portal's Join sends `viewer` (who may see `appointment`'s record; None: not theirs)."""
    if appointment is None:
        raise NotFound()
    if viewer.read_only:
        raise NotAllowed("A preview does not join sessions.")
    if appointment.group_id is not None and not join_open(appointment, now):
        # A group's room is its own (group_room_name); still, a member is handed it (and a token)
        # only while their own session is on, as the group is other clients' too.
        raise NotAllowed("A group session's room opens 15 minutes before the start.")
    target = _entry(appointment, now, moderator=False)
    record(
        "joined session room",
        client_id=appointment.client_id,
        detail=f"appointment {appointment.id}",
        **viewer.audit_actor,
    )
    return target


def staff_join(actor: User, appointment: Appointment | None, now: datetime) -> str:
    """Where the clinician's Join sends them: only the appointment's own clinician."""
    if appointment is None or appointment.status != "booked" or appointment.clinician_user_id != actor.id:
        raise NotFound()
    target = _entry(appointment, now, moderator=True)
    record(
        "joined session room",
        actor_kind="staff",
        actor_user_id=actor.id,
        actor_name=actor.name,
        client_id=appointment.client_id,
        detail=f"appointment {appointment.id}",
    )
    return target
