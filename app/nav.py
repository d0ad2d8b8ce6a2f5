"""Navigation entries: each blueprint registers its own; a hidden entry is never rendered.

An entry's `visible()` runs per request (role, feature toggles, who is looking), so a disabled
feature disappears from navigation the moment it is turned off.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import url_for
from flask_login import current_user


@dataclass(frozen=True)
class NavEntry:
    area: str  # "staff" or "portal"
    label: str | Callable[[], str]  # a callable label is worked out per request (a count, say)
    endpoint: str
    visible: Callable[[], bool]
    order: int = 50


_entries: list[NavEntry] = []


def register_nav(
    area: str, label: str | Callable[[], str], endpoint: str, visible: Callable[[], bool], order: int = 50
) -> None:
    if not any(e.area == area and e.endpoint == endpoint for e in _entries):
        _entries.append(NavEntry(area, label, endpoint, visible, order))


def nav_links(area: str) -> list[tuple[str, str, str]]:
    """(label, url, endpoint) of the entries of `area` visible to this request."""
    return [
        (entry.label() if callable(entry.label) else entry.label, url_for(entry.endpoint), entry.endpoint)
        for entry in sorted(_entries, key=lambda e: (e.order, e.endpoint))
        if entry.area == area and entry.visible()
    ]


def staff_in(*roles: str) -> Callable[[], bool]:
    """A `visible` test for staff entries: any logged-in staff member, or only those `roles`."""

    def visible() -> bool:
        return bool(
            current_user.is_authenticated
            and current_user.is_staff
            and (not roles or current_user.role in roles)
        )

    return visible
