"""The outbox: every email a practice sends, kept in the practice's own schema.

The body and the attachment (reset links, profile links, codes) are sealed (tenants/encryption)
until the email is delivered, then dropped; subject, recipient, times, attempts and Message-ID stay.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Identity, Integer, LargeBinary, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from tenants.database import TenantModel
from tenants.encryption import register_sealed_column


class OutboxEmail(TenantModel):
    __tablename__ = "outbox_emails"

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    # Given at queue time and kept for every try: a resent duplicate carries the same Message-ID.
    message_id: Mapped[str | None] = mapped_column(String(250))
    body_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    # Set when the last try failed: the email is shown as undelivered until someone retries it.
    failed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # One optional text attachment (calendar invites).
    attachment_filename: Mapped[str | None] = mapped_column(String(100))
    attachment_content_type: Mapped[str | None] = mapped_column(String(100))
    attachment_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Plain text of emails queued before t0007: sealed by their first try, dropped in a later release.
    body_text: Mapped[str | None] = mapped_column(Text)
    attachment_text: Mapped[str | None] = mapped_column(Text)

    @property
    def state(self) -> str:
        if self.sent_at is not None:
            return "sent"
        return "undelivered" if self.failed_at is not None else "queued"


for _column in ("body_sealed", "attachment_sealed"):
    register_sealed_column(OutboxEmail.__tablename__, _column)
