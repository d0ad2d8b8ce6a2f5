"""Messaging on the portal home (registered with `portal.home`): how many of the practice's
messages the viewer has not read yet, on the open record and on each other record's card.

"Unread" is simple: staff messages in the threads the viewer may read, newer than the newest
message the viewer's login had in front of it when it last opened the messages page. A profile-link
session has no login to remember that by, and is shown the way in without a count.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert

from blueprints.messaging.models import Message, MessageRead
from blueprints.messaging.service import readable_threads
from blueprints.portal.home import register_home_section
from blueprints.portal.viewer import Viewer
from tenants.database import db
from tenants.features import is_enabled


def unread_count(user_id: int, client_id: int, threads: tuple[str, ...]) -> int:
    if not threads:
        return 0
    seen = (
        select(MessageRead.last_read_message_id)
        .where(MessageRead.user_id == user_id, MessageRead.client_id == client_id)
        .scalar_subquery()
    )
    return db.session.scalar(
        select(func.count(Message.id)).where(
            Message.client_id == client_id,
            Message.thread.in_(threads),
            Message.author_kind == "staff",
            Message.id > func.coalesce(seen, 0),
        )
    )


def mark_read(viewer: Viewer) -> None:
    """The viewer has the record's messages in front of them: remember the newest one. A preview
    changes nothing; a profile-link session has no login to remember it for."""
    if viewer.read_only or viewer.user_id is None:
        return
    threads = readable_threads(viewer.permissions)
    if not threads:
        return
    newest = db.session.scalar(
        select(func.max(Message.id)).where(Message.client_id == viewer.client.id, Message.thread.in_(threads))
    )
    if newest is None:
        return
    statement = insert(MessageRead).values(
        user_id=viewer.user_id, client_id=viewer.client.id, last_read_message_id=newest
    )
    db.session.execute(
        statement.on_conflict_do_update(
            index_elements=[MessageRead.user_id, MessageRead.client_id],
            set_={
                "last_read_message_id": func.greatest(MessageRead.last_read_message_id, newest),
                "read_at": func.now(),
            },
        )
    )


def unread_section(viewer: Viewer, client, permissions, current: bool) -> dict | None:
    if not is_enabled("messaging"):
        return None
    stepping_up = viewer.needs_step_up
    if not permissions.messages and not (current and stepping_up):
        return None
    count = None
    if viewer.user_id is not None and viewer.kind != "profile_link":
        count = unread_count(viewer.user_id, client.id, readable_threads(permissions))
    return {"client": client, "count": count}


register_home_section(
    "messages",
    "messaging/_home_unread.html",
    unread_section,
    summary_template="messaging/_home_unread_summary.html",
    order=20,
)
