"""Staff single sign-on, in each practice's schema: the practice's OpenID Connect provider, which
provider account each staff member is linked to, and the authorization codes already used."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    LargeBinary,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from tenants.database import TenantModel


class SsoProvider(TenantModel):
    """The one OpenID Connect provider a practice's staff may sign in with (at most one row)."""

    __tablename__ = "sso_providers"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, default=1, autoincrement=False)
    display_name: Mapped[str] = mapped_column(String(60))
    issuer: Mapped[str] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(500))
    # Sealed by `blueprints.sso.service._seal_secret`; never shown back to anyone.
    client_secret_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    required_for_staff: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # Read from the provider's discovery document each time the owner saves.
    authorization_endpoint: Mapped[str] = mapped_column(String(500))
    token_endpoint: Mapped[str] = mapped_column(String(500))
    jwks_uri: Mapped[str] = mapped_column(String(500))
    signing_algorithms: Mapped[str] = mapped_column(String(200))  # space-separated
    token_auth_method: Mapped[str] = mapped_column(String(40))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class SsoIdentity(TenantModel):
    """The provider account (issuer + subject) a staff member first signed in with. A later sign-in
    with the same email but another account is refused."""

    __tablename__ = "sso_identities"
    __table_args__ = (UniqueConstraint("issuer", "subject"),)

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("tenant.users.id", ondelete="CASCADE"), unique=True)
    issuer: Mapped[str] = mapped_column(String(500))
    subject: Mapped[str] = mapped_column(String(255))
    linked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_used_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class SsoUsedCode(TenantModel):
    """An authorization code already brought back to the callback (stored as SHA-256): a replay of
    the same callback is refused before the code reaches the provider again."""

    __tablename__ = "sso_used_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    used_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), index=True)
