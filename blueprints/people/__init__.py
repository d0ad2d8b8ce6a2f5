"""People: staff (invites, roles, deactivation), clients (records, assignments, portal invites),
guardians and minors (who may act for whom).

Rules live in `operations/<subject>.py`, views in `views/<subject>.py` (staff, clients, guardians,
invites); `operations/access.py` holds the building blocks other features use.
"""

from flask import Blueprint
from flask_login import current_user

from app.nav import register_nav
from app.roles import MANAGES_PRACTICE
from blueprints.audit.service import register_client_names, register_people_names
from blueprints.people.operations.access import client_names, people_named
from tenants.middleware import practice_only

bp = practice_only(Blueprint("people", __name__))


def _is_staff() -> bool:
    return current_user.is_authenticated and current_user.is_staff


def _manages_staff() -> bool:
    return _is_staff() and current_user.role in MANAGES_PRACTICE


register_nav("staff", "Clients", "people.clients", _is_staff, order=20)
register_nav("staff", "Staff", "people.staff", _manages_staff, order=80)
# The audit log (below people) names the people and clients in it through these.
register_people_names(people_named)
register_client_names(client_names)

from blueprints.people import models  # noqa: E402,F401
from blueprints.people.views import clients, guardians, invites, staff  # noqa: E402,F401
