"""Per-practice settings and feature toggles, stored in the practice's own schema.

A disabled feature answers 404 and disappears from navigation; its data stays untouched.
"""

from __future__ import annotations

from functools import wraps

from flask import abort, g
from sqlalchemy import Boolean, CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from tenants.context import current_practice
from tenants.database import TenantModel, db


class PracticeSettings(TenantModel):
    __tablename__ = "practice_settings"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, default=1, autoincrement=False)
    portal_enabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    contact_email: Mapped[str | None] = mapped_column(String(254))


FEATURES = ("portal",)


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


def is_enabled(feature: str) -> bool:
    if feature not in FEATURES:
        raise KeyError(feature)
    return bool(getattr(practice_settings(), f"{feature}_enabled"))


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
