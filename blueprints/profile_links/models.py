"""Passwordless profile links and the emailed step-up codes that go with them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Identity, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from blueprints.people.models import Client, PortalAccess
from tenants.database import TenantModel


class ProfileLink(TenantModel):
    """A link `/l/<token>` that opens one client's portal; the token is stored only as SHA-256. With
    `portal_access_id` it is a guardian's: it opens the guardian's own session for the minor."""

    __tablename__ = "profile_links"

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("tenant.clients.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # A guardian's own link (their grant for this minor), or None: the client's own link.
    portal_access_id: Mapped[int | None] = mapped_column(
        ForeignKey("tenant.portal_access.id", ondelete="CASCADE"), index=True
    )
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("tenant.users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    client: Mapped[Client] = relationship()
    portal_access: Mapped[PortalAccess | None] = relationship()


class StepUpCode(TenantModel):
    """A six-digit code emailed to a client to unlock messages, documents and forms."""

    __tablename__ = "step_up_codes"

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("tenant.clients.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
