"""Staff two-factor authentication: TOTP secrets, six-digit codes and single-use recovery codes.

Turning it on or off and replacing the recovery codes write their own audit lines. Which code was
already used, and how many were wrong, is remembered by the web side (`auth.mfa`).

TOTP secrets are sealed at rest (`tenants.encryption`, users.totp_secret_sealed, bound to the user's
row). A secret kept in plain text before that (users.totp_secret, see migration t0010) is sealed, and
its plain copy emptied, the first time `totp_secret` reads it; `seal_plain_secrets` does the rest of a
practice at once (a sealing step: `portico db upgrade` runs it in every practice it migrates).
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
from tenants.encryption import register_sealed_column, register_sealing_step, seal_text, unseal_text

TOTP_PERIOD = 30  # seconds per time step (what authenticator apps use)
TOTP_DIGITS = 6
TOTP_WINDOW = 1  # steps either side of now that still count (clock drift, slow typing)
RECOVERY_CODE_COUNT = 10
START_AGAIN = "Start the set-up again: no authenticator is waiting to be confirmed."
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread
_SEALED_SECRET = {"table": User.__tablename__, "column": "totp_secret_sealed"}

register_sealed_column(User.__tablename__, "totp_secret_sealed")


def totp_now() -> float:
    """The clock two-factor codes are checked against (tests move it)."""
    return time.time()


def has_totp(user: User) -> bool:
    """Whether logging in as `user` needs a second factor (staff only; clients never do)."""
    return user.is_staff and user.totp_enabled_at is not None and has_secret(user)


def has_secret(user: User) -> bool:
    """Whether `user` has a TOTP secret, pending or on (without opening it)."""
    return user.totp_secret_sealed is not None or bool(user.totp_secret)


def totp_secret(user: User) -> str | None:
    """`user`'s TOTP secret (pending or on), or None.

    A secret still in plain text (kept before secrets were sealed) is sealed now and the plain copy
    emptied; the caller's transaction keeps that when it commits. A plain secret wins over a sealed
    one: only code from before the sealing writes the plain column, so there it is the newer.
    """
    if user.totp_secret:
        _keep_secret(user, user.totp_secret)
    if user.totp_secret_sealed is None:
        return None
    return unseal_text(user.totp_secret_sealed, row_id=user.id, **_SEALED_SECRET)


def _keep_secret(user: User, secret: str | None) -> None:
    """Store `secret` sealed (None: no secret); the plain column is always left empty."""
    user.totp_secret_sealed = seal_text(secret, row_id=user.id, **_SEALED_SECRET) if secret else None
    user.totp_secret = None


def seal_plain_secrets() -> int:
    """Seal every TOTP secret of the bound practice still kept in plain text; returns how many.
    (What reading them does one at a time; to be run before the plain column is dropped.)"""
    users = db.session.scalars(select(User).where(User.totp_secret.is_not(None)).with_for_update()).all()
    for user in users:
        _keep_secret(user, user.totp_secret)
    db.session.flush()
    return len(users)


register_sealing_step("TOTP secrets", seal_plain_secrets)


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
    secret = pyotp.random_base32()  # 160 random bits
    _keep_secret(user, secret)
    user.totp_enabled_at = None
    return secret


def totp_uri(user: User, secret: str, issuer: str) -> str:
    """The otpauth:// address an authenticator app reads (from the QR code or typed in)."""
    return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_PERIOD).provisioning_uri(
        name=user.email, issuer_name=issuer
    )


def qr_code_data_uri(text: str) -> str:
    """`text` as a QR code: an SVG image in a data: address (the pages' CSP allows data: images)."""
    buffer = io.BytesIO()
    segno.make(text, error="m").save(buffer, kind="svg", scale=5, border=2, xmldecl=False)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


def enable_totp(user: User) -> list[str]:
    """Turn the pending secret on (the caller checked its first code); returns new recovery codes."""
    if not has_secret(user) or has_totp(user):
        raise AccountError(START_AGAIN)
    user.totp_enabled_at = func.now()
    codes = _new_recovery_codes(user)
    record("two-factor turned on", **user.audit_actor)
    return codes


def disable_totp(user: User) -> None:
    """Two-factor off (the caller checked a current code or the password); the recovery codes go too."""
    _keep_secret(user, None)
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
