"""Logging in, one step at a time: the password, then (for staff with two-factor) a code, or the
one-time hand-off a new owner carries from signup to their own host.

Each step is an operation that writes its own audit line, the failures included: a wrong password or
code is not a refusal to roll back but an attempt to record, so these steps return what they found
and the view commits either way.
"""

from __future__ import annotations

from app.refusals import Refusal
from blueprints.auth import mfa, service, two_factor
from blueprints.auth.models import User
from blueprints.auth.service import AccountError
from blueprints.auth.sessions import start_session


def password_step(email: str, password: str, next_path: str | None) -> User | str | None:
    """None when the email and password match no active account (recorded as a failed login); the
    message to show when passwords may not be used for this account at all (a practice that requires
    single sign-on for staff: checked before the password, so the answer says nothing about it).

    Otherwise the person is logged in, or, when their account asks for a code, the login is only
    pending (nobody is logged in until `code_step`).
    """
    refusal = service.password_login_refusal(email)
    if refusal:
        service.record_failed_login(service.find_user_by_email(email), refusal)
        return refusal
    user = service.password_login(email, password)
    if user is None:
        return None
    if two_factor.has_totp(user):
        mfa.begin_pending_login(user, next_path)
    else:
        start_session(user)
    return user


def code_step(user: User, raw_code: str) -> str | None:
    """The second step of a pending login: what `mfa.check_second_factor` found.

    A six-digit code or a recovery code logs `user` in; anything else is a failed login, counted
    and recorded. Too many failures end the pending login (429).
    """
    if mfa.too_many_failures(user):
        mfa.end_pending_login()
        raise Refusal("Too many wrong codes. Please wait a few minutes and log in again.", status=429)
    found = mfa.check_second_factor(user, raw_code)
    if found in (mfa.TOTP_OK, mfa.RECOVERY_OK):
        start_session(user, detail=f"with a two-factor {found}")
    else:
        mfa.count_failure(user)
        service.record_failed_login(user, "wrong two-factor code")
    return found


def hand_off(raw_token: str) -> User:
    """Log the new owner in with the single-use token signup gave them."""
    user = service.consume_token(raw_token, service.HANDOFF)
    if user is None:
        raise AccountError("This sign-in link has expired or was already used. Please log in.")
    start_session(user, detail="after signing up")
    return user
