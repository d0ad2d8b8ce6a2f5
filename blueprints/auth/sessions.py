"""Login sessions: what the signed session cookie holds and when it stops being a login.

The cookie is host-only and names the practice it was issued by; `load_user` accepts it only on
that practice's host and only while the user's session_version still matches (logout, a password
change or deactivation bump it and so end every session at once). Idle and absolute lifetimes are
checked on every request.
"""

from __future__ import annotations

import secrets
import time

from flask import current_app, flash, session
from flask_login import login_user, logout_user
from sqlalchemy import bindparam, select

from app.extensions import login_manager
from blueprints.auth import bp
from blueprints.auth.models import User
from blueprints.auth.service import end_all_sessions, record_login
from blueprints.auth.signals import logged_out
from tenants.context import bound_practice
from tenants.database import db
from tenants.features import note_settings_version, settings_version_column

login_manager.login_view = "auth.login"
login_manager.login_message = "Please log in to continue."
login_manager.session_protection = None  # our own checks below are stricter and proxy-safe


_user_statement = None


def _user_and_settings_version():
    """Built once: the statement is the same for every practice (the schema is translated per
    practice at execution by the practice's engine), only the user id is a parameter."""
    global _user_statement
    if _user_statement is None:
        _user_statement = select(User, settings_version_column()).where(User.id == bindparam("user_id"))
    return _user_statement


@login_manager.user_loader
def load_user(session_id: str) -> User | None:
    practice = bound_practice()
    if practice is None:
        return None
    try:
        practice_id, user_id, version = (int(part) for part in session_id.split(":"))
    except ValueError:
        return None
    if practice_id != practice.id or session.get("practice_id") != practice.id:
        return None  # a cookie from another practice is anonymous here
    # One statement for what every signed-in request needs: the user's row and the version of the
    # practice's settings row (the staff two-factor gate and feature checks read the settings from
    # the per-process cache when that version is cached: tenants.features.cached_practice_settings).
    # Both come from the bound practice's schema, under its role, in the request's own transaction.
    found = db.session.execute(_user_and_settings_version(), {"user_id": user_id}).first()
    if found is None:
        return None
    user, settings_version = found
    if not user.is_active or user.session_version != version:
        return None
    note_settings_version(settings_version)
    return user


def _now() -> int:
    return int(time.time())


def start_session(user: User, detail: str | None = None) -> None:
    """Log `user` in with a fresh session (nothing carried over from before the login); the audit
    line "logged in" says how (`detail`)."""
    session.clear()
    session["sid"] = secrets.token_urlsafe(16)  # a new session identity at every login
    session["practice_id"] = bound_practice().id
    now = _now()
    session["login_at"] = now
    session["seen_at"] = now
    session.permanent = True
    login_user(user)
    record_login(user, detail)


def end_session(user: User | None) -> None:
    """Log out here and everywhere: the user's other sessions end with this one. Sessions without
    an account (a profile link's) are ended by whoever listens to `logged_out`."""
    if user is not None and getattr(user, "id", None) is not None:
        end_all_sessions(user)
    logged_out.send(current_app._get_current_object(), user=user, session=session)
    logout_user()
    session.clear()


@bp.before_app_request
def enforce_session_lifetimes():
    if "login_at" not in session:
        return
    settings = current_app.config["PORTICO"]
    now = _now()
    idle = now - int(session.get("seen_at", 0))
    age = now - int(session.get("login_at", 0))
    if idle > settings.session_idle_minutes * 60 or age > settings.session_max_hours * 3600:
        logout_user()
        session.clear()
        flash("You were signed out after a period of inactivity. Please log in again.", "info")
        return
    if idle >= 30:  # keep cookie rewrites rare
        session["seen_at"] = now
