"""Rules of the practice home: who may open the client portal."""

from app.roles import MANAGES_PRACTICE
from tenants.features import practice_settings

MAY_OPEN_PORTAL = MANAGES_PRACTICE


def open_portal(role: str) -> None:
    if role not in MAY_OPEN_PORTAL:
        raise PermissionError("Only the owner or an admin can open the client portal.")
    practice_settings().portal_enabled = True
