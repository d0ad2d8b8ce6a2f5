"""Messaging's line in the staff's daily digest: client messages waiting for a reply (the newest
message of a thread is the client's or a guardian's), counted over the records the staff member may
see. A count and a link only: no client, no text."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from blueprints.auth.models import User
from blueprints.messaging.models import Message
from blueprints.people.models import Client
from blueprints.people.operations.access import visible_clients
from blueprints.staff_notifications.digest import DigestLine, register_digest_line
from tenants.database import db
from tenants.features import is_enabled


def waiting_for_reply(staff: User) -> int:
    newest = (
        select(Message.client_id, Message.thread, func.max(Message.id).label("last_id"))
        .where(
            Message.client_id.in_(
                visible_clients(staff).where(Client.status == "active").with_only_columns(Client.id)
            )
        )
        .group_by(Message.client_id, Message.thread)
        .subquery()
    )
    return (
        db.session.scalar(
            select(func.count())
            .select_from(newest)
            .join(Message, Message.id == newest.c.last_id)
            .where(Message.author_kind != "staff")
        )
        or 0
    )


def _digest_lines(staff: User, start: datetime, end: datetime) -> list[DigestLine]:
    if not is_enabled("messaging"):
        return []
    return [("Client messages waiting for a reply", waiting_for_reply(staff), "/notifications")]


register_digest_line(_digest_lines)
