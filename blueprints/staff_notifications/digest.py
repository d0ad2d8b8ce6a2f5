"""The staff's daily digest: at the practice's local `digest_hour`, each staff member who chose the
digest gets one email of counts and links, each counted from its feature's own tables over the
clients the staff member may see (clinicians: their assigned clients): appointments today, pending
requests and the oldest's age (scheduling), client messages waiting for a reply (messaging), forms
completed since their last digest (onboarding), uploads to review (documents). No client name, no
health detail.

Computed from a given "now" (`send_digests(now)`, `next_digest_at(now)`), run by the practice's
periodic work (`automations`, fanned out from `public.practice_due`). Once per (staff member, local
date): the claim (`DigestSent`) is inserted before the email is queued, in the same transaction, so
a restart, a retry or a second worker finds it taken. A worker that was down sends the day's digest
late (the same local date), never twice.

Features above this package add their lines with `register_digest_line(fn)`; `fn(staff, start,
end)` returns (label, count, path) tuples for the practice-local day [start, end).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert

from app.roles import STAFF_ROLES
from blueprints.auth.models import User
from blueprints.notifications.service import queue_email
from blueprints.staff_notifications.email import (
    DIGEST_KIND,
    notifications_url,
    preferences_url,
    unsubscribe_url,
)
from blueprints.staff_notifications.models import DigestSent, StaffEmailPreference
from tenants.addresses import practice_url
from tenants.context import current_practice
from tenants.database import db
from tenants.due import note_due
from tenants.features import practice_settings, practice_zone

DigestLine = tuple[str, int, str]  # label (with any figure such as an age), count, path
_line_sources: list[Callable[[User, datetime, datetime], list[DigestLine]]] = []


def register_digest_line(source: Callable[[User, datetime, datetime], list[DigestLine]]) -> None:
    _line_sources.append(source)


def _at_local(day: date, hour: int) -> datetime:
    """`hour`:00 on `day` in the practice's zone, as an aware time (a time skipped by a DST change
    reads as the hour after it)."""
    zone = practice_zone()
    return datetime.combine(day, time(hour), tzinfo=zone).astimezone(zone)


def _digest_staff() -> list[User]:
    return list(
        db.session.scalars(
            select(User)
            .join(StaffEmailPreference, StaffEmailPreference.user_id == User.id)
            .where(
                StaffEmailPreference.email_mode == "digest",
                User.kind == "staff",
                User.role.in_(STAFF_ROLES),
                User.is_active_account.is_(True),
            )
            .order_by(User.id)
        )
    )


def next_digest_at(now: datetime) -> datetime | None:
    """When the next digest is due after `now` (None: nobody takes the digest)."""
    if not _digest_staff():
        return None
    hour = practice_settings().digest_hour
    today = now.astimezone(practice_zone()).date()
    due = _at_local(today, hour)
    return due if due > now else _at_local(today + timedelta(days=1), hour)


def schedule(now: datetime | None = None) -> None:
    """Bring the practice's next periodic run forward to the next digest, when someone takes it."""
    at = next_digest_at(now or datetime.now(practice_zone()))
    if at is not None:
        note_due(at)


def since_last_digest(staff: User, day_start: datetime) -> datetime | None:
    """When `staff`'s last digest before the local day starting at `day_start` was sent (None: never)."""
    return db.session.scalar(
        select(func.max(DigestSent.sent_at)).where(
            DigestSent.user_id == staff.id, DigestSent.local_date < day_start.date()
        )
    )


def digest_text(staff: User, local_day: date) -> str:
    """The digest's plain text for `staff`: counts and links only."""
    start = _at_local(local_day, 0)
    end = _at_local(local_day + timedelta(days=1), 0)
    lines = [line for source in _line_sources for line in source(staff, start, end)]
    slug = current_practice().slug
    body = [f"Your daily digest for {local_day.strftime('%A %-d %B %Y')}.", ""]
    if not any(count for _, count, _ in lines):
        body.append("Nothing is waiting for you today.")
    for label, count, path in lines:
        body.append(f"{label}: {count}  {practice_url(slug, path)}")
    body += [
        "",
        f"All your notifications: {notifications_url()}",
        f"Choose how you are emailed: {preferences_url()}",
        f"Stop these emails: {unsubscribe_url(staff.id)}",
    ]
    return "\n".join(body) + "\n"


def send_digests(now: datetime) -> int:
    """Queue the digests due at `now` not sent yet for today's local date; returns how many."""
    hour = practice_settings().digest_hour
    local_day = now.astimezone(practice_zone()).date()
    if now < _at_local(local_day, hour):
        return 0
    staff = _digest_staff()
    if not staff:
        return 0
    claimed = set(
        db.session.scalars(
            insert(DigestSent)
            .values([{"user_id": user.id, "local_date": local_day} for user in staff])
            .on_conflict_do_nothing()
            .returning(DigestSent.user_id)
        )
    )
    sent = 0
    for user in staff:
        if user.id in claimed:
            queue_email(user.email, "Your daily digest", digest_text(user, local_day), kind=DIGEST_KIND)
            sent += 1
    db.session.flush()
    return sent
