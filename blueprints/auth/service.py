"""Account rules: passwords (argon2id), authentication, one-time tokens, ending sessions, and staff
two-factor authentication (TOTP secrets, six-digit codes, single-use recovery codes)."""

from __future__ import annotations

import base64
import hmac
import io
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pyotp
import segno
from argon2 import Parameters, PasswordHasher, Type, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, has_app_context
from sqlalchemy import delete, func, select, update

from app.refusals import Refusal
from app.tokens import new_token, token_hash
from blueprints.auth.models import OneTimeToken, RecoveryCode, User
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


def record_login(user: User) -> None:
    user.last_login_at = func.now()


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


def consume_with_new_password(raw_token: str, purpose: str, password: str, expired: str) -> User:
    """Use up a reset or activation token for a new password that meets the rule (else AccountError)."""
    problem = password_problem(password)
    if problem:
        raise AccountError(problem)
    user = consume_token(raw_token, purpose)
    if user is None:
        raise AccountError(expired)
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


# --- Staff two-factor authentication -------------------------------------------------------------

TOTP_PERIOD = 30  # seconds per time step (what authenticator apps use)
TOTP_DIGITS = 6
TOTP_WINDOW = 1  # steps either side of now that still count (clock drift, slow typing)
RECOVERY_CODE_COUNT = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread


def totp_now() -> float:
    """The clock two-factor codes are checked against (tests move it)."""
    return time.time()


def has_totp(user: User) -> bool:
    """Whether logging in as `user` needs a second factor (staff only; clients never do)."""
    return user.is_staff and user.totp_enabled_at is not None and bool(user.totp_secret)


def normalize_code(raw: str | None) -> str:
    """What the person typed, without spaces or hyphens, in lower case."""
    return "".join((raw or "").split()).replace("-", "").lower()


def is_totp_shaped(code: str) -> bool:
    return len(code) == TOTP_DIGITS and code.isdigit()


def totp_step(secret: str | None, raw_code: str, at: float | None = None) -> int | None:
    """The time step whose code `raw_code` is (within the allowed drift), or None.

    The caller refuses a step that was already used, so a code cannot be replayed.
    """
    code = normalize_code(raw_code)
    if not secret or not is_totp_shaped(code):
        return None
    totp = pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_PERIOD)
    current = int((totp_now() if at is None else at) // TOTP_PERIOD)
    for step in range(current - TOTP_WINDOW, current + TOTP_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def begin_totp_setup(user: User) -> str:
    """A fresh secret for `user`, pending (not yet asked for at login) until a first code confirms it."""
    if not user.is_staff:
        raise AccountError("Two-factor authentication is for staff accounts.")
    if has_totp(user):
        raise AccountError("Two-factor authentication is already on for your account.")
    user.totp_secret = pyotp.random_base32()  # 160 random bits
    user.totp_enabled_at = None
    return user.totp_secret


def totp_uri(user: User, issuer: str) -> str:
    """The otpauth:// address an authenticator app reads (from the QR code or typed in)."""
    return pyotp.TOTP(user.totp_secret, digits=TOTP_DIGITS, interval=TOTP_PERIOD).provisioning_uri(
        name=user.email, issuer_name=issuer
    )


def qr_code_data_uri(text: str) -> str:
    """`text` as a QR code: an SVG image in a data: address (the pages' CSP allows data: images)."""
    buffer = io.BytesIO()
    segno.make(text, error="m").save(buffer, kind="svg", scale=5, border=2, xmldecl=False)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


def enable_totp(user: User) -> list[str]:
    """Turn the pending secret on (the caller checked its first code); returns new recovery codes."""
    if not user.totp_secret or has_totp(user):
        raise AccountError("Start the set-up again: no authenticator is waiting to be confirmed.")
    user.totp_enabled_at = func.now()
    return replace_recovery_codes(user)


def disable_totp(user: User) -> None:
    user.totp_secret = None
    user.totp_enabled_at = None
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))


def password_matches(user: User, password: str | None) -> bool:
    if not user.password_hash or not password:
        return False
    try:
        return _password_hasher()[0].verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _new_recovery_code() -> str:
    raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))  # about 49 random bits
    return f"{raw[:5]}-{raw[5:]}"


def replace_recovery_codes(user: User) -> list[str]:
    """Ten new single-use codes (shown once, stored only as SHA-256); the old ones stop working."""
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    for code in codes:
        db.session.add(RecoveryCode(user_id=user.id, code_hash=token_hash(normalize_code(code))))
    db.session.flush()
    return codes


def use_recovery_code(user: User, raw_code: str) -> bool:
    """Use one of `user`'s recovery codes up (atomically: of two racing uses, one wins)."""
    code = normalize_code(raw_code)
    if not code or is_totp_shaped(code):
        return False
    used = db.session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == token_hash(code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=func.now())
        .returning(RecoveryCode.id)
    ).scalar()
    return used is not None


def unused_recovery_codes(user: User) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    )
