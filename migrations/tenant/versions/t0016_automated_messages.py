"""Automated client messages and reminders (expand only: every change is a new table or a new
column with a default, so code of the previous release runs unchanged on it).

- `message_settings`: the practice's events, templates, reminders and discreet mode (one row);
- `client_notices`: automated messages held before they go out (collapsed per appointment);
- `reminders_sent`: the (appointment, offset, start) claims that make each reminder go out once;
- `outbox_emails.discreet` / `.kind`; `clients.discreet_messages`; `appointments.time_set_at`
  (filled from `created_at` for appointments that already exist).

Revision ID: t0016
Revises: t0015
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "t0016"
down_revision = "t0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "outbox_emails", sa.Column("discreet", sa.Boolean(), server_default="false", nullable=False)
    )
    op.add_column("outbox_emails", sa.Column("kind", sa.String(length=30), nullable=True))
    op.add_column(
        "clients", sa.Column("discreet_messages", sa.Boolean(), server_default="false", nullable=False)
    )
    op.add_column(
        "appointments",
        sa.Column("time_set_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=True),
    )
    op.execute("UPDATE appointments SET time_set_at = created_at")
    op.add_column("clients", sa.Column("sms_number", sa.String(length=20), nullable=True))
    op.add_column("clients", sa.Column("sms_opt_in_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("clients", sa.Column("sms_opted_out_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "sms_settings",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("provider", sa.String(length=20), server_default="twilio", nullable=False),
        sa.Column("account_sid", sa.String(length=64), nullable=True),
        sa.Column("auth_token_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("from_number", sa.String(length=20), nullable=True),
        sa.CheckConstraint("id = 1", name="single_row"),
        sa.PrimaryKeyConstraint("id", name="pk_sms_settings"),
    )
    op.create_table(
        "sms_messages",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("client_id", sa.BigInteger(), nullable=True),
        sa.Column("to_number", sa.String(length=20), nullable=False),
        sa.Column("body_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("status", sa.String(length=20), server_default="queued", nullable=False),
        sa.Column("provider_sid", sa.String(length=64), nullable=True),
        sa.Column("error_code", sa.String(length=20), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], ondelete="SET NULL", name="fk_sms_messages_client_id_clients"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_sms_messages"),
    )
    op.create_index("ix_sms_messages_client_id", "sms_messages", ["client_id"])
    op.create_index("ix_sms_messages_provider_sid", "sms_messages", ["provider_sid"])
    op.create_table(
        "message_settings",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("events", postgresql.JSONB(), server_default="{}", nullable=False),
        sa.Column("templates", postgresql.JSONB(), server_default="{}", nullable=False),
        sa.Column("show_clinician", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("show_service", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("discreet_mode", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("discreet_sender", sa.String(length=60), server_default="Appointments", nullable=False),
        sa.Column("reminder_offsets", sa.String(length=60), server_default="1440,120", nullable=False),
        sa.Column("followup_days", sa.Integer(), server_default="14", nullable=False),
        sa.Column("reminder_channel", sa.String(length=10), server_default="email", nullable=False),
        sa.CheckConstraint("id = 1", name="single_row"),
        sa.PrimaryKeyConstraint("id", name="pk_message_settings"),
    )
    op.create_table(
        "client_notices",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column("by_kind", sa.String(length=10), nullable=False),
        sa.Column("client_id", sa.BigInteger(), nullable=False),
        sa.Column("appointment_id", sa.BigInteger(), nullable=True),
        sa.Column("told_status", sa.String(length=20), nullable=True),
        sa.Column("told_starts_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("detail", sa.String(length=300), nullable=True),
        sa.Column("state", sa.String(length=12), server_default="held", nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], ondelete="CASCADE", name="fk_client_notices_client_id_clients"
        ),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            ondelete="CASCADE",
            name="fk_client_notices_appointment_id_appointments",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_client_notices"),
    )
    op.create_index("ix_client_notices_client_id", "client_notices", ["client_id"])
    op.create_index("ix_client_notices_appointment_id", "client_notices", ["appointment_id"])
    op.create_table(
        "reminders_sent",
        sa.Column("appointment_id", sa.BigInteger(), nullable=False),
        sa.Column("offset_minutes", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            ondelete="CASCADE",
            name="fk_reminders_sent_appointment_id_appointments",
        ),
        sa.PrimaryKeyConstraint("appointment_id", "offset_minutes", "starts_at", name="pk_reminders_sent"),
    )


def downgrade() -> None:
    op.drop_table("sms_messages")
    op.drop_table("sms_settings")
    for column in ("sms_opted_out_at", "sms_opt_in_at", "sms_number"):
        op.drop_column("clients", column)
    op.drop_table("reminders_sent")
    op.drop_table("client_notices")
    op.drop_table("message_settings")
    op.drop_column("appointments", "time_set_at")
    op.drop_column("clients", "discreet_messages")
    op.drop_column("outbox_emails", "kind")
    op.drop_column("outbox_emails", "discreet")
