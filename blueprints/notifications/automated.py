"""Automated messages to clients: the event registry, the practice's choices, and the hold.

Every automated client message starts here, with `notify_client(event, client, ...)` called by the
operation that caused it, in its transaction. This module decides whether the practice wants that
event (`MessageSettings.events` over the registry's defaults), and queues a `ClientNotice` that a job
turns into messages when it is due. Which words and which recipients a notice becomes is the
business of the package that registered the message kind (`register_sender`), higher up: it knows
appointments, profile links and guardians, which this package may not import.

The hold: a booking, a move or a cancellation waits `hold_seconds` (3 minutes) before it goes, and
all changes to one appointment collapse into one held notice, sent as the appointment is when the
job runs. `told_*` records what the client knew before the first held change, so a change undone
inside the hold (booked then cancelled, moved and moved back) sends nothing.

Other packages add their events (documents: "a document shared", onboarding: "forms to complete")
with `register_event`, and their message kinds with `register_kind` + `register_sender`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app, g
from sqlalchemy import select

from app import jobs
from blueprints.notifications.models import ClientNotice, MessageSettings
from tenants.context import current_practice
from tenants.database import db
from tenants.due import note_due

SEND_NOTICE_TASK = "notifications.send_client_notice"
HELD_KINDS = ("booked", "rescheduled", "cancelled")  # appointment changes wait out the hold
MAX_OFFSET_MINUTES = 14 * 24 * 60


@dataclass(frozen=True)
class Event:
    key: str  # "rescheduled_by_staff"
    kind: str  # the message (and template) it sends: "rescheduled"
    label: str  # what the settings page calls it
    default_on: bool = True


@dataclass(frozen=True)
class Kind:
    key: str
    label: str
    subject: str
    body: str
    # A neutral version for discreet mode, not editable: nothing of the practice in it.
    discreet_subject: str
    discreet_body: str
    about_appointment: bool = True
    # Held like an appointment change and collapsed per client: several forms or documents shared
    # in a row make one message.
    held_per_client: bool = False


EVENTS: dict[str, Event] = {}
KINDS: dict[str, Kind] = {}
_senders: dict[str, Callable[[ClientNotice], int]] = {}


def register_event(key: str, kind: str, label: str, default_on: bool = True) -> None:
    EVENTS[key] = Event(key, kind, label, default_on)


def register_kind(kind: Kind) -> None:
    KINDS[kind.key] = kind


def register_sender(kind: str, send: Callable[[ClientNotice], int]) -> None:
    """`send(notice)` turns a due notice of `kind` into queued messages (returns how many)."""
    _senders[kind] = send


def sender_for(kind: str) -> Callable[[ClientNotice], int] | None:
    return _senders.get(kind)


def message_settings() -> MessageSettings:
    """The bound practice's row (created on first use), held for the request or job: the session
    keeps unchanged rows only weakly, and a batch asks for it once per message."""
    practice = current_practice()
    cached = g.get("_portico_message_settings")
    if cached is not None and cached[0] == practice.id and cached[1] in db.session:
        return cached[1]
    row = db.session.get(MessageSettings, 1)
    if row is None:
        row = MessageSettings(id=1, events={}, templates={})
        db.session.add(row)
        db.session.flush()
    g._portico_message_settings = (practice.id, row)
    return row


def event_on(settings: MessageSettings, key: str) -> bool:
    event = EVENTS.get(key)
    if event is None:
        return False
    return bool((settings.events or {}).get(key, event.default_on))


def template_for(settings: MessageSettings, kind: str) -> tuple[str, str]:
    """The practice's (subject, body) for `kind`, or the built-in one."""
    base = KINDS[kind]
    own = (settings.templates or {}).get(kind) or {}
    return own.get("subject") or base.subject, own.get("body") or base.body


def reminder_offsets(settings: MessageSettings) -> list[int]:
    """The practice's reminder offsets in minutes, largest first (a bad stored value is skipped)."""
    found = set()
    for part in (settings.reminder_offsets or "").split(","):
        if part.strip().isdigit() and 0 < int(part) <= MAX_OFFSET_MINUTES:
            found.add(int(part))
    return sorted(found, reverse=True)


def note_appointment_time(starts_at: datetime) -> None:
    """An appointment now starts at `starts_at`: the practice's periodic work is due no later than
    its first reminder (the platform task fans out to the practice then)."""
    offsets = reminder_offsets(message_settings())
    if offsets:
        note_due(max(now(), starts_at - timedelta(minutes=offsets[0])))


def note_cancellation() -> None:
    """An appointment was cancelled: the practice's periodic work is due when its follow-up is."""
    settings = message_settings()
    if event_on(settings, "cancellation_followup"):
        note_due(now() + timedelta(days=settings.followup_days))


def hold_seconds() -> int:
    return current_app.config["PORTICO"].message_hold_seconds


def now() -> datetime:
    return datetime.now(UTC)


def notify_client(
    kind: str,
    client_id: int,
    *,
    by: str = "staff",
    appointment=None,
    told: tuple[str | None, datetime | None] = (None, None),
    detail: str | None = None,
) -> ClientNotice | None:
    """Queue the automated message `kind` for a client's side when the practice wants it.

    `by`: "client" or "staff" (booked/rescheduled/cancelled are switched separately for each);
    `appointment`: what it is about; `told`: the appointment's (status, start) the client knew
    before this change (booked: nothing). Appointment changes are held and collapsed (see module).
    """
    settings = message_settings()
    key = f"{kind}_by_{by}" if kind in HELD_KINDS else kind
    per_client = kind in KINDS and KINDS[kind].held_per_client
    held = None
    if appointment is not None and kind in HELD_KINDS:
        held = db.session.scalars(
            select(ClientNotice)
            .where(ClientNotice.appointment_id == appointment.id, ClientNotice.state == "held")
            .with_for_update()
        ).first()
    elif per_client:
        held = db.session.scalars(
            select(ClientNotice)
            .where(
                ClientNotice.client_id == client_id,
                ClientNotice.event == kind,
                ClientNotice.state == "held",
            )
            .with_for_update()
        ).first()
    if held is None and not event_on(settings, key):
        return None
    due = now() + timedelta(seconds=hold_seconds() if kind in HELD_KINDS or per_client else 0)
    if held is not None:  # collapse: the one held notice now says the latest state, later
        held.event, held.by_kind, held.due_at = kind, by, due
        notice = held
    else:
        notice = ClientNotice(
            event=kind,
            by_kind=by,
            client_id=client_id,
            appointment_id=appointment.id if appointment is not None else None,
            told_status=told[0],
            told_starts_at=told[1],
            detail=detail,
            due_at=due,
        )
        db.session.add(notice)
    db.session.flush()
    jobs.defer_in(SEND_NOTICE_TASK, max(0, int((due - now()).total_seconds())), notice_id=notice.id)
    return notice


def deliver_notice(notice_id: int) -> None:
    """The job: send a due held notice once (a notice whose hold was extended waits for its later job)."""
    notice = db.session.get(ClientNotice, notice_id, with_for_update=True)
    if notice is None or notice.state != "held" or notice.due_at > now():
        db.session.rollback()
        return
    send = sender_for(notice.event)
    notice.state = "sent" if send is not None and send(notice) else "dropped"
    notice.sent_at = now()
    db.session.commit()


def practice_name_for(discreet: bool, settings: MessageSettings) -> str:
    return settings.discreet_sender if discreet else current_practice().name
