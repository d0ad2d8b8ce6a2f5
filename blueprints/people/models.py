"""Clients, their clinicians, and who may open which client's portal (and do what there)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from blueprints.auth.models import User
from tenants.database import TenantModel

CLIENT_STATUSES = ("active", "archived")
GUARDIAN_PERMISSIONS = ("appointments", "forms", "documents", "messages", "billing")
MINOR_MESSAGES_CHOICES = ("default", "allow", "deny")


class Client(TenantModel):
    __tablename__ = "clients"

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    preferred_name: Mapped[str | None] = mapped_column(String(100))
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(40))
    address: Mapped[str | None] = mapped_column(Text)
    time_zone: Mapped[str | None] = mapped_column(String(64))
    emergency_contact_name: Mapped[str | None] = mapped_column(String(200))
    emergency_contact_phone: Mapped[str | None] = mapped_column(String(40))
    insurance_provider: Mapped[str | None] = mapped_column(String(200))
    insurance_member_id: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), default="active", server_default="active")
    # A test client: staff "Preview as client" opens the portal as this record.
    is_test: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # Automated messages to this client are discreet (neutral sender and subject), whatever the practice.
    discreet_messages: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # Text messages: the client's mobile number in E.164 and when they opted in (or out, by STOP).
    sms_number: Mapped[str | None] = mapped_column(String(20))
    sms_opt_in_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sms_opted_out_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    clinicians: Mapped[list[User]] = relationship(secondary="tenant.client_clinicians", order_by=User.name)

    @property
    def display_name(self) -> str:
        first = self.preferred_name or self.first_name
        return f"{first} {self.last_name}"


class ClientClinician(TenantModel):
    __tablename__ = "client_clinicians"

    client_id: Mapped[int] = mapped_column(
        ForeignKey("tenant.clients.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("tenant.users.id", ondelete="CASCADE"), primary_key=True)


class PortalAccess(TenantModel):
    """One login's access to one client's portal: as that client ('self') or as a guardian.

    A family sharing one email address is one login with several 'self' rows. A guardian's row
    says what they may do for the minor; the rules that apply it live in `portal.service`.
    """

    __tablename__ = "portal_access"
    __table_args__ = (UniqueConstraint("user_id", "client_id"),)

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("tenant.users.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("tenant.clients.id", ondelete="CASCADE"), index=True)
    relationship_kind: Mapped[str] = mapped_column(String(20))  # "self" or "guardian"
    can_appointments: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    can_forms: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    can_documents: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    can_messages: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    can_billing: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # Guardian sight of the minor's own messages: "default" = allowed below the teen age only.
    minor_messages: Mapped[str] = mapped_column(String(10), default="default", server_default="default")
    # Guardian sight of the files the minor uploaded themselves (off unless the practice allows it).
    can_see_minor_uploads: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship()
    client: Mapped[Client] = relationship()
