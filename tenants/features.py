"""Per-practice settings and feature toggles, stored in the practice's own schema.

A disabled feature answers 404 and disappears from navigation; its data stays untouched.

Two ways to read the settings: `practice_settings()` is the session's own row (to change it, or
when a view wants the ORM object), and `cached_practice_settings()` a read-only copy kept per
process, keyed by practice id and the row's version (its `xmin`, which every committed UPDATE
changes, whichever process made it). The staff sign-in path reads that version in the same statement
as the user (`settings_version_column`, `note_settings_version`), so a staff request whose
practice's settings have not changed reads no settings row at all.
"""

from __future__ import annotations

import threading
from collections import namedtuple
from datetime import date, datetime
from functools import wraps
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cachetools import LRUCache
from flask import abort, g
from sqlalchemy import Boolean, CheckConstraint, Integer, String, Text, literal_column, select
from sqlalchemy.orm import Mapped, mapped_column

from tenants.context import current_practice
from tenants.database import TenantModel, db


def _toggle(default: bool):
    return mapped_column(Boolean, default=default, server_default="true" if default else "false")


class PracticeSettings(TenantModel):
    __tablename__ = "practice_settings"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, default=1, autoincrement=False)
    portal_enabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    contact_email: Mapped[str | None] = mapped_column(String(254))
    # Client-facing features (each also needs the portal to be on).
    online_requests_enabled: Mapped[bool] = _toggle(True)
    self_scheduling_enabled: Mapped[bool] = _toggle(False)
    self_rescheduling_enabled: Mapped[bool] = _toggle(False)
    client_cancellation_enabled: Mapped[bool] = _toggle(True)
    cancellation_window_hours: Mapped[int] = mapped_column(Integer, default=24, server_default="24")
    messaging_enabled: Mapped[bool] = _toggle(True)
    uploads_enabled: Mapped[bool] = _toggle(True)
    shared_documents_enabled: Mapped[bool] = _toggle(True)
    profile_links_enabled: Mapped[bool] = _toggle(True)
    guardian_access_enabled: Mapped[bool] = _toggle(True)
    forms_enabled: Mapped[bool] = _toggle(True)
    # Access rules.
    profile_link_days: Mapped[int] = mapped_column(Integer, default=14, server_default="14")
    age_of_majority: Mapped[int] = mapped_column(Integer, default=18, server_default="18")
    teen_age: Mapped[int] = mapped_column(Integer, default=12, server_default="12")
    require_staff_mfa: Mapped[bool] = _toggle(False)
    # What the practice asks its clients for.
    ask_demographics: Mapped[bool] = _toggle(True)
    ask_contact: Mapped[bool] = _toggle(True)
    ask_emergency_contact: Mapped[bool] = _toggle(False)
    ask_insurance: Mapped[bool] = _toggle(False)
    # Scheduling defaults (clinicians may override them).
    buffer_before_minutes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    buffer_after_minutes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    min_notice_hours: Mapped[int] = mapped_column(Integer, default=24, server_default="24")
    booking_horizon_days: Mapped[int] = mapped_column(Integer, default=60, server_default="60")
    new_clients_choose_clinician: Mapped[bool] = _toggle(False)
    # Clients may book a recurring series of the services marked "series bookable".
    client_series_enabled: Mapped[bool] = _toggle(False)
    cancellation_policy: Mapped[str | None] = mapped_column(Text)
    # The local hour (0-23) the staff's daily digest goes out at.
    digest_hour: Mapped[int] = mapped_column(Integer, default=7, server_default="7")
    # Documents: what one file and one client's uploads may weigh at most (megabytes).
    max_upload_mb: Mapped[int] = mapped_column(Integer, default=25, server_default="25")
    client_storage_mb: Mapped[int] = mapped_column(Integer, default=200, server_default="200")
    # Shown to a client at once when an answer needs urgent help (PHQ-9 item 9); required before the
    # PHQ-9 can be sent to anyone.
    crisis_resources: Mapped[str | None] = mapped_column(Text)
    # Prices and payments: an ISO 4217 code (app.money); amounts are in its smallest unit.
    currency: Mapped[str] = mapped_column(String(3), default="USD", server_default="USD")
    # Waitlist: freed times offered to this many waiting clients at once, held this many minutes.
    waitlist_enabled: Mapped[bool] = _toggle(False)
    waitlist_offer_count: Mapped[int] = mapped_column(Integer, default=3, server_default="3")
    waitlist_hold_minutes: Mapped[int] = mapped_column(Integer, default=15, server_default="15")
    # Clients pay invoices and save a card in the portal (needs a connected Stripe account).
    online_payments_enabled: Mapped[bool] = _toggle(False)


# Feature name -> what it needs on: client features also need the portal itself.
FEATURES = {
    "portal": ("portal_enabled",),
    "online_requests": ("portal_enabled", "online_requests_enabled"),
    "self_scheduling": ("portal_enabled", "self_scheduling_enabled"),
    "self_rescheduling": ("portal_enabled", "self_rescheduling_enabled"),
    "client_cancellation": ("portal_enabled", "client_cancellation_enabled"),
    "messaging": ("portal_enabled", "messaging_enabled"),
    "uploads": ("portal_enabled", "uploads_enabled"),
    "shared_documents": ("portal_enabled", "shared_documents_enabled"),
    "profile_links": ("portal_enabled", "profile_links_enabled"),
    "guardian_access": ("portal_enabled", "guardian_access_enabled"),
    "forms": ("portal_enabled", "forms_enabled"),
    "waitlist": ("portal_enabled", "waitlist_enabled"),
    "online_payments": ("portal_enabled", "online_payments_enabled"),
}


def practice_settings() -> PracticeSettings:
    """The bound practice's settings row (created on first use), cached for the request."""
    practice = current_practice()
    cached = g.get("_portico_settings")
    if cached is not None and cached[0] == practice.id:
        return cached[1]
    row = db.session.get(PracticeSettings, 1)
    if row is None:
        row = PracticeSettings(id=1)
        db.session.add(row)
        db.session.flush()
    g._portico_settings = (practice.id, row)
    return row


# --- the per-process settings cache ---------------------------------------------------------------
#
# ISOLATION: an entry is stored under the id of the practice whose transaction read it (the row is
# read under that practice's role, from its own schema), and is only ever returned for that same
# practice id, so no practice can be served another's settings. The copies are immutable tuples: a
# caller cannot change the cached copy (changes go through `practice_settings()`, the session's row).

SETTINGS_CACHE_SIZE = 20_000  # entries (one per practice; ~1-2 KB each)
_SETTINGS_COLUMNS = [column.key for column in PracticeSettings.__table__.columns]
SettingsCopy = namedtuple("SettingsCopy", _SETTINGS_COLUMNS)
_settings_cache: LRUCache = LRUCache(maxsize=SETTINGS_CACHE_SIZE)
_settings_lock = threading.Lock()  # cachetools caches are not thread-safe


def settings_version_column():
    """A scalar subquery for a select of the bound practice: its settings row's version (xmin as
    text; NULL while the row does not exist). Put it beside the user in the request's first read."""
    table = PracticeSettings.__table__
    return (
        select(literal_column("practice_settings.xmin::text"))
        .select_from(table)
        .where(table.c.id == 1)
        .scalar_subquery()
        .label("settings_version")
    )


def note_settings_version(version: str | None) -> None:
    """Remember, for this request, the settings version read under the bound practice."""
    if version is not None:
        g._portico_settings_version = (current_practice().id, version)


def cached_practice_settings():
    """The bound practice's settings, read-only (a `SettingsCopy`, or the session's own row when this
    request has loaded it: its unsaved changes win). No statement at all when this request already
    knows the row's version and this process has that version cached."""
    practice = current_practice()
    own = g.get("_portico_settings")
    if own is not None and own[0] == practice.id:
        return own[1]
    known = g.get("_portico_settings_version")
    if known is not None and known[0] == practice.id:
        with _settings_lock:
            cached = _settings_cache.get(practice.id)
        if cached is not None and cached[0] == known[1]:
            return cached[1]
    table = PracticeSettings.__table__
    row = db.session.execute(
        select(table, literal_column("practice_settings.xmin::text").label("_version")).where(table.c.id == 1)
    ).first()
    if row is None:
        return practice_settings()  # created on first use, in this request's transaction
    copy = SettingsCopy(*(row._mapping[name] for name in _SETTINGS_COLUMNS))
    with _settings_lock:
        _settings_cache[practice.id] = (row._mapping["_version"], copy)
    g._portico_settings_version = (practice.id, row._mapping["_version"])
    return copy


def practice_zone(preferred: str | None = None) -> ZoneInfo:
    """The zone to show times in: `preferred` (a client's own choice) when it is a valid zone name,
    else the bound practice's zone, else UTC."""
    for name in (preferred, cached_practice_settings().time_zone):
        try:
            return ZoneInfo(name)
        except (TypeError, ValueError, ZoneInfoNotFoundError):
            continue
    return ZoneInfo("UTC")


def practice_today() -> date:
    """Today's date where the practice is (ages, "upcoming", default calendar days)."""
    return datetime.now(practice_zone()).date()


def is_enabled(feature: str) -> bool:
    settings = cached_practice_settings()
    return all(getattr(settings, column) for column in FEATURES[feature])


def feature_required(feature: str):
    """404 unless `feature` is on for the bound practice."""

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not is_enabled(feature):
                abort(404)
            return view(*args, **kwargs)

        return wrapper

    return decorate
