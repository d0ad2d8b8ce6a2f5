"""The client portal: whose record is open, what the viewer may do there, and the portal home."""

from flask import Blueprint

from tenants.middleware import practice_only

bp = practice_only(Blueprint("portal", __name__))

from blueprints.portal import routes  # noqa: E402,F401
