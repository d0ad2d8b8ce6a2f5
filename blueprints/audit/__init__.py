"""Audit: the append-only log of who did what, when, from where; the owner's view of it."""

from flask import Blueprint

from tenants.middleware import practice_only

bp = practice_only(Blueprint("audit", __name__))

from blueprints.audit import models, routes  # noqa: E402,F401
