"""Emailing staff of their notifications: each staff member's preference (at once, in the daily
digest, never), the email sent at once, and the tokenised one-click unsubscribe.

What an email says is fixed wording per kind ("A client's form needs your attention") and a link to
the notification list: never a client's name, a form, file or message name, or any health detail.
An urgent kind (an item-9 flag) is emailed at once whatever the preference.

The unsubscribe token is `<user id>.<HMAC>`, the HMAC (the app's secret key) over the practice, the
user and their token generation; nothing of it is stored. Unsubscribing bumps the generation, so the
token works once, and a token of another practice or staff member never verifies.
"""

from __future__ import annotations

import hashlib
import hmac

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert

from app.refusals import NotFound, Problems
from blueprints.audit.service import record
from blueprints.auth.models import User
from blueprints.notifications.service import queue_email, register_headers
from blueprints.staff_notifications.models import StaffEmailPreference
from tenants.addresses import practice_url
from tenants.context import current_practice
from tenants.database import db

MODES = {"now": "At once, one email per notification", "digest": "In the daily digest", "never": "Never"}
DEFAULT_MODE = "now"
# Kinds of the outbox rows staff emails are queued as: an undelivered one tells no one (no loop).
ALERT_KIND = "staff_alert"
DIGEST_KIND = "staff_digest"


def preference(user_id: int, lock: bool = False) -> StaffEmailPreference:
    """The staff member's preference row (made, not yet flushed, when there is none)."""
    query = select(StaffEmailPreference).where(StaffEmailPreference.user_id == user_id)
    if lock:  # the row exists before it is locked: two concurrent changes never both insert it
        db.session.execute(insert(StaffEmailPreference).values(user_id=user_id).on_conflict_do_nothing())
        query = query.with_for_update()
    found = db.session.scalars(query).first()
    if found is None:
        found = StaffEmailPreference(user_id=user_id, email_mode=DEFAULT_MODE, token_generation=0)
        db.session.add(found)
    return found


def modes_of(user_ids: list[int]) -> dict[int, str]:
    rows = db.session.execute(
        select(StaffEmailPreference.user_id, StaffEmailPreference.email_mode).where(
            StaffEmailPreference.user_id.in_(user_ids)
        )
    )
    modes = dict(rows.all())
    return {user_id: modes.get(user_id, DEFAULT_MODE) for user_id in user_ids}


def set_mode(staff: User, mode: str) -> StaffEmailPreference:
    if mode not in MODES:
        raise Problems({"email_mode": "Choose one of the options."})
    row = preference(staff.id, lock=True)
    row.email_mode = mode
    db.session.flush()
    return row


def email_at_once(users: list[User], email_text: str, urgent: bool) -> int:
    """Queue one email per user who wants it at once (every user when `urgent`); returns how many."""
    modes = modes_of([user.id for user in users])
    told = 0
    for user in users:
        if urgent or modes[user.id] == "now":
            queue_email(
                user.email,
                "A client needs your attention",
                f"{email_text}\n\nOpen your notifications: {notifications_url()}\n\n"
                f"Choose how you are emailed: {preferences_url()}\n",
                kind=ALERT_KIND,
            )
            told += 1
    return told


def notifications_url() -> str:
    return practice_url(current_practice().slug, "/notifications")


def preferences_url() -> str:
    return practice_url(current_practice().slug, "/account/notifications")


# --- One-click unsubscribe -----------------------------------------------------------------------


def _mac(user_id: int, generation: int) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    message = f"staff-unsubscribe:{current_practice().id}:{user_id}:{generation}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _generation(user_id: int) -> int:
    """The staff member's token generation, read without making a preference row (a GET writes nothing)."""
    found = db.session.scalar(
        select(StaffEmailPreference.token_generation).where(StaffEmailPreference.user_id == user_id)
    )
    return found or 0


def unsubscribe_token(user_id: int) -> str:
    return f"{user_id}.{_mac(user_id, _generation(user_id))}"


def unsubscribe_url(user_id: int) -> str:
    return practice_url(current_practice().slug, f"/u/{unsubscribe_token(user_id)}")


def staff_of_token(token: str) -> User:
    """The active staff member `token` unsubscribes, or NotFound (forged, spent, another practice's)."""
    user_part, _, mac = token.partition(".")
    if not user_part.isdigit() or len(user_part) > 18:
        raise NotFound()
    user = db.session.get(User, int(user_part))
    if user is None or user.kind != "staff" or not user.is_active_account:
        raise NotFound()
    if not hmac.compare_digest(mac, _mac(user.id, _generation(user.id))):
        raise NotFound()
    return user


def unsubscribe(token: str) -> User:
    """The one-click POST: no more emails but urgent ones; the token is spent."""
    user = staff_of_token(token)
    row = preference(user.id, lock=True)
    if not hmac.compare_digest(token.partition(".")[2], _mac(user.id, row.token_generation)):
        raise NotFound()  # spent by a concurrent unsubscribe between the check and the lock
    row.email_mode = "never"
    row.token_generation += 1
    db.session.flush()
    record("unsubscribed from staff emails", actor_kind="staff", actor_user_id=user.id, actor_name=user.name)
    return user


def _unsubscribe_headers(email) -> dict[str, str]:
    """One-click unsubscribe (RFC 8058) for the staff member the email goes to."""
    user = db.session.scalars(
        select(User).where(func.lower(User.email) == email.to_address.lower(), User.kind == "staff")
    ).first()
    if user is None:
        return {}
    return {
        "List-Unsubscribe": f"<{unsubscribe_url(user.id)}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


register_headers(ALERT_KIND, _unsubscribe_headers)
register_headers(DIGEST_KIND, _unsubscribe_headers)
