"""The practice's identity: its logo and accent colour, set by the owner or an admin, shown on the
portal, the login page, the staff pages and the practice's emails (the practice first, Portico last)."""

from flask import Blueprint

from tenants.middleware import practice_only

bp = practice_only(Blueprint("branding", __name__))

from blueprints.branding import mail_look, models, public, routes  # noqa: E402,F401
