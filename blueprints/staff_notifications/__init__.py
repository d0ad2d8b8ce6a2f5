"""Staff notifications: the list of things staff were told about (`/notifications`) and the bell
with the unread count in the staff navigation.

Placed after `people` (it picks recipients with people's rule of who may see a client) and before
every feature that tells staff something (documents now; requests, messages, forms and flags later),
which call `service.notify_staff` in their own operations and register their kinds' wording.
"""

from flask import Blueprint

from tenants.middleware import practice_only

bp = practice_only(Blueprint("staff_notifications", __name__))

from blueprints.staff_notifications import account, models, routes  # noqa: E402,F401
