"""Rules of secure messaging: who reads and writes which thread of a client record, and who is told.

Each client record has two threads. "client" is the record's own conversation (for a minor, their
private one); "guardian" is where guardians write on a minor's behalf. A viewer reads "client" only
with `own_messages` and "guardian" only with `guardian_messages` (see `portal.service`), so a guardian
of a teen does not see the teen's own messages unless the practice allowed it.

Notifications never carry a message body: they say there is a new message and link to the portal.
Sending a message and staff reading a record's messages write their own audit lines (never the text).
The text is kept sealed (see `models.Message`); what older releases kept in clear is sealed by
`seal_plain_bodies`, a sealing step `portico db upgrade` runs in every practice it migrates.
"""

from __future__ import annotations

from sqlalchemy import func, select

from app.refusals import NotAllowed, Refusal
from blueprints.audit.service import record
from blueprints.auth.models import User
from blueprints.automations.compose import compose, text_instead
from blueprints.messaging.models import THREADS, Message
from blueprints.notifications.automated import event_on, message_settings
from blueprints.notifications.service import queue_email
from blueprints.people.models import Client, PortalAccess
from blueprints.people.operations.access import live_grants
from blueprints.portal.service import Permissions, permissions_for
from blueprints.portal.viewer import Viewer
from blueprints.profile_links.service import guardian_link_allowed, links_allowed, profile_link_url
from blueprints.staff_notifications.service import notify_staff, register_kind
from tenants.addresses import practice_url
from tenants.context import current_practice
from tenants.database import db
from tenants.encryption import register_sealing_step
from tenants.features import is_enabled, practice_settings, practice_zone

MAX_BODY = 5000
NEW_MESSAGE = "client_message"
register_kind(NEW_MESSAGE, "New client message", "A client sent you a message.")


class MessageError(Refusal):
    """A message was refused (400); the text is fit to show."""


def readable_threads(permissions: Permissions) -> tuple[str, ...]:
    threads = []
    if permissions.own_messages:
        threads.append("client")
    if permissions.guardian_messages:
        threads.append("guardian")
    return tuple(threads)


def writable_thread(viewer_kind: str, permissions: Permissions) -> str | None:
    """Where this viewer's messages go: guardians write in "guardian", everyone else in "client"."""
    if viewer_kind == "guardian":
        return "guardian" if permissions.guardian_messages else None
    return "client" if permissions.own_messages else None


def body_problem(body: str | None) -> str | None:
    text = (body or "").strip()
    if not text:
        return "Write a message first."
    if len(text) > MAX_BODY:
        return f"A message can have at most {MAX_BODY} characters."
    return None


def thread_messages(client_id: int, threads: tuple[str, ...]) -> dict[str, list[Message]]:
    """The messages of `threads` of one client record, oldest first, by thread."""
    result: dict[str, list[Message]] = {thread: [] for thread in threads}
    if not threads:
        return result
    rows = db.session.scalars(
        select(Message)
        .where(Message.client_id == client_id, Message.thread.in_(threads))
        .order_by(Message.created_at, Message.id)
    )
    for message in rows:
        result[message.thread].append(message)
    return result


def message_count(client_id: int) -> int:
    return db.session.scalar(select(func.count(Message.id)).where(Message.client_id == client_id))


def _post_message(
    client: Client,
    thread: str,
    body: str,
    *,
    author_kind: str,
    author_user_id: int | None,
    author_name: str,
) -> Message:
    if thread not in THREADS:
        raise MessageError(problems={"thread": "Choose a conversation."})
    problem = body_problem(body)
    if problem:
        raise MessageError(problems={"body": problem})
    message = Message(
        client_id=client.id,
        thread=thread,
        author_kind=author_kind,
        author_user_id=author_user_id,
        author_name=author_name,
    )
    db.session.add(message)
    db.session.flush()  # the sealed text is bound to the row's id
    message.seal_body(body.strip())
    db.session.flush()
    return message


def seal_plain_bodies(batch: int = 500) -> int:
    """Seal every message text of the bound practice still kept in clear (rows from before t0013),
    emptying the plain copy; returns how many. Run by `portico db upgrade` in each practice."""
    sealed = 0
    while True:
        rows = db.session.scalars(
            select(Message)
            .where(Message.body_sealed.is_(None), Message.plain_body != "")
            .order_by(Message.id)
            .limit(batch)
            .with_for_update()
        ).all()
        for message in rows:
            message.seal_body(message.plain_body)
        db.session.flush()
        sealed += len(rows)
        if len(rows) < batch:
            return sealed


register_sealing_step("message bodies", seal_plain_bodies)


def send_from_portal(viewer: Viewer, body: str) -> Message:
    """The viewer writes in their thread of the record (guardians in "guardian", everyone else in
    "client"); a preview, or a grant without messages, may not write (403)."""
    thread = writable_thread(viewer.kind, viewer.permissions)
    if viewer.read_only or thread is None:
        raise NotAllowed()
    message = _post_message(
        viewer.client,
        thread,
        body,
        author_kind="guardian" if viewer.kind == "guardian" else "client",
        author_user_id=viewer.user_id,
        author_name=viewer.name,
    )
    record("sent a message", client_id=viewer.client.id, detail=f"thread: {thread}", **viewer.audit_actor)
    notify_staff(NEW_MESSAGE, viewer.client, "messaging.staff_messages", {"client_id": viewer.client.id})
    return message


def read_as_staff(staff: User, client: Client, threads: tuple[str, ...]) -> dict[str, list[Message]]:
    """The messages of `threads` of a record, for staff who may see it (the reading is recorded)."""
    record("viewed client messages", client_id=client.id, **staff.audit_actor)
    return thread_messages(client.id, threads)


def staff_threads(client: Client) -> tuple[str, ...]:
    """The threads staff see for a record: "client" always; "guardian" once the record has guardians
    (or messages there)."""
    has_guardians = db.session.scalar(
        select(func.count(PortalAccess.id)).where(
            PortalAccess.client_id == client.id, PortalAccess.relationship_kind == "guardian"
        )
    )
    has_guardian_messages = db.session.scalar(
        select(func.count(Message.id)).where(Message.client_id == client.id, Message.thread == "guardian")
    )
    return ("client", "guardian") if has_guardians or has_guardian_messages else ("client",)


def recipients(client: Client, thread: str, today) -> list[tuple[str, PortalAccess | None]]:
    """Who is told about a new staff message in `thread` of `client`: (address, guardian's grant).

    "client": the address on the record. "guardian": guardians whose grant includes messaging on
    the minor's behalf and still holds today (unrevoked, minor not of age, guardian access on).
    """
    if thread == "client":
        email = (client.email or "").strip()
        return [(email, None)] if email else []
    settings = practice_settings()
    told: dict[str, PortalAccess] = {}
    for access, user in live_grants(client, "guardian"):
        permissions = permissions_for(access, client, settings, today)
        if permissions is not None and permissions.guardian_messages and user.email not in told:
            told[user.email] = access
    return list(told.items())


def _reader_link(client: Client, access: PortalAccess | None, staff: User) -> str:
    """The link in a "new message" email: the client's own profile link on their own thread; a
    guardian's OWN link (their session acting for the minor, within their grant: never the minor's
    record as the minor, which would show the minor's private thread); else the login page (a
    minor's own thread, a practice without profile links)."""
    if is_enabled("profile_links"):
        if access is not None and guardian_link_allowed(client, access):
            return profile_link_url(client, created_by=staff, access_id=access.id)
        if access is None and links_allowed(client):
            return profile_link_url(client, created_by=staff)
    return practice_url(current_practice().slug, "/login")


def notify(client: Client, thread: str, staff: User, today) -> list[str]:
    """Tell the thread's recipients there is a new message (never its text), with the practice's
    "new message" template (or the discreet one), unless the practice switched it off. Returns the
    addresses. Each reader's link is their own (`_reader_link`); a profile-link session still asks
    for the password (or a code) before it shows messages.
    """
    settings = message_settings()
    if not event_on(settings, "new_message"):
        return []
    if thread == "client" and text_instead(settings, "new_message", client, None) is not None:
        return [client.sms_number]  # the practice sends this one as a text to a client who agreed
    sent = []
    for address, access in recipients(client, thread, today):
        link = _reader_link(client, access, staff)
        subject, body, discreet = compose("new_message", client, None, practice_zone(client.time_zone), link)
        queue_email(address, subject, body, discreet=discreet)
        sent.append(address)
    return sent


def staff_reply(staff: User, client: Client, thread: str, body: str, today) -> tuple[Message, list[str]]:
    """Staff write in one of the record's threads; the thread's recipients are told (their addresses
    are returned)."""
    message = _post_message(
        client, thread, body, author_kind="staff", author_user_id=staff.id, author_name=staff.name
    )
    record("sent a message", client_id=client.id, detail=f"thread: {thread}", **staff.audit_actor)
    return message, notify(client, thread, staff, today)
