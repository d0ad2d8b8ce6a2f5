"""The menu's entries: grouped by their order (or by name), in order, hidden when not visible, and a
callable label worked out per request (a count, say)."""

from __future__ import annotations

import pytest

from app import nav


@pytest.fixture
def entries(monkeypatch):
    monkeypatch.setattr(nav, "_entries", [])
    return nav


def test_entries_fall_into_main_practice_account_and_alerts_groups(app, entries):
    count = iter(range(3, 100))
    entries.register_nav("staff", "Settings", "settings.edit", lambda: True, order=80)
    entries.register_nav(
        "staff", lambda: f"Requests ({next(count)})", "scheduling.requests", lambda: True, order=14
    )
    entries.register_nav("staff", "Calendar", "scheduling.calendar", lambda: True, order=12)
    entries.register_nav("staff", "Security", "auth.account_security", lambda: True, order=95)
    entries.register_nav("staff", "Outbox", "notifications.outbox", lambda: False, order=85)
    entries.register_nav("staff", "Audit log", "audit.events", lambda: True, order=10, group="practice")
    bell = "staff_notifications.index"
    entries.register_nav("staff", "Notifications", bell, lambda: True, order=95, group="alerts")
    entries.register_nav("portal", "Home", "portal.home", lambda: True, order=10)
    entries.register_nav("staff", "Calendar again", "scheduling.calendar", lambda: True)  # once per endpoint

    with app.test_request_context("/", base_url="http://localhost"):
        groups = entries.nav_groups("staff")
        labels = {name: [link.label for link in links] for name, links in groups.items()}
        assert labels == {
            "main": ["Calendar", "Requests (3)"],
            "practice": ["Audit log", "Settings"],
            "account": ["Security"],
            "alerts": ["Notifications"],
        }
        # The callable label is asked again on the next request.
        assert [label for label, _, _ in entries.nav_links("staff")][2] == "Requests (4)"
        assert [(label, url) for label, url, _ in entries.nav_links("portal")] == [("Home", "/portal")]


def test_an_unknown_group_is_refused(entries):
    with pytest.raises(ValueError):
        entries.register_nav("staff", "Bell", "portal.home", lambda: True, group="elsewhere")
