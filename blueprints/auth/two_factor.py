"""Staff two-factor authentication: TOTP secrets, six-digit codes and single-use recovery codes.

Turning it on or off and replacing the recovery codes write their own audit lines. Which code was
already used, and how many were wrong, is remembered by the web side (`auth.mfa`).
"""

from __future__ import annotations

import base64
import hmac
import io
import secrets
import time

import pyotp
import segno
from sqlalchemy import delete, func, select, update

from app.tokens import token_hash
from blueprints.audit.service import record
from blueprints.auth.models import RecoveryCode, User
from blueprints.auth.service import AccountError
from tenants.database import db

TOTP_PERIOD = 30  # seconds per time step (what authenticator apps use)
TOTP_DIGITS = 6
TOTP_WINDOW = 1  # steps either side of now that still count (clock drift, slow typing)
RECOVERY_CODE_COUNT = 10
START_AGAIN = "Start the set-up again: no authenticator is waiting to be confirmed."
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
        raise AccountError(START_AGAIN)
    user.totp_enabled_at = func.now()
    codes = _new_recovery_codes(user)
    record("two-factor turned on", **user.audit_actor)
    return codes


def disable_totp(user: User) -> None:
    """Two-factor off (the caller checked a current code or the password); the recovery codes go too."""
    user.totp_secret = None
    user.totp_enabled_at = None
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    record("two-factor turned off", **user.audit_actor)


def _new_recovery_code() -> str:
    raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))  # about 49 random bits
    return f"{raw[:5]}-{raw[5:]}"


def replace_recovery_codes(user: User) -> list[str]:
    """Ten new single-use codes for a user with two-factor on; the old ones stop working."""
    if not has_totp(user):
        raise AccountError("Two-factor authentication is not on for your account.")
    codes = _new_recovery_codes(user)
    record("recovery codes replaced", **user.audit_actor)
    return codes


def _new_recovery_codes(user: User) -> list[str]:
    """Ten new single-use codes (shown once, stored only as SHA-256) in place of the old ones."""
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
