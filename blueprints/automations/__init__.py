"""Automated client messages: booked / rescheduled / cancelled (held and collapsed), request
decisions, reminders, cancellation follow-ups, new messages; their templates and settings page.

The registry, the hold and the settings row live in `notifications.automated` (below every feature
that causes a message); this package, above scheduling and profile links, writes the messages."""

from flask import Blueprint

from tenants.middleware import practice_only

bp = practice_only(Blueprint("automations", __name__))

from blueprints.automations import kinds, senders  # noqa: E402

kinds.register_all()
senders.register_all()

from blueprints.automations import sms_views, tasks, views  # noqa: E402,F401
