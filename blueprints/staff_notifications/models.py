"""The staff notification list: one row per staff member told of something (a new upload, later
requests, messages, forms, flags), read or not.

A row holds no clinical text: its kind, the client it is about and where its link goes. What it says
is worked out when it is shown (`staff_notifications.service.register_kind`).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, ForeignKey, Identity, Index, Integer, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from tenants.database import TenantModel


class StaffNotification(TenantModel):
    __tablename__ = "staff_notifications"
    # The bell counts a login's unread rows on every staff page: one index answers it.
    __table_args__ = (Index(None, "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("tenant.users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    client_id: Mapped[int | None] = mapped_column(ForeignKey("tenant.clients.id", ondelete="CASCADE"))
    link_endpoint: Mapped[str] = mapped_column(String(100))
    link_args: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class StaffEmailPreference(TenantModel):
    """How a staff member is emailed of their notifications: "now" (one email per event), "digest"
    (counted in the daily digest) or "never". No row: "now". `token_generation` is part of the
    unsubscribe token's HMAC: bumping it (an unsubscribe) makes every earlier link stop working."""

    __tablename__ = "staff_email_preferences"

    user_id: Mapped[int] = mapped_column(ForeignKey("tenant.users.id", ondelete="CASCADE"), primary_key=True)
    email_mode: Mapped[str] = mapped_column(String(10), default="now", server_default="now")
    token_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class DigestSent(TenantModel):
    """The digest of (staff member, local date) is claimed by inserting this row before it is queued,
    in the same transaction: a restart, a retry or a second worker finds it taken."""

    __tablename__ = "staff_digests_sent"

    user_id: Mapped[int] = mapped_column(ForeignKey("tenant.users.id", ondelete="CASCADE"), primary_key=True)
    local_date: Mapped[date] = mapped_column(Date, primary_key=True)
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
