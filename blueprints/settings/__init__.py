"""Practice settings: name, time zone, contact, feature toggles, preview as client, staff 2FA rule."""

from flask import Blueprint

from tenants.middleware import practice_only

bp = practice_only(Blueprint("settings", __name__))

from blueprints.settings import routes  # noqa: E402,F401
