"""Writing to the audit log, and reading it back for the owner's page. Never pass passwords, tokens
or message bodies as `detail`.

The log stores ids of people and clients; the features that own them (above audit, which may not
import them) register how to name them: `register_people_names` and `register_client_names`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import has_request_context, request
from sqlalchemy import func, select

from blueprints.audit.models import AuditEvent
from tenants.database import db

PAGE_SIZE = 50

# user ids (a SELECT of them, or anything else `column.in_()` takes) -> (id, name, kind) rows of those
# logins, staff first, then by name.
PeopleNames = Callable[[Any], list[tuple[int, str, str]]]
# a set of client ids -> {id: display name} of those that exist.
ClientNames = Callable[[set[int]], dict[int, str]]

_namers: dict[str, Callable] = {}


def register_people_names(namer: PeopleNames) -> None:
    _namers["people"] = namer


def register_client_names(namer: ClientNames) -> None:
    _namers["clients"] = namer


def record(
    action: str,
    *,
    actor_kind: str,
    actor_user_id: int | None = None,
    actor_name: str | None = None,
    client_id: int | None = None,
    detail: str | None = None,
) -> AuditEvent:
    """Append one event in the caller's transaction (it commits or rolls back with the change)."""
    event = AuditEvent(
        action=action,
        actor_kind=actor_kind,
        actor_user_id=actor_user_id,
        actor_name=actor_name,
        client_id=client_id,
        ip_address=request.remote_addr if has_request_context() else None,
        detail=detail,
    )
    db.session.add(event)
    return event


def events_page(person: int | None, client: int | None, page: int) -> tuple[list[AuditEvent], int]:
    """One page of events (newest first) and the number of events matching the filters."""
    query = select(AuditEvent)
    if person is not None:
        query = query.where(AuditEvent.actor_user_id == person)
    if client is not None:
        query = query.where(AuditEvent.client_id == client)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    events = db.session.scalars(
        query.order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    ).all()
    return list(events), total


def people_in_log() -> list[tuple[int, str, str]]:
    """(id, name, kind) of every login that acted in the log, as the filter offers them."""
    namer = _namers.get("people")
    if namer is None:
        return []
    return namer(select(AuditEvent.actor_user_id).where(AuditEvent.actor_user_id.is_not(None)).distinct())


def client_names(events: list[AuditEvent]) -> dict[int, str]:
    """The names of the clients these events are about."""
    namer = _namers.get("clients")
    ids = {event.client_id for event in events if event.client_id is not None}
    if namer is None or not ids:
        return {}
    return namer(ids)
