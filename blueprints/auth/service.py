"""Account rules: passwords (argon2id), authentication, one-time tokens, ending sessions.
(Staff two-factor authentication is `auth.two_factor`.)

The login operations here write their own audit lines (logged in, login failed), so whoever calls
them leaves the same trace.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from argon2 import Parameters, PasswordHasher, Type, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, has_app_context
from sqlalchemy import func, select, update

from app import jobs
from app.refusals import Refusal
from app.tokens import new_token, token_hash
from blueprints.audit.service import record
from blueprints.auth.models import OneTimeToken, User
from blueprints.notifications.service import queue_email
from tenants.addresses import practice_url
from tenants.context import current_practice
from tenants.database import db
from tenants.encryption import seal_text, unseal_text

PASSWORD_RESET_TASK = "auth.send_password_reset"
# Where the address a reset was asked for is sealed in that job's arguments (the job tables live
# outside the practice schemas: they hold no practice data in plain text).
_RESET_ADDRESS_PLACE = {"table": "procrastinate_jobs", "column": "password_reset_email"}

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

# argon2id at OWASP's recommended cost (46 MiB, one pass, one lane: about 0.1 s here). Only the test
# suite picks the cheapest profile (config PASSWORD_HASH_PROFILE); any stronger profile chosen later
# re-hashes each password at its next login (check_needs_rehash).
PASSWORD_PROFILES = {
    "OWASP": Parameters(
        type=Type.ID, version=19, salt_len=16, hash_len=32, time_cost=1, memory_cost=47104, parallelism=1
    ),
    "CHEAPEST": profiles.CHEAPEST,
}
_hashers: dict[str, tuple[PasswordHasher, str]] = {}


def _password_hasher() -> tuple[PasswordHasher, str]:
    """The configured argon2id hasher, and a hash that no password matches (for unknown emails)."""
    name = current_app.config.get("PASSWORD_HASH_PROFILE", "OWASP") if has_app_context() else "OWASP"
    if name not in _hashers:
        hasher = PasswordHasher.from_parameters(PASSWORD_PROFILES[name])
        _hashers[name] = (hasher, hasher.hash(secrets.token_urlsafe(16)))
    return _hashers[name]


class AccountError(Refusal):
    """A rule about accounts refused the change (400); the message is fit to show."""


def hash_password(password: str) -> str:
    return _password_hasher()[0].hash(password)


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
    hasher, unusable = _password_hasher()
    stored = user.password_hash if user is not None and user.password_hash else unusable
    try:
        hasher.verify(stored, password or "")
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.is_active:
        return None
    if hasher.check_needs_rehash(stored):
        user.password_hash = hash_password(password)
    return user


# Features that may forbid password logins (staff single sign-on) register a check at import:
# email -> the message to show instead of logging in, or None.
_password_login_checks: list[Callable[[str], str | None]] = []


def register_password_login_check(check: Callable[[str], str | None]) -> None:
    if check not in _password_login_checks:
        _password_login_checks.append(check)


def password_login_refusal(email: str) -> str | None:
    """Why a password login as `email` is refused before its password is even checked, if it is."""
    return next(filter(None, (check(email) for check in _password_login_checks)), None)


def record_login(user: User, detail: str | None = None) -> None:
    """`user` is now logged in: note when, and write the audit line."""
    user.last_login_at = func.now()
    record("logged in", detail=detail, **user.audit_actor)


def record_failed_login(user: User | None, detail: str) -> None:
    """A refused login step. The attempted address and password never reach the log: the account's
    id when there is one, else an anonymous line."""
    if user is None:
        record("login failed", actor_kind="anonymous", detail=detail)
    else:
        record("login failed", detail=detail, **user.audit_actor)


def password_login(email: str, password: str) -> User | None:
    """The password step of a login: the active user, or None (and a "login failed" line)."""
    user = authenticate(email, password)
    if user is None:
        record_failed_login(find_user_by_email(email), "wrong email or password")
    return user


def end_all_sessions(user: User) -> None:
    db.session.execute(
        update(User).where(User.id == user.id).values(session_version=User.session_version + 1)
    )
    db.session.refresh(user)


def issue_token(user: User, purpose: str) -> str:
    raw = new_token()  # 256 random bits
    db.session.add(
        OneTimeToken(
            user_id=user.id,
            purpose=purpose,
            token_hash=token_hash(raw),
            expires_at=datetime.now(UTC) + TOKEN_LIFETIMES[purpose],
        )
    )
    db.session.flush()
    return raw


def _live_token_filter(raw_token: str, purpose: str):
    return (
        OneTimeToken.token_hash == token_hash(raw_token or ""),
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
    """Someone asked for a reset link for `email`. The answer must not tell whether an account uses
    that address, in its words or in its timing, so this does the same work for any address: it
    queues one job (`send_password_reset`) carrying the address sealed, and that job decides."""
    request_id = secrets.token_hex(16)
    sealed = seal_text((email or "").strip().lower(), row_id=request_id, **_RESET_ADDRESS_PLACE)
    jobs.defer(PASSWORD_RESET_TASK, request_id=request_id, email_sealed=base64.b64encode(sealed).decode())


def send_password_reset(request_id: str, email_sealed: str) -> bool:
    """The job behind `request_password_reset`: email a reset link if an active account here has
    the address; nothing is sent (and nothing changes) otherwise. Returns whether a link was sent."""
    email = unseal_text(base64.b64decode(email_sealed), row_id=request_id, **_RESET_ADDRESS_PLACE)
    user = find_user_by_email(email)
    if user is None or not user.is_active:
        return False
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
    return True


def consume_with_new_password(raw_token: str, purpose: str, password: str, expired: str) -> User:
    """Use up a reset or activation token for a new password that meets the rule (else AccountError,
    its message on the `password` field)."""
    problem = password_problem(password)
    if problem:
        raise AccountError(problems={"password": problem})
    user = consume_token(raw_token, purpose)
    if user is None:
        raise AccountError(problems={"password": expired})
    return user


def reset_password(raw_token: str, new_password: str) -> User:
    user = consume_with_new_password(
        raw_token, PASSWORD_RESET, new_password, "This reset link has expired or was already used."
    )
    change_password(user, new_password)
    return user


def change_password(user: User, new_password: str) -> None:
    """Set a new password; every session and every other reset or activation link of the user ends."""
    user.password_hash = hash_password(new_password)
    db.session.execute(
        update(OneTimeToken)
        .where(
            OneTimeToken.user_id == user.id,
            OneTimeToken.used_at.is_(None),
            OneTimeToken.purpose.in_((PASSWORD_RESET, ACTIVATE)),
        )
        .values(used_at=func.now())
    )
    end_all_sessions(user)


def password_matches(user: User, password: str | None) -> bool:
    if not user.password_hash or not password:
        return False
    try:
        return _password_hasher()[0].verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
