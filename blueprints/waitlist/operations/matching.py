"""Which waiting entries a freed time suits: the entries in the order offers go out (staff-chosen
priority first, then first come), the clinicians an entry may be offered, and its days, parts of day,
dates and "move my appointment earlier" (only to an earlier time, and only while that appointment may
still be cancelled: the cancellation window applies)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from blueprints.auth.models import User
from blueprints.scheduling.operations.catalog import offers as clinician_offers
from blueprints.scheduling.operations.portal import clinician_choices
from blueprints.waitlist.models import PARTS, WaitlistEntry
from tenants.database import db
from tenants.features import practice_settings, practice_zone


def order_key(entry: WaitlistEntry):
    """Staff-chosen priority first (lower first), then first come."""
    return (entry.priority is None, entry.priority or 0, entry.created_at, entry.id)


def waiting_entries(clinician_id: int | None = None) -> list[WaitlistEntry]:
    """Waiting entries (for `clinician_id` or any clinician), in the order offers go out."""
    query = select(WaitlistEntry).where(WaitlistEntry.status == "waiting")
    if clinician_id is not None:
        query = query.where(
            (WaitlistEntry.clinician_user_id == clinician_id) | WaitlistEntry.clinician_user_id.is_(None)
        )
    return sorted(db.session.scalars(query), key=order_key)


def clinician_allowed(entry: WaitlistEntry, clinician_id: int) -> bool:
    if entry.clinician_user_id is not None:
        return entry.clinician_user_id == clinician_id and clinician_offers(clinician_id, entry.service)
    choices = clinician_choices(entry.client, entry.service, practice_settings())
    return any(choice.id == clinician_id for choice in choices)


def suits(entry: WaitlistEntry, starts_at: datetime, now: datetime) -> bool:
    """Whether a slot starting at `starts_at` suits the entry: its days, parts of day and dates (in
    the client's zone), and, to move an appointment earlier, one that is earlier than it while that
    appointment may still be cancelled (outside the cancellation window)."""
    local = starts_at.astimezone(practice_zone(entry.client.time_zone))
    if not entry.from_date <= local.date() <= entry.until_date:
        return False
    if not entry.weekdays & (1 << local.weekday()):
        return False
    if not any(entry.parts & bit and low <= local.hour < high for bit, low, high in PARTS.values()):
        return False
    moving = entry.move_appointment
    if entry.move_appointment_id is not None:
        if moving is None or moving.status != "booked" or moving.group_id is not None:
            return False
        if not suits_move(moving, starts_at, now):
            return False
    return entry.client.status == "active"


def suits_move(moving, starts_at: datetime, now: datetime) -> bool:
    """Whether `moving` may be given up for a time at `starts_at`: that time is earlier, and it is
    still outside the cancellation window (checked when offered and again when confirmed)."""
    window = timedelta(hours=practice_settings().cancellation_window_hours)
    return starts_at < moving.starts_at and moving.starts_at - now >= window


def candidates_of(entry: WaitlistEntry) -> list[User]:
    if entry.clinician_user_id is not None:
        return [entry.clinician] if entry.clinician is not None else []
    return clinician_choices(entry.client, entry.service, practice_settings())
