"""Navigation entries: each blueprint registers its own; a hidden entry is never rendered.

An entry's `visible()` runs per request (role, feature toggles, who is looking), so a disabled
feature disappears from navigation the moment it is turned off.

Entries fall into groups, so that a long staff menu stays one row on a desktop:

    main      order below 50: the everyday pages, always in the top row (Calendar, Clients …)
    practice  order 50 to 94: running the practice, under one "Practice" menu (Forms, Services …)
    account   order 95 and up: the person's own pages, at the end beside "Log out" (Security …)
    alerts    only when named (`group="alerts"`): an entry whose label starts with an icon and may
              carry a count (the notification bell). It sits at the end of the row, after the
              account's pages, and on a desktop shows its icon and count alone (its words stay for
              screen readers); in the folded menu of a phone it reads in full.

`register_nav(..., group=...)` names the group outright when the order alone would mislead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import url_for
from flask_login import current_user

GROUPS = ("main", "practice", "account", "alerts")
PRACTICE_FROM = 50
ACCOUNT_FROM = 95


@dataclass(frozen=True)
class NavEntry:
    area: str  # "staff" or "portal"
    label: str | Callable[[], str]  # a callable label is worked out per request (a count, say)
    endpoint: str
    visible: Callable[[], bool]
    order: int = 50
    group: str | None = None  # None: from the order (see the module's docstring)

    def shown_label(self) -> str:
        return self.label() if callable(self.label) else self.label

    @property
    def in_group(self) -> str:
        if self.group:
            return self.group
        if self.order >= ACCOUNT_FROM:
            return "account"
        return "practice" if self.order >= PRACTICE_FROM else "main"


@dataclass(frozen=True)
class NavLink:
    label: str
    url: str
    endpoint: str

    def __iter__(self):  # (label, url, endpoint), as `nav_links` has always given them
        return iter((self.label, self.url, self.endpoint))


_entries: list[NavEntry] = []


def register_nav(
    area: str,
    label: str | Callable[[], str],
    endpoint: str,
    visible: Callable[[], bool],
    order: int = 50,
    group: str | None = None,
) -> None:
    if group is not None and group not in GROUPS:
        raise ValueError(f"unknown navigation group {group!r}: one of {GROUPS}")
    if not any(e.area == area and e.endpoint == endpoint for e in _entries):
        _entries.append(NavEntry(area, label, endpoint, visible, order, group))


def _visible(area: str) -> list[tuple[NavEntry, NavLink]]:
    return [
        (entry, NavLink(entry.shown_label(), url_for(entry.endpoint), entry.endpoint))
        for entry in sorted(_entries, key=lambda e: (e.order, e.endpoint))
        if entry.area == area and entry.visible()
    ]


def nav_links(area: str) -> list[NavLink]:
    """The entries of `area` visible to this request, in order: (label, url, endpoint) each."""
    return [link for _, link in _visible(area)]


def nav_groups(area: str) -> dict[str, list[NavLink]]:
    """The visible entries of `area` by group ("main", "practice", "account", "alerts"), each in order."""
    groups: dict[str, list[NavLink]] = {name: [] for name in GROUPS}
    for entry, link in _visible(area):
        groups[entry.in_group].append(link)
    return groups


def staff_in(*roles: str) -> Callable[[], bool]:
    """A `visible` test for staff entries: any logged-in staff member, or only those `roles`."""

    def visible() -> bool:
        return bool(
            current_user.is_authenticated
            and current_user.is_staff
            and (not roles or current_user.role in roles)
        )

    return visible
