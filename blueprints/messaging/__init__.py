"""Messaging: secure messages between the practice and a client's record."""

from flask import Blueprint

from tenants.middleware import practice_only

bp = practice_only(Blueprint("messaging", __name__))

from blueprints.messaging import digest, home, models, routes  # noqa: E402,F401
