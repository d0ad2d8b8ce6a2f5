"""The append-only audit log of each practice (a trigger refuses UPDATE and DELETE)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DDL, DateTime, Identity, String, Text, event, func
from sqlalchemy.orm import Mapped, mapped_column

from tenants.database import TenantModel

APPEND_ONLY_FUNCTION = """
CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the audit log is append-only';
END $$"""
APPEND_ONLY_TRIGGER = (
    "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_events "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()"
)


class AuditEvent(TenantModel):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )
    actor_kind: Mapped[str] = mapped_column(String(20))  # staff, client, guardian, profile_link, system
    actor_user_id: Mapped[int | None] = mapped_column(index=True)
    actor_name: Mapped[str | None] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(60))
    client_id: Mapped[int | None] = mapped_column(index=True)
    ip_address: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)


# Built at head (create_all) inside the practice's search_path; the migration runs the same SQL.
event.listen(AuditEvent.__table__, "after_create", DDL(APPEND_ONLY_FUNCTION))
event.listen(AuditEvent.__table__, "after_create", DDL(APPEND_ONLY_TRIGGER))
