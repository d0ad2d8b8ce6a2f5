"""People and access: clients, assignments, portal access (guardians), profile links, step-up
codes, recovery codes, messages, the audit log, and the practice's toggles.

Revision ID: t0002
Revises: t0001
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

# Migrations keep their own copy of the SQL they ran (blueprints.audit.models builds the same at head).
APPEND_ONLY_FUNCTION = """
CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the audit log is append-only';
END $$"""
APPEND_ONLY_TRIGGER = (
    "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_events "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()"
)

revision = "t0002"
down_revision = "t0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("actor_kind", sa.String(length=20), nullable=False),
        sa.Column("actor_user_id", sa.BigInteger(), nullable=True),
        sa.Column("actor_name", sa.String(length=200), nullable=True),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("client_id", sa.BigInteger(), nullable=True),
        sa.Column("ip_address", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    op.create_index(op.f("ix_audit_events_actor_user_id"), "audit_events", ["actor_user_id"], unique=False)
    op.create_index(op.f("ix_audit_events_client_id"), "audit_events", ["client_id"], unique=False)
    op.create_index(op.f("ix_audit_events_occurred_at"), "audit_events", ["occurred_at"], unique=False)
    op.create_table(
        "clients",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("preferred_name", sa.String(length=100), nullable=True),
        sa.Column("date_of_birth", sa.Date(), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("time_zone", sa.String(length=64), nullable=True),
        sa.Column("emergency_contact_name", sa.String(length=200), nullable=True),
        sa.Column("emergency_contact_phone", sa.String(length=40), nullable=True),
        sa.Column("insurance_provider", sa.String(length=200), nullable=True),
        sa.Column("insurance_member_id", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=20), server_default="active", nullable=False),
        sa.Column("is_test", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clients")),
    )
    op.create_table(
        "client_clinicians",
        sa.Column("client_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_client_clinicians_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_client_clinicians_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("client_id", "user_id", name=op.f("pk_client_clinicians")),
    )
    op.create_table(
        "messages",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("client_id", sa.BigInteger(), nullable=False),
        sa.Column("thread", sa.String(length=20), server_default="client", nullable=False),
        sa.Column("author_kind", sa.String(length=20), nullable=False),
        sa.Column("author_user_id", sa.BigInteger(), nullable=True),
        sa.Column("author_name", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_user_id"],
            ["users.id"],
            name=op.f("fk_messages_author_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_messages_client_id_clients"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
    )
    op.create_index(op.f("ix_messages_client_id"), "messages", ["client_id"], unique=False)
    op.create_table(
        "portal_access",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("client_id", sa.BigInteger(), nullable=False),
        sa.Column("relationship_kind", sa.String(length=20), nullable=False),
        sa.Column("can_appointments", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("can_forms", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("can_documents", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("can_messages", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("can_billing", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("minor_messages", sa.String(length=10), server_default="default", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_portal_access_client_id_clients"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_portal_access_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_access")),
        sa.UniqueConstraint("user_id", "client_id", name=op.f("uq_portal_access_user_id_client_id")),
    )
    op.create_index(op.f("ix_portal_access_client_id"), "portal_access", ["client_id"], unique=False)
    op.create_index(op.f("ix_portal_access_user_id"), "portal_access", ["user_id"], unique=False)
    op.create_table(
        "profile_links",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("client_id", sa.BigInteger(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by_user_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_profile_links_client_id_clients"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"],
            ["users.id"],
            name=op.f("fk_profile_links_created_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_profile_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_profile_links_token_hash")),
    )
    op.create_index(op.f("ix_profile_links_client_id"), "profile_links", ["client_id"], unique=False)
    op.create_table(
        "recovery_codes",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_recovery_codes_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_codes")),
    )
    op.create_index(op.f("ix_recovery_codes_user_id"), "recovery_codes", ["user_id"], unique=False)
    op.create_table(
        "step_up_codes",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("client_id", sa.BigInteger(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_step_up_codes_client_id_clients"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_step_up_codes")),
    )
    op.create_index(op.f("ix_step_up_codes_client_id"), "step_up_codes", ["client_id"], unique=False)
    op.add_column(
        "practice_settings",
        sa.Column("online_requests_enabled", sa.Boolean(), server_default="true", nullable=False),
    )
    op.add_column(
        "practice_settings",
        sa.Column("self_scheduling_enabled", sa.Boolean(), server_default="false", nullable=False),
    )
    op.add_column(
        "practice_settings",
        sa.Column("self_rescheduling_enabled", sa.Boolean(), server_default="false", nullable=False),
    )
    op.add_column(
        "practice_settings",
        sa.Column("client_cancellation_enabled", sa.Boolean(), server_default="true", nullable=False),
    )
    op.add_column(
        "practice_settings",
        sa.Column("cancellation_window_hours", sa.Integer(), server_default="24", nullable=False),
    )
    op.add_column(
        "practice_settings",
        sa.Column("messaging_enabled", sa.Boolean(), server_default="true", nullable=False),
    )
    op.add_column(
        "practice_settings", sa.Column("uploads_enabled", sa.Boolean(), server_default="true", nullable=False)
    )
    op.add_column(
        "practice_settings",
        sa.Column("profile_links_enabled", sa.Boolean(), server_default="true", nullable=False),
    )
    op.add_column(
        "practice_settings",
        sa.Column("guardian_access_enabled", sa.Boolean(), server_default="true", nullable=False),
    )
    op.add_column(
        "practice_settings", sa.Column("profile_link_days", sa.Integer(), server_default="14", nullable=False)
    )
    op.add_column(
        "practice_settings", sa.Column("age_of_majority", sa.Integer(), server_default="18", nullable=False)
    )
    op.add_column(
        "practice_settings", sa.Column("teen_age", sa.Integer(), server_default="12", nullable=False)
    )
    op.add_column(
        "practice_settings",
        sa.Column("require_staff_mfa", sa.Boolean(), server_default="false", nullable=False),
    )
    op.add_column(
        "practice_settings",
        sa.Column("ask_demographics", sa.Boolean(), server_default="true", nullable=False),
    )
    op.add_column(
        "practice_settings", sa.Column("ask_contact", sa.Boolean(), server_default="true", nullable=False)
    )
    op.add_column(
        "practice_settings",
        sa.Column("ask_emergency_contact", sa.Boolean(), server_default="false", nullable=False),
    )
    op.add_column(
        "practice_settings", sa.Column("ask_insurance", sa.Boolean(), server_default="false", nullable=False)
    )
    op.add_column("users", sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("users", sa.Column("totp_secret", sa.String(length=64), nullable=True))
    op.add_column("users", sa.Column("totp_enabled_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(APPEND_ONLY_FUNCTION)
    op.execute(APPEND_ONLY_TRIGGER)
    # Accounts created before invitations existed chose their password at signup.
    op.execute("UPDATE users SET activated_at = created_at WHERE password_hash IS NOT NULL")


def downgrade() -> None:
    op.drop_column("users", "totp_enabled_at")
    op.drop_column("users", "totp_secret")
    op.drop_column("users", "activated_at")
    op.drop_column("practice_settings", "ask_insurance")
    op.drop_column("practice_settings", "ask_emergency_contact")
    op.drop_column("practice_settings", "ask_contact")
    op.drop_column("practice_settings", "ask_demographics")
    op.drop_column("practice_settings", "require_staff_mfa")
    op.drop_column("practice_settings", "teen_age")
    op.drop_column("practice_settings", "age_of_majority")
    op.drop_column("practice_settings", "profile_link_days")
    op.drop_column("practice_settings", "guardian_access_enabled")
    op.drop_column("practice_settings", "profile_links_enabled")
    op.drop_column("practice_settings", "uploads_enabled")
    op.drop_column("practice_settings", "messaging_enabled")
    op.drop_column("practice_settings", "cancellation_window_hours")
    op.drop_column("practice_settings", "client_cancellation_enabled")
    op.drop_column("practice_settings", "self_rescheduling_enabled")
    op.drop_column("practice_settings", "self_scheduling_enabled")
    op.drop_column("practice_settings", "online_requests_enabled")
    op.drop_table("step_up_codes")
    op.drop_table("recovery_codes")
    op.drop_table("profile_links")
    op.drop_table("portal_access")
    op.drop_table("messages")
    op.drop_table("client_clinicians")
    op.drop_table("clients")
    op.drop_table("audit_events")
    op.execute("DROP FUNCTION audit_events_append_only()")
