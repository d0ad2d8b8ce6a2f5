"""Secure messages between a practice and a client's record.

Each client record has two threads: "client" (the client's own conversation; for a minor, their
private one) and "guardian" (guardians writing on the minor's behalf).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Identity, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from tenants.database import TenantModel

THREADS = ("client", "guardian")


class Message(TenantModel):
    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("tenant.clients.id", ondelete="CASCADE"), index=True)
    thread: Mapped[str] = mapped_column(String(20), default="client", server_default="client")
    author_kind: Mapped[str] = mapped_column(String(20))  # staff, client, guardian
    author_user_id: Mapped[int | None] = mapped_column(ForeignKey("tenant.users.id", ondelete="SET NULL"))
    author_name: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class MessageRead(TenantModel):
    """How far a login has read a client record's messages: the newest message id it has seen
    (the portal home counts the practice's messages after it as unread)."""

    __tablename__ = "message_reads"

    user_id: Mapped[int] = mapped_column(ForeignKey("tenant.users.id", ondelete="CASCADE"), primary_key=True)
    client_id: Mapped[int] = mapped_column(
        ForeignKey("tenant.clients.id", ondelete="CASCADE"), primary_key=True
    )
    last_read_message_id: Mapped[int] = mapped_column(default=0, server_default="0")
    read_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
