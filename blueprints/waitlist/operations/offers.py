"""Offers of a freed time: who is offered it, the hold, the email, confirming, declining, lapsing.

When a time frees (`scheduling.signals.time_freed`: a cancellation, a move, new availability), the
first few matching entries (the practice's `waitlist_offer_count`; staff-chosen priority first, then
first come) are offered one free slot at once, held for `waitlist_hold_minutes` as a 'held'
appointment row (`scheduling.operations.holds`). Each gets an email with no health information (the
service only where the practice shows services in messages, never in discreet mode) and a link whose
token (256 random bits) is stored only as its SHA-256.

The first to confirm takes the hold in one conditional UPDATE (exactly one of any number confirming at
once wins; the others are told "just taken", 409). A hold nobody confirms lapses: the periodic work
(`run_due`, from automations' fan-out through `public.practice_due`) deletes it and offers the same
time to the next entries. Every step is idempotent: a hold is released or taken once, whoever asks.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import exists, func, select

from app.refusals import Conflict, NotFound, Refusal
from app.timefmt import local_time
from app.tokens import new_token, token_hash
from blueprints.auth.models import User
from blueprints.automations.compose import is_discreet, merge_values
from blueprints.notifications.automated import message_settings
from blueprints.notifications.service import queue_email
from blueprints.scheduling.models import Appointment, Service
from blueprints.scheduling.operations.appointments import cancel
from blueprints.scheduling.operations.availability import available_slots
from blueprints.scheduling.operations.common import audit
from blueprints.scheduling.operations.holds import hold_time, release_hold, take_hold
from blueprints.scheduling.operations.recipients import client_recipients
from blueprints.waitlist.models import WaitlistEntry, WaitlistOffer
from blueprints.waitlist.operations.matching import (
    candidates_of,
    clinician_allowed,
    suits,
    suits_move,
    waiting_entries,
)
from tenants.addresses import practice_url
from tenants.context import current_practice
from tenants.database import db
from tenants.due import note_due
from tenants.features import is_enabled, practice_settings

log = logging.getLogger(__name__)

JUST_TAKEN = "Just taken: someone else confirmed this time first. You stay on the waitlist."
ENDED = "This offer has ended. You stay on the waitlist, and we will write when another time opens."
MOVED_MEANWHILE = (
    "Your appointment was changed since this offer, so it was not moved. Please contact the practice."
)
MAX_HOLDS = 10  # slots held for one freed time at most (a long gap may fit several sessions)


class OfferGone(Refusal):
    """The offer ended (answered, declined or lapsed): 410."""

    status = 410


def now_utc() -> datetime:
    return datetime.now(UTC)


# --- Offering a freed time ----------------------------------------------------------------------


def on_time_freed(sender, clinician_id=None, starts_at=None, ends_at=None, **_) -> None:
    """The `time_freed` receiver: offer the time now, in the change's own transaction (a savepoint).
    A failure here never refuses the change that freed the time: it is logged and nothing is offered
    for this time (the next freed time, or a lapse, offers again)."""
    if not is_enabled("waitlist"):
        return
    try:
        with db.session.begin_nested():
            offer_freed(clinician_id, starts_at, ends_at, now_utc())
    except Exception:  # noqa: BLE001 - the cancellation must stand
        log.exception("waitlist: offering a freed time failed; nothing was offered for it")


def offer_freed(
    clinician_id: int | None, starts_at: datetime | None, ends_at: datetime | None, now: datetime
) -> int:
    """Offer free slots in the window (None: anywhere ahead) to the matching entries; returns how
    many holds were made."""
    settings = practice_settings()
    entries = [e for e in waiting_entries(clinician_id) if e.until_date >= now.date() - timedelta(days=1)]
    busy = set(
        db.session.scalars(
            select(WaitlistOffer.entry_id).where(
                WaitlistOffer.status == "open", WaitlistOffer.expires_at > now
            )
        )
    )
    entries = [e for e in entries if e.id not in busy]
    if not entries:
        return 0
    clinicians = (
        [clinician_id]
        if clinician_id is not None
        else sorted({c.id for e in entries for c in candidates_of(e)})
    )
    made = 0
    hold_for = timedelta(minutes=settings.waitlist_hold_minutes)
    for cid in clinicians:
        for service_id in dict.fromkeys(e.service_id for e in entries):
            candidates = [e for e in entries if e.service_id == service_id and clinician_allowed(e, cid)]
            if not candidates:
                continue
            service = db.session.get(Service, service_id)
            for slot in _slots_in(cid, service, starts_at, ends_at, now + hold_for):
                fitting = [e for e in candidates if suits(e, slot, now) and not _offered_before(e, cid, slot)]
                if not fitting:
                    continue
                chosen = fitting[: settings.waitlist_offer_count]
                held = hold_time(chosen[0].client, db.session.get(User, cid), service, slot)
                if held is None:
                    continue
                for entry in chosen:
                    make_offer(entry, held, now + hold_for)
                note_due(now + hold_for)
                entries = [e for e in entries if e not in chosen]
                candidates = [e for e in candidates if e not in chosen]
                made += 1
                if made >= MAX_HOLDS or not candidates:
                    break
            if made >= MAX_HOLDS:
                return made
    return made


def _slots_in(clinician_id: int, service: Service, start, end, earliest: datetime) -> list[datetime]:
    length = timedelta(minutes=service.duration_minutes)
    slots = available_slots(clinician_id, service, now=earliest)
    if start is None or end is None:
        return slots
    # The freed time itself first (slots inside it), then those that overlap it.
    return sorted(
        (slot for slot in slots if slot < end and slot + length > start),
        key=lambda slot: (not (slot >= start and slot + length <= end), slot),
    )


def _offered_before(entry: WaitlistEntry, clinician_id: int, slot: datetime) -> bool:
    return bool(
        db.session.scalar(
            select(
                exists().where(
                    WaitlistOffer.entry_id == entry.id,
                    WaitlistOffer.clinician_user_id == clinician_id,
                    WaitlistOffer.starts_at == slot,
                )
            )
        )
    )


def make_offer(entry: WaitlistEntry, held: Appointment, expires_at: datetime) -> str:
    """Offer the held time to the entry until `expires_at`: the offer row, its email, its audit
    line. Returns the link's token (only its hash is kept)."""
    token = new_token()
    offer = WaitlistOffer(
        entry_id=entry.id,
        appointment_id=held.id,
        clinician_user_id=held.clinician_user_id,
        service_id=held.service_id,
        starts_at=held.starts_at,
        token_hash=token_hash(token),
        expires_at=expires_at,
    )
    db.session.add(offer)
    db.session.flush()
    _email(entry, held, token, expires_at)
    audit(
        {"actor_kind": "system", "actor_user_id": None, "actor_name": "Waitlist"},
        "offered a waitlist time",
        entry.client_id,
        detail=f"offer {offer.id}",
    )
    return token


def offer_path(token: str) -> str:
    return f"/portal/offers/{token}"


def _email(entry: WaitlistEntry, held: Appointment, token: str, expires_at: datetime) -> None:
    """The offer, to the client's side (`client_recipients`), with no health information."""
    settings = message_settings()
    discreet = is_discreet(settings, entry.client)
    link = practice_url(current_practice().slug, offer_path(token))
    for person in client_recipients(entry.client):
        values = merge_values(
            settings,
            discreet,
            entry.client.first_name,
            held.starts_at,
            person.zone,
            held.clinician.name,
            held.service.name,
            link,
        )
        greeting = f"Hello {values['first_name']}," if person.kind == "client" else "Hello,"
        what = values["date_time"]
        if values["clinician"]:
            what += f" with {values['clinician']}"
        if values["service"]:
            what += f" ({values['service']})"
        until = local_time(expires_at, person.zone, "long")
        queue_email(
            person.address,
            "A time has opened up",
            f"{greeting}\n\nA time you are waiting for has opened up: {what}.\n\n"
            f"It is held until {until}. It may be offered to a few people at once: whoever confirms "
            f"first gets it.\n\nConfirm or decline: {link}\n\n{values['practice_name']}\n",
            discreet=discreet,
            kind="waitlist_offer",
        )


# --- Answering an offer -------------------------------------------------------------------------


def find_offer(token: str) -> WaitlistOffer:
    """The offer of this link (404 for a token nobody issued here)."""
    offer = db.session.scalars(
        select(WaitlistOffer).where(WaitlistOffer.token_hash == token_hash(token or ""))
    ).first()
    if offer is None:
        raise NotFound("This link is not valid.")
    return offer


def offer_state(offer: WaitlistOffer, now: datetime) -> str:
    """'open', 'accepted', 'taken' (someone else confirmed) or 'ended' (declined, lapsed, expired)."""
    if offer.status == "open" and offer.expires_at <= now:
        return "ended"
    if offer.status in ("declined", "lapsed"):
        return "ended"
    return offer.status


def _answerable(offer: WaitlistOffer, now: datetime) -> None:
    state = offer_state(offer, now)
    if state == "taken":
        raise Conflict(JUST_TAKEN)
    if state != "open":
        raise OfferGone(ENDED if state == "ended" else "You already confirmed this time.")


def confirm_offer(token: str, now: datetime | None = None) -> Appointment:
    """Take the offered time: the booking is the entry's client's, its invites go out, an appointment
    to move earlier is cancelled in the same transaction (which frees its time in turn)."""
    now = now or now_utc()
    offer = find_offer(token)
    _answerable(offer, now)
    entry = offer.entry
    if entry.client.status != "active":
        raise OfferGone(ENDED)  # archived since it was offered (the link needs no login)
    moving = entry.move_appointment
    if moving is not None and moving.status == "booked" and not suits_move(moving, offer.starts_at, now):
        # Checked when offered; staff may have moved it since (before this time, or into the
        # cancellation window): confirming must not cancel it for a later or late-cancelled time.
        raise Conflict(MOVED_MEANWHILE)
    still_open = exists().where(
        WaitlistOffer.id == offer.id,
        WaitlistOffer.appointment_id == Appointment.id,
        WaitlistOffer.status == "open",
        WaitlistOffer.expires_at > now,
    )
    appointment = (
        take_hold(offer.appointment_id, entry.client_id, still_open) if offer.appointment_id else None
    )
    if appointment is None:
        raise Conflict(JUST_TAKEN)
    for other in db.session.scalars(
        select(WaitlistOffer).where(
            WaitlistOffer.appointment_id == appointment.id, WaitlistOffer.id != offer.id
        )
    ):
        if other.status == "open":
            other.status = "taken"
    offer.status, offer.answered_at = "accepted", func.now()
    entry.status, entry.booked_appointment_id = "booked", appointment.id
    actor = {"actor_kind": "client", "actor_user_id": None, "actor_name": entry.client.display_name}
    db.session.flush()
    if moving is not None and moving.status == "booked":
        cancel(moving, by="client")
        audit(actor, "cancelled appointment", entry.client_id, detail="moved earlier from the waitlist")
    audit(actor, "booked appointment", entry.client_id, detail=f"from a waitlist offer {offer.id}")
    return appointment


def decline_offer(token: str, now: datetime | None = None) -> WaitlistOffer:
    """Say no: the entry stays waiting; when nobody is left to answer, the hold goes to the next."""
    now = now or now_utc()
    offer = find_offer(token)
    _answerable(offer, now)
    offer.status, offer.answered_at = "declined", func.now()
    db.session.flush()
    audit(
        {"actor_kind": "client", "actor_user_id": None, "actor_name": offer.entry.client.display_name},
        "declined a waitlist offer",
        offer.entry.client_id,
        detail=f"offer {offer.id}",
    )
    _release_if_unanswered(offer.appointment_id, now)
    return offer


def withdraw_offers(entry: WaitlistEntry, now: datetime) -> None:
    """The entry left the waitlist: its open offers are declined (and their holds passed on)."""
    for offer in db.session.scalars(
        select(WaitlistOffer).where(WaitlistOffer.entry_id == entry.id, WaitlistOffer.status == "open")
    ):
        offer.status, offer.answered_at = "declined", func.now()
        db.session.flush()
        _release_if_unanswered(offer.appointment_id, now)


def _release_if_unanswered(appointment_id: int | None, now: datetime) -> None:
    if appointment_id is None:
        return
    waiting = db.session.scalar(
        select(func.count()).where(
            WaitlistOffer.appointment_id == appointment_id,
            WaitlistOffer.status == "open",
            WaitlistOffer.expires_at > now,
        )
    )
    if not waiting:
        _lapse(appointment_id, now)


# --- Lapsing ------------------------------------------------------------------------------------


def _lapse(appointment_id: int, now: datetime) -> None:
    """Let the hold go (once: a hold taken meanwhile stays taken) and offer its time to the next."""
    held = db.session.get(Appointment, appointment_id)
    if held is None or held.status != "held":
        return
    clinician_id, starts_at, ends_at = held.clinician_user_id, held.starts_at, held.ends_at
    if not release_hold(appointment_id):
        return
    for offer in db.session.scalars(
        select(WaitlistOffer).where(
            WaitlistOffer.appointment_id == appointment_id, WaitlistOffer.status == "open"
        )
    ):
        offer.status = "lapsed"
    db.session.flush()
    if is_enabled("waitlist"):
        offer_freed(clinician_id, starts_at, ends_at, now)


def run_due(now: datetime) -> None:
    """The periodic work: every hold whose offers all ran out lapses, and its time goes to the next."""
    expired = db.session.scalars(
        select(WaitlistOffer.appointment_id)
        .where(
            WaitlistOffer.status == "open",
            WaitlistOffer.expires_at <= now,
            WaitlistOffer.appointment_id.is_not(None),
        )
        .distinct()
    ).all()
    for appointment_id in expired:
        _release_if_unanswered(appointment_id, now)
    for offer in db.session.scalars(
        select(WaitlistOffer).where(WaitlistOffer.status == "open", WaitlistOffer.expires_at <= now)
    ):
        offer.status = "lapsed"  # a hold already gone (taken or released) leaves nothing to answer
    db.session.flush()


def next_due(now: datetime) -> datetime | None:
    """When the next open offer runs out (the periodic work is due then)."""
    return db.session.scalar(
        select(func.min(WaitlistOffer.expires_at)).where(
            WaitlistOffer.status == "open", WaitlistOffer.expires_at > now
        )
    )
