"""The staff notification list: one row per staff member told of something (a new upload, later
requests, messages, forms, flags), read or not.

A row holds no clinical text: its kind, the client it is about and where its link goes. What it says
is worked out when it is shown (`staff_notifications.service.register_kind`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Identity, Index, String, func
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
