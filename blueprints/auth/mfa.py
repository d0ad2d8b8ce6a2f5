"""The web side of staff two-factor authentication.

- Between the password and the code, a login is only *pending*: the session holds which user passed
  the password step (for a few minutes) and nobody is logged in yet.
- A six-digit code is accepted once: its time step (and the steps before it) are remembered in the
  rate-limit storage, which every web process shares, keyed by practice and user.
- Wrong codes are counted per user as well as per address, so a stolen password cannot be paired
  with unlimited guesses from many addresses.
- When the practice requires two-factor for staff, a staff member without it reaches nothing but
  their security page (and logging out) until they have set it up.

Turning two-factor on or off needs a code checked here, so those two operations live here too; the
rules they apply (and their audit lines) are `auth.two_factor`'s.
"""

from __future__ import annotations

import time

from flask import flash, redirect, request, session, url_for
from flask_login import current_user

from app.extensions import limiter
from blueprints.auth import bp, service, two_factor
from blueprints.auth import sessions as _sessions  # noqa: F401  (its lifetime check runs before ours)
from blueprints.auth.models import User
from blueprints.auth.service import AccountError
from tenants.context import bound_practice, current_practice
from tenants.database import db
from tenants.features import cached_practice_settings

PENDING_KEY = "mfa_pending"
PENDING_SECONDS = 5 * 60
MAX_FAILURES = 10
FAILURE_WINDOW_SECONDS = 15 * 60
STEP_MEMORY_SECONDS = (2 * two_factor.TOTP_WINDOW + 2) * two_factor.TOTP_PERIOD

# What `check_second_factor` found.
TOTP_OK = "code"
RECOVERY_OK = "recovery code"
REPLAYED = "replayed"

WRONG_CODE = "That code is not right. Please try again."
REPLAYED_CODE = "That code was already used. Please wait for the next one."


def _now() -> float:
    return time.time()


def _key(kind: str, user: User, extra: object = "") -> str:
    return f"portico:{kind}:{current_practice().id}:{user.id}:{extra}"


def begin_pending_login(user: User, next_path: str | None) -> None:
    """The password was right; remember that (briefly) and log nobody in yet."""
    session.clear()
    session[PENDING_KEY] = {
        "practice_id": current_practice().id,
        "user_id": user.id,
        "version": user.session_version,
        "at": int(_now()),
        "next": next_path or "",
    }


def pending_user() -> User | None:
    """The user whose password step this browser passed, while that is fresh and still valid."""
    pending = session.get(PENDING_KEY)
    if not isinstance(pending, dict) or pending.get("practice_id") != current_practice().id:
        return None
    if _now() - pending.get("at", 0) > PENDING_SECONDS:
        return None
    user = db.session.get(User, pending.get("user_id"))
    if user is None or not user.is_active or user.session_version != pending.get("version"):
        return None
    return user if two_factor.has_totp(user) else None


def pending_next() -> str:
    pending = session.get(PENDING_KEY)
    return pending.get("next", "") if isinstance(pending, dict) else ""


def end_pending_login() -> None:
    session.pop(PENDING_KEY, None)


def too_many_failures(user: User) -> bool:
    return limiter.storage.get(_key("mfa-fail", user)) >= MAX_FAILURES


def count_failure(user: User) -> None:
    limiter.storage.incr(_key("mfa-fail", user), FAILURE_WINDOW_SECONDS)


def claim_totp_step(user: User, step: int) -> bool:
    """True the first time `step` is used for `user`; False for a replay (or an older step)."""
    if limiter.storage.incr(_key("totp-step", user, step), STEP_MEMORY_SECONDS) != 1:
        return False
    # A later code was used: the earlier ones still inside the drift window are spent too.
    for earlier in range(step - 2 * two_factor.TOTP_WINDOW, step):
        limiter.storage.incr(_key("totp-step", user, earlier), STEP_MEMORY_SECONDS)
    return True


def check_totp(user: User, secret: str | None, raw_code: str) -> str | None:
    """TOTP_OK, REPLAYED, or None for a wrong code, against `secret` (pending or enabled)."""
    step = two_factor.totp_step(secret, raw_code)
    if step is None:
        return None
    return TOTP_OK if claim_totp_step(user, step) else REPLAYED


def check_second_factor(user: User, raw_code: str) -> str | None:
    """TOTP_OK, RECOVERY_OK, REPLAYED, or None: a six-digit code, else one of the recovery codes."""
    if two_factor.is_totp_shaped(two_factor.normalize_code(raw_code)):
        return check_totp(user, two_factor.totp_secret(user), raw_code)
    return RECOVERY_OK if two_factor.use_recovery_code(user, raw_code) else None


def code_message(found: str | None) -> str:
    """What to tell someone whose code was not accepted."""
    return REPLAYED_CODE if found == REPLAYED else WRONG_CODE


def must_set_up_two_factor(user) -> bool:
    """Staff of a practice that requires two-factor, who have not set it up yet."""
    return user.is_staff and not two_factor.has_totp(user) and cached_practice_settings().require_staff_mfa


def confirm_setup(user: User, raw_code: str) -> list[str]:
    """Turn two-factor on once the app's first code is right; returns the new recovery codes."""
    found = check_totp(user, two_factor.totp_secret(user), raw_code)
    if found != TOTP_OK:
        raise AccountError(problems={"code": code_message(found)})
    return two_factor.enable_totp(user)


def turn_off(user: User, raw_code: str | None, password: str | None) -> None:
    """Turn two-factor off, on a current code from the app or the account's password."""
    code_ok = bool(raw_code) and check_totp(user, two_factor.totp_secret(user), raw_code) == TOTP_OK
    if not code_ok and not service.password_matches(user, password):
        raise AccountError(problems={"code": "Enter a current code from your app, or your password."})
    two_factor.disable_totp(user)


@bp.before_app_request
def require_staff_two_factor():
    # The endpoint first: a static file (or any auth page) must not load the user, which would
    # open a practice transaction for a request that touches no practice data.
    endpoint = request.endpoint or ""
    if not endpoint or endpoint.startswith("auth.") or endpoint.endswith("static"):
        return None
    if bound_practice() is None or not current_user.is_authenticated:
        return None
    if not must_set_up_two_factor(current_user):
        return None
    flash("Your practice requires two-factor authentication. Please set it up to continue.", "warning")
    return redirect(url_for("auth.account_security"))
