"""Rules of profile links (passwordless `/l/<token>` links into one client's portal) and of the step-up
(password or emailed six-digit code) that a profile-link session needs for messages, documents and forms.

A link's token has 256 random bits and is stored only as its SHA-256; it is bound to one client of one
practice (the row lives in that practice's schema, so another practice's token is simply not found),
expires after the practice's `profile_link_days`, can be revoked, and is used up by its first exchange
for a session. Step-up codes are stored only as an HMAC keyed with the installation's secret.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import func, select, update

from app.refusals import Refusal
from app.tokens import new_token, token_hash
from blueprints.auth.models import User
from blueprints.auth.service import authenticate
from blueprints.notifications.service import queue_email
from blueprints.people.models import Client, PortalAccess
from blueprints.profile_links.models import ProfileLink, StepUpCode
from tenants.addresses import practice_url
from tenants.context import current_practice
from tenants.database import db
from tenants.features import is_enabled, practice_settings, practice_today

# secrets.token_urlsafe(32): 43 characters of the URL-safe base64 alphabet.
_TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{43}$")
CODE_MINUTES = 10
CODE_MAX_TRIES = 5
CODES_PER_HOUR = 5  # per client, on top of the per-address rate limit of the view
SELF_SERVICE_LINKS_PER_HOUR = 3  # "email me a new link" answers for one client at most this often


class StepUpError(Refusal):
    """A step-up attempt was refused (400); the message is fit to show."""


def _now() -> datetime:
    return datetime.now(UTC)


def link_path(raw_token: str) -> str:
    return f"/l/{raw_token}"


# ---------------------------------------------------------------------------------------------
# Profile links
# ---------------------------------------------------------------------------------------------


def create_link(client: Client, created_by: User | None = None) -> str:
    """A new link for `client`; returns the raw token (never stored)."""
    raw = new_token()  # 256 random bits
    db.session.add(
        ProfileLink(
            client_id=client.id,
            token_hash=token_hash(raw),
            created_by_user_id=created_by.id if created_by is not None else None,
            expires_at=_now() + timedelta(days=practice_settings().profile_link_days),
        )
    )
    db.session.flush()
    return raw


def profile_link_url(client: Client, created_by: User | None = None) -> str:
    """Create a link for `client` and return its absolute address (for automated emails)."""
    return practice_url(current_practice().slug, link_path(create_link(client, created_by)))


def _live_link_filter():
    return (
        ProfileLink.used_at.is_(None),
        ProfileLink.revoked_at.is_(None),
        ProfileLink.expires_at > func.now(),
        ProfileLink.client_id.in_(select(Client.id).where(Client.status == "active")),
    )


def well_formed(raw_token: str | None) -> bool:
    return bool(raw_token) and bool(_TOKEN_SHAPE.match(raw_token))


def find_live_link(raw_token: str | None) -> ProfileLink | None:
    """The live link with this token (not expired, revoked or used; client active), or None."""
    if not well_formed(raw_token):
        return None
    return db.session.scalars(
        select(ProfileLink).where(ProfileLink.token_hash == token_hash(raw_token), *_live_link_filter())
    ).first()


def consume_link(raw_token: str | None) -> ProfileLink | None:
    """Use a link up and return it, or None. Atomic: of two racing uses, exactly one wins."""
    if not well_formed(raw_token):
        return None
    link_id = db.session.execute(
        update(ProfileLink)
        .where(ProfileLink.token_hash == token_hash(raw_token), *_live_link_filter())
        .values(used_at=func.now())
        .returning(ProfileLink.id)
        .execution_options(synchronize_session=False)
    ).scalar()
    if link_id is None:
        return None
    return db.session.get(ProfileLink, link_id, populate_existing=True)


def live_links(client_id: int) -> list[ProfileLink]:
    return list(
        db.session.scalars(
            select(ProfileLink)
            .where(ProfileLink.client_id == client_id, *_live_link_filter())
            .order_by(ProfileLink.created_at.desc(), ProfileLink.id.desc())
        )
    )


def revoke_link(client_id: int, link_id: int) -> bool:
    """Revoke one live link of `client_id`; False when there is no such live link."""
    revoked = db.session.execute(
        update(ProfileLink)
        .where(ProfileLink.id == link_id, ProfileLink.client_id == client_id, *_live_link_filter())
        .values(revoked_at=func.now())
        .returning(ProfileLink.id)
        .execution_options(synchronize_session=False)
    ).scalar()
    return revoked is not None


def end_link_session(client_id: int, link_id: int) -> None:
    """Logging out of a profile-link session: its link (used already) is revoked, so a copy of the
    session cookie opens nothing afterwards."""
    db.session.execute(
        update(ProfileLink)
        .where(ProfileLink.id == link_id, ProfileLink.client_id == client_id)
        .where(ProfileLink.revoked_at.is_(None))
        .values(revoked_at=func.now())
        .execution_options(synchronize_session=False)
    )


def revoke_all(client_id: int) -> int:
    """Revoke every link of `client_id` not revoked yet; returns how many.

    Used links are marked too: a session opened by one carries the link's id (`link_id`), so the
    portal can end such sessions when their link is revoked.
    """
    rows = db.session.execute(
        update(ProfileLink)
        .where(ProfileLink.client_id == client_id, ProfileLink.revoked_at.is_(None))
        .values(revoked_at=func.now())
        .returning(ProfileLink.id)
        .execution_options(synchronize_session=False)
    ).all()
    return len(rows)


def link_email(client: Client, url: str) -> tuple[str, str]:
    """Subject and body of an email that carries a profile link."""
    practice = current_practice()
    days = practice_settings().profile_link_days
    return (
        f"Your link to the {practice.name} portal",
        f"Hello {client.display_name},\n\n"
        f"{practice.name} sent you a link to your client portal. Open it to see and manage your "
        f"appointments:\n\n{url}\n\n"
        f"The link works once and expires in {days} days. Please do not forward this email.\n"
        "If you did not expect it, you can ignore it.\n",
    )


def links_allowed(client: Client) -> bool:
    """Minors get no profile links: a minor's address on file is often a parent's, and a link opens
    the record as the minor. Minors and guardians use their own logins instead."""
    from blueprints.portal.service import is_minor

    return client.status == "active" and not is_minor(client, practice_settings(), practice_today())


def send_link(client: Client, staff: User) -> None:
    """Email `client` a fresh link (staff's "Email a profile link")."""
    if client.status != "active":
        raise ValueError("Archived clients cannot be sent a profile link.")
    if not links_allowed(client):
        raise ValueError(
            "Minors are not sent profile links: invite the minor or a guardian to the portal instead."
        )
    if not (client.email or "").strip():
        raise ValueError("This client has no email address on file. Add one to the record first.")
    subject, body = link_email(client, profile_link_url(client, created_by=staff))
    queue_email(client.email.strip(), subject, body)


def request_new_link(email: str) -> list[Client]:
    """ "Email me a new link": email a fresh link to each active client whose address on file is `email`.

    The caller answers the same whatever this returns (the clients that were sent a link).
    """
    address = (email or "").strip().lower()
    if not address or not is_enabled("profile_links"):
        return []
    clients = db.session.scalars(
        select(Client)
        .where(func.lower(Client.email) == address, Client.status == "active")
        .order_by(Client.id)
    ).all()
    hour_ago = _now() - timedelta(hours=1)
    sent = []
    for client in clients:
        if not links_allowed(client):
            continue
        recent = db.session.scalar(
            select(func.count(ProfileLink.id)).where(
                ProfileLink.client_id == client.id, ProfileLink.created_at > hour_ago
            )
        )
        if recent >= SELF_SERVICE_LINKS_PER_HOUR:
            continue
        subject, body = link_email(client, profile_link_url(client))
        queue_email(client.email.strip(), subject, body)
        sent.append(client)
    return sent


# ---------------------------------------------------------------------------------------------
# Step-up
# ---------------------------------------------------------------------------------------------


def _password_logins(client: Client) -> list[User]:
    """The client's own ("self") active logins that have a password."""
    return list(
        db.session.scalars(
            select(User)
            .join(PortalAccess, PortalAccess.user_id == User.id)
            .where(
                PortalAccess.client_id == client.id,
                PortalAccess.relationship_kind == "self",
                PortalAccess.revoked_at.is_(None),
                User.password_hash.is_not(None),
                User.is_active_account.is_(True),
            )
            .order_by(User.id)
        )
    )


def can_use_password(client: Client) -> bool:
    return bool(_password_logins(client))


def can_email_code(client: Client) -> bool:
    return bool((client.email or "").strip())


def check_password(client: Client, password: str) -> bool:
    """True when `password` is the portal password of one of the client's own logins."""
    for login in _password_logins(client):
        user = authenticate(login.email, password or "")
        if user is not None and user.id == login.id:
            return True
    return False


def _code_hash(client_id: int, code: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    message = f"step-up:{current_practice().id}:{client_id}:{code}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def send_code(client: Client) -> None:
    """Email a fresh six-digit code to the client's address on file (earlier codes stop working)."""
    if not can_email_code(client):
        raise StepUpError("There is no email address on file for this record. Please contact the practice.")
    recent = db.session.scalar(
        select(func.count(StepUpCode.id)).where(
            StepUpCode.client_id == client.id, StepUpCode.created_at > _now() - timedelta(hours=1)
        )
    )
    if recent >= CODES_PER_HOUR:
        raise StepUpError("We have sent several codes already. Please wait a while and try again.")
    # One live code at a time: anything sent before is dead from now on.
    db.session.execute(
        update(StepUpCode)
        .where(StepUpCode.client_id == client.id, StepUpCode.used_at.is_(None))
        .values(attempts=CODE_MAX_TRIES)
        .execution_options(synchronize_session=False)
    )
    code = f"{secrets.randbelow(1_000_000):06d}"
    db.session.add(
        StepUpCode(
            client_id=client.id,
            code_hash=_code_hash(client.id, code),
            expires_at=_now() + timedelta(minutes=CODE_MINUTES),
        )
    )
    db.session.flush()
    practice = current_practice()
    queue_email(
        client.email.strip(),
        f"Your {practice.name} verification code",
        f"Your verification code is {code}\n\n"
        f"Enter it on the {practice.name} portal within {CODE_MINUTES} minutes to open your messages, "
        "documents and forms. If you did not ask for it, you can ignore this email.\n",
    )


@dataclass(frozen=True)
class CodeCheck:
    ok: bool
    message: str = ""


def check_code(client: Client, code: str) -> CodeCheck:
    """Try `code` against the client's latest code: single use, CODE_MINUTES, CODE_MAX_TRIES tries.

    The row is locked while it is checked, so racing tries are counted one by one and a code is used
    up at most once. A wrong try counts (commit it even though the step-up fails).
    """
    latest = db.session.scalars(
        select(StepUpCode)
        .where(StepUpCode.client_id == client.id)
        .order_by(StepUpCode.id.desc())
        .limit(1)
        .with_for_update()
    ).first()
    if latest is None:
        return CodeCheck(False, "That code is not valid. Ask for a new code.")
    if latest.used_at is not None:
        return CodeCheck(False, "That code was already used. Ask for a new code.")
    if latest.attempts >= CODE_MAX_TRIES:
        return CodeCheck(False, "Too many wrong tries: that code no longer works. Ask for a new code.")
    if latest.expires_at <= _now():
        return CodeCheck(False, "That code has expired. Ask for a new code.")
    latest.attempts += 1
    if not hmac.compare_digest(latest.code_hash, _code_hash(client.id, (code or "").strip())):
        left = CODE_MAX_TRIES - latest.attempts
        if left <= 0:
            return CodeCheck(False, "That code is not right, and it no longer works. Ask for a new code.")
        return CodeCheck(False, f"That code is not right. {left} {'try' if left == 1 else 'tries'} left.")
    latest.used_at = func.now()
    db.session.flush()
    return CodeCheck(True)
