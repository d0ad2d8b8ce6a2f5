"""Scheduling: services, availability, appointments (no double booking), requests, calendar
feeds; scheduling defaults on the practice; attachments on outgoing email.

Revision ID: t0003
Revises: t0002
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "t0003"
down_revision = "t0002"
branch_labels = None
depends_on = None

# Migrations keep their own copy of the SQL they ran (blueprints.scheduling.models builds the same).
BLOCK_KEY_FUNCTION = """
CREATE FUNCTION appointments_block_key() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.block_key := int8range(
    NEW.clinician_user_id * 100000000000 + floor(extract(epoch FROM NEW.block_starts_at))::bigint,
    NEW.clinician_user_id * 100000000000 + ceil(extract(epoch FROM NEW.block_ends_at))::bigint);
  RETURN NEW;
END $$"""
BLOCK_KEY_TRIGGER = (
    "CREATE TRIGGER appointments_block_key BEFORE INSERT OR UPDATE ON appointments "
    "FOR EACH ROW EXECUTE FUNCTION appointments_block_key()"
)


def upgrade() -> None:
    op.create_table(
        "services",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("service_code", sa.String(length=20), nullable=True),
        sa.Column("price_cents", sa.Integer(), server_default="0", nullable=False),
        sa.Column("bookable_online", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default="true", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_services")),
    )
    op.create_table(
        "appointments",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("client_id", sa.BigInteger(), nullable=False),
        sa.Column("clinician_user_id", sa.BigInteger(), nullable=False),
        sa.Column("service_id", sa.BigInteger(), nullable=False),
        sa.Column("service_code", sa.String(length=20), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("block_starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("block_ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("block_key", postgresql.INT8RANGE(), nullable=True),
        sa.Column("status", sa.String(length=20), server_default="booked", nullable=False),
        sa.Column("duration_overridden", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("group_id", sa.BigInteger(), nullable=True),
        sa.Column("is_group_primary", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("alert", sa.Text(), nullable=True),
        sa.Column("ics_uid", sa.String(length=100), nullable=False),
        sa.Column("ics_sequence", sa.Integer(), server_default="0", nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        postgresql.ExcludeConstraint(
            (sa.column("block_key"), "&&"),
            where=sa.text("status = 'booked'"),
            using="gist",
            name="no_double_booking",
        ),
        sa.CheckConstraint("clinician_user_id < 92000000", name=op.f("ck_appointments_clinician_id_range")),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_appointments_ordered")),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_appointments_client_id_clients"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["clinician_user_id"], ["users.id"], name=op.f("fk_appointments_clinician_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_appointments_service_id_services")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointments")),
        sa.UniqueConstraint("ics_uid", name=op.f("uq_appointments_ics_uid")),
    )
    op.create_index(op.f("ix_appointments_client_id"), "appointments", ["client_id"], unique=False)
    op.create_index(
        op.f("ix_appointments_clinician_user_id"), "appointments", ["clinician_user_id"], unique=False
    )
    op.create_index(op.f("ix_appointments_starts_at"), "appointments", ["starts_at"], unique=False)
    op.create_table(
        "availability_exceptions",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("clinician_user_id", sa.BigInteger(), nullable=True),
        sa.Column("on_date", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("start_time", sa.Time(), nullable=True),
        sa.Column("end_time", sa.Time(), nullable=True),
        sa.CheckConstraint("kind IN ('off', 'extra')", name=op.f("ck_availability_exceptions_kind")),
        sa.ForeignKeyConstraint(
            ["clinician_user_id"],
            ["users.id"],
            name=op.f("fk_availability_exceptions_clinician_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_availability_exceptions")),
    )
    op.create_index(
        op.f("ix_availability_exceptions_clinician_user_id"),
        "availability_exceptions",
        ["clinician_user_id"],
        unique=False,
    )
    op.create_table(
        "availability_rules",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("clinician_user_id", sa.BigInteger(), nullable=True),
        sa.Column("weekday", sa.SmallInteger(), nullable=False),
        sa.Column("start_time", sa.Time(), nullable=False),
        sa.Column("end_time", sa.Time(), nullable=False),
        sa.CheckConstraint(
            "end_time > start_time OR end_time = '00:00'", name=op.f("ck_availability_rules_ordered")
        ),
        sa.CheckConstraint("weekday BETWEEN 0 AND 6", name=op.f("ck_availability_rules_weekday")),
        sa.ForeignKeyConstraint(
            ["clinician_user_id"],
            ["users.id"],
            name=op.f("fk_availability_rules_clinician_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_availability_rules")),
    )
    op.create_index(
        op.f("ix_availability_rules_clinician_user_id"),
        "availability_rules",
        ["clinician_user_id"],
        unique=False,
    )
    op.create_table(
        "calendar_feeds",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_calendar_feeds_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_feeds")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_calendar_feeds_token_hash")),
    )
    op.create_index(op.f("ix_calendar_feeds_user_id"), "calendar_feeds", ["user_id"], unique=False)
    op.create_table(
        "clinician_schedules",
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("uses_own_hours", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("buffer_before_minutes", sa.Integer(), nullable=True),
        sa.Column("buffer_after_minutes", sa.Integer(), nullable=True),
        sa.Column("min_notice_hours", sa.Integer(), nullable=True),
        sa.Column("horizon_days", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_clinician_schedules_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_clinician_schedules")),
    )
    op.create_table(
        "service_clinicians",
        sa.Column("service_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_service_clinicians_service_id_services"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_service_clinicians_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("service_id", "user_id", name=op.f("pk_service_clinicians")),
    )
    op.create_table(
        "appointment_requests",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), server_default="pending", nullable=False),
        sa.Column("client_id", sa.BigInteger(), nullable=False),
        sa.Column("clinician_user_id", sa.BigInteger(), nullable=False),
        sa.Column("service_id", sa.BigInteger(), nullable=False),
        sa.Column("requested_starts_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("requested_ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("appointment_id", sa.BigInteger(), nullable=True),
        sa.Column("new_client", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("requested_by_user_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "requested_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by_user_id", sa.BigInteger(), nullable=True),
        sa.Column("decline_message", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('new', 'reschedule', 'cancellation')", name=op.f("ck_appointment_requests_kind")
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'declined', 'withdrawn', 'expired')",
            name=op.f("ck_appointment_requests_status"),
        ),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_appointment_requests_appointment_id_appointments"),
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_appointment_requests_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["clinician_user_id"], ["users.id"], name=op.f("fk_appointment_requests_clinician_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_user_id"],
            ["users.id"],
            name=op.f("fk_appointment_requests_decided_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_user_id"],
            ["users.id"],
            name=op.f("fk_appointment_requests_requested_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_appointment_requests_service_id_services")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointment_requests")),
    )
    op.create_index(
        op.f("ix_appointment_requests_client_id"), "appointment_requests", ["client_id"], unique=False
    )
    op.create_index(
        op.f("ix_appointment_requests_clinician_user_id"),
        "appointment_requests",
        ["clinician_user_id"],
        unique=False,
    )
    op.create_index(op.f("ix_appointment_requests_status"), "appointment_requests", ["status"], unique=False)
    op.add_column("outbox_emails", sa.Column("attachment_filename", sa.String(length=100), nullable=True))
    op.add_column("outbox_emails", sa.Column("attachment_content_type", sa.String(length=100), nullable=True))
    op.add_column("outbox_emails", sa.Column("attachment_text", sa.Text(), nullable=True))
    op.add_column(
        "practice_settings",
        sa.Column("buffer_before_minutes", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column(
        "practice_settings",
        sa.Column("buffer_after_minutes", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column(
        "practice_settings", sa.Column("min_notice_hours", sa.Integer(), server_default="24", nullable=False)
    )
    op.add_column(
        "practice_settings",
        sa.Column("booking_horizon_days", sa.Integer(), server_default="60", nullable=False),
    )
    op.add_column(
        "practice_settings",
        sa.Column("new_clients_choose_clinician", sa.Boolean(), server_default="false", nullable=False),
    )
    op.add_column("practice_settings", sa.Column("cancellation_policy", sa.Text(), nullable=True))
    op.execute(BLOCK_KEY_FUNCTION)
    op.execute(BLOCK_KEY_TRIGGER)


def downgrade() -> None:
    op.drop_column("practice_settings", "cancellation_policy")
    op.drop_column("practice_settings", "new_clients_choose_clinician")
    op.drop_column("practice_settings", "booking_horizon_days")
    op.drop_column("practice_settings", "min_notice_hours")
    op.drop_column("practice_settings", "buffer_after_minutes")
    op.drop_column("practice_settings", "buffer_before_minutes")
    op.drop_column("outbox_emails", "attachment_text")
    op.drop_column("outbox_emails", "attachment_content_type")
    op.drop_column("outbox_emails", "attachment_filename")
    op.drop_table("appointment_requests")
    op.drop_table("service_clinicians")
    op.drop_table("clinician_schedules")
    op.drop_table("calendar_feeds")
    op.drop_table("availability_rules")
    op.drop_table("availability_exceptions")
    op.drop_table("appointments")
    op.drop_table("services")
    op.execute("DROP FUNCTION appointments_block_key()")
