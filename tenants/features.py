"""Per-practice settings and feature toggles, stored in the practice's own schema.

A disabled feature answers 404 and disappears from navigation; its data stays untouched.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import wraps
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import abort, g
from sqlalchemy import Boolean, CheckConstraint, Integer, String, Text
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


def practice_zone(preferred: str | None = None) -> ZoneInfo:
    """The zone to show times in: `preferred` (a client's own choice) when it is a valid zone name,
    else the bound practice's zone, else UTC."""
    for name in (preferred, practice_settings().time_zone):
        try:
            return ZoneInfo(name)
        except (TypeError, ValueError, ZoneInfoNotFoundError):
            continue
    return ZoneInfo("UTC")


def practice_today() -> date:
    """Today's date where the practice is (ages, "upcoming", default calendar days)."""
    return datetime.now(practice_zone()).date()


def is_enabled(feature: str) -> bool:
    settings = practice_settings()
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
