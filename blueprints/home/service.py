"""Rules of the practice home: who may open the client portal."""

from tenants.features import practice_settings

MAY_OPEN_PORTAL = ("owner", "admin")


def open_portal(role: str) -> None:
    if role not in MAY_OPEN_PORTAL:
        raise PermissionError("Only the owner or an admin can open the client portal.")
    practice_settings().portal_enabled = True
