"""Notifications: the per-practice email outbox, the job that delivers it, and the outbox page."""

from flask import Blueprint

bp = Blueprint("notifications", __name__)

from blueprints.notifications import models, routes, tasks  # noqa: E402,F401
