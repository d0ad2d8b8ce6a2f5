"""Account rules: passwords (argon2id), authentication, one-time tokens, ending sessions."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update

from blueprints.auth.models import OneTimeToken, User
from blueprints.notifications.service import queue_email
from tenants.addresses import practice_url
from tenants.context import current_practice
from tenants.database import db

HANDOFF = "handoff"
PASSWORD_RESET = "reset"
ACTIVATE = "activate"
TOKEN_LIFETIMES = {
    HANDOFF: timedelta(minutes=2),
    PASSWORD_RESET: timedelta(hours=1),
    ACTIVATE: timedelta(days=7),
}
MIN_PASSWORD_LENGTH = 10
PASSWORD_LENGTH_MESSAGE = f"Use at least {MIN_PASSWORD_LENGTH} characters (and at most 512)."

_hasher = PasswordHasher()  # argon2id with the library's recommended parameters
_UNUSABLE_HASH = _hasher.hash(secrets.token_urlsafe(16))


class AccountError(ValueError):
    """A rule refused the change; the message is fit to show."""


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_problem(password: str) -> str | None:
    if not MIN_PASSWORD_LENGTH <= len(password or "") <= 512:
        return PASSWORD_LENGTH_MESSAGE
    return None


def find_user_by_email(email: str) -> User | None:
    return db.session.scalars(
        select(User).where(func.lower(User.email) == (email or "").strip().lower())
    ).first()


def create_user(email: str, name: str, password: str | None, role: str, kind: str = "staff") -> User:
    if find_user_by_email(email) is not None:
        raise AccountError("Someone at this practice already uses that email address.")
    user = User(
        email=email.strip(),
        name=name.strip(),
        role=role,
        kind=kind,
        password_hash=hash_password(password) if password else None,
        activated_at=func.now() if password else None,
    )
    db.session.add(user)
    db.session.flush()
    return user


def authenticate(email: str, password: str) -> User | None:
    """The active user with this email and password, or None. Takes as long either way."""
    user = find_user_by_email(email)
    stored = user.password_hash if user is not None and user.password_hash else _UNUSABLE_HASH
    try:
        _hasher.verify(stored, password or "")
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.is_active:
        return None
    if _hasher.check_needs_rehash(stored):
        user.password_hash = hash_password(password)
    return user


def record_login(user: User) -> None:
    user.last_login_at = func.now()


def end_all_sessions(user: User) -> None:
    db.session.execute(
        update(User).where(User.id == user.id).values(session_version=User.session_version + 1)
    )
    db.session.refresh(user)


def _digest(raw_token: str) -> str:
    return hashlib.sha256(raw_token.encode()).hexdigest()


def issue_token(user: User, purpose: str) -> str:
    raw = secrets.token_urlsafe(32)  # 256 random bits
    db.session.add(
        OneTimeToken(
            user_id=user.id,
            purpose=purpose,
            token_hash=_digest(raw),
            expires_at=datetime.now(UTC) + TOKEN_LIFETIMES[purpose],
        )
    )
    db.session.flush()
    return raw


def _live_token_filter(raw_token: str, purpose: str):
    return (
        OneTimeToken.token_hash == _digest(raw_token or ""),
        OneTimeToken.purpose == purpose,
        OneTimeToken.used_at.is_(None),
        OneTimeToken.expires_at > func.now(),
    )


def peek_token(raw_token: str, purpose: str) -> User | None:
    """The user a live token belongs to, without using it up."""
    token = db.session.scalars(select(OneTimeToken).where(*_live_token_filter(raw_token, purpose))).first()
    return token.user if token is not None and token.user.is_active else None


def consume_token(raw_token: str, purpose: str) -> User | None:
    """Use a token up (atomically: of two racing uses, one wins) and return its active user."""
    user_id = db.session.execute(
        update(OneTimeToken)
        .where(*_live_token_filter(raw_token, purpose))
        .values(used_at=func.now())
        .returning(OneTimeToken.user_id)
    ).scalar()
    if user_id is None:
        return None
    user = db.session.get(User, user_id)
    return user if user is not None and user.is_active else None


def request_password_reset(email: str) -> None:
    """Email a reset link if an active account has this address; do nothing visible otherwise."""
    user = find_user_by_email(email)
    if user is None or not user.is_active:
        return
    raw = issue_token(user, PASSWORD_RESET)
    practice = current_practice()
    link = practice_url(practice.slug, f"/reset-password/{raw}")
    queue_email(
        user.email,
        f"Reset your {practice.name} password",
        f"Hello {user.name},\n\n"
        f"Someone asked to reset the password for your {practice.name} account.\n"
        f"To choose a new password, open this link within the next hour:\n\n{link}\n\n"
        "If this was not you, ignore this email: your password stays as it is.\n",
    )


def reset_password(raw_token: str, new_password: str) -> User:
    problem = password_problem(new_password)
    if problem:
        raise AccountError(problem)
    user = consume_token(raw_token, PASSWORD_RESET)
    if user is None:
        raise AccountError("This reset link has expired or was already used.")
    change_password(user, new_password)
    return user


def change_password(user: User, new_password: str) -> None:
    user.password_hash = hash_password(new_password)
    end_all_sessions(user)
