"""The practice's identity: its logo (re-encoded by `image.clean_logo`) and its accent colour, one
row per practice schema. `version` rises with every change; the logo and theme addresses carry it,
so browsers may keep them for a year and still see a change at once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, Integer, LargeBinary, String, func
from sqlalchemy.orm import Mapped, deferred, mapped_column

from tenants.database import TenantModel


class PracticeIdentity(TenantModel):
    __tablename__ = "practice_identity"
    __table_args__ = (
        CheckConstraint("id = 1", name="single_row"),
        CheckConstraint("logo_content_type IN ('image/png', 'image/jpeg')", name="logo_type"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, default=1, autoincrement=False)
    # Loaded only when the logo itself is served: every page reads the rest of the row.
    logo: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    logo_content_type: Mapped[str | None] = mapped_column(String(20))
    accent_colour: Mapped[str | None] = mapped_column(String(7))
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    @property
    def has_logo(self) -> bool:
        return self.logo_content_type is not None
