"""People: staff (invites, roles, deactivation), clients (records, assignments, portal invites),
guardians and minors (who may act for whom)."""

from flask import Blueprint

from tenants.middleware import practice_only

bp = practice_only(Blueprint("people", __name__))

from blueprints.people import models  # noqa: E402,F401
