"""Notifications: the per-practice email outbox and the job that delivers it."""

from flask import Blueprint

bp = Blueprint("notifications", __name__)

from blueprints.notifications import models, tasks  # noqa: E402,F401
