"""The practice registry in the `public` schema. Tenant roles have no rights on these tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Identity, Index, String, func, text
from sqlalchemy.orm import Mapped, mapped_column

from tenants.database import PublicModel

PRACTICE_STATUSES = ("active", "suspended", "deleted")


class Practice(PublicModel):
    __tablename__ = "practices"
    __table_args__ = (Index("uq_practices_slug", text("lower(slug)"), unique=True),)

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), server_default="active")
    schema_revision: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class RetiredSlug(PublicModel):
    """An address a practice used before a rename: it keeps redirecting and cannot be taken."""

    __tablename__ = "retired_slugs"

    slug: Mapped[str] = mapped_column(String(40), primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("public.practices.id", ondelete="CASCADE"))
    retired_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class PracticeDue(PublicModel):
    """When the practice next has periodic work due (`tenants.due`); no health information."""

    __tablename__ = "practice_due"

    practice_id: Mapped[int] = mapped_column(
        ForeignKey("public.practices.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    next_due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
