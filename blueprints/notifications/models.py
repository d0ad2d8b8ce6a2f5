"""The outbox: every email a practice sends, kept in the practice's own schema."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Identity, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from tenants.database import TenantModel


class OutboxEmail(TenantModel):
    __tablename__ = "outbox_emails"

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    # One optional text attachment (calendar invites).
    attachment_filename: Mapped[str | None] = mapped_column(String(100))
    attachment_content_type: Mapped[str | None] = mapped_column(String(100))
    attachment_text: Mapped[str | None] = mapped_column(Text)
