"""Accounts and one-time tokens, in each practice's schema."""

from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    String,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.roles import STAFF_ROLES
from tenants.context import current_practice
from tenants.database import TenantModel

__all__ = ["STAFF_ROLES", "OneTimeToken", "User"]


class User(UserMixin, TenantModel):
    """Someone who can log in to one practice."""

    __tablename__ = "users"
    __table_args__ = (Index("uq_users_email", text("lower(email)"), unique=True),)

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), default="staff", server_default="staff")
    role: Mapped[str] = mapped_column(String(20))
    is_active_account: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    # Bumped to end every session of this user at once (logout, password change, deactivation).
    session_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Set when the person chose their password (an invited account has none until then).
    activated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The TOTP secret (pending or on), sealed (`auth.two_factor.totp_secret` opens it). `totp_secret`
    # is where it was kept in plain text before t0010: sealed and emptied on first use, never written.
    totp_secret_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    def get_id(self) -> str:
        """What the session cookie records: practice, user and session generation."""
        return f"{current_practice().id}:{self.id}:{self.session_version}"

    @property
    def is_active(self) -> bool:
        return self.is_active_account

    @property
    def is_staff(self) -> bool:
        return self.kind == "staff"

    @property
    def audit_actor(self) -> dict:
        """Who did it, as the audit log records it (`record(action, **user.audit_actor)`)."""
        return {"actor_kind": self.kind, "actor_user_id": self.id, "actor_name": self.name}


class OneTimeToken(TenantModel):
    """A single-use secret (hand-off, password reset), stored only as its SHA-256."""

    __tablename__ = "one_time_tokens"

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("tenant.users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship()


class RecoveryCode(TenantModel):
    """A single-use two-factor recovery code, stored only as its SHA-256."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("tenant.users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
