"""Rules of the practice home: who may open the client portal."""

from app.refusals import NotAllowed
from app.roles import MANAGES_PRACTICE
from blueprints.auth.models import User
from tenants.features import practice_settings

MAY_OPEN_PORTAL = MANAGES_PRACTICE


def open_portal(actor: User) -> None:
    """The owner's "Get started": clients can log in from now on."""
    if actor.role not in MAY_OPEN_PORTAL:
        raise NotAllowed("Only the owner or an admin can open the client portal.")
    practice_settings().portal_enabled = True
