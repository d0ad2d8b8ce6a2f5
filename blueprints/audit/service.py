"""Writing to the audit log. Never pass passwords, tokens or message bodies as `detail`."""

from __future__ import annotations

from flask import has_request_context, request

from blueprints.audit.models import AuditEvent
from tenants.database import db


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
