"""Waitlist (expand only): entries and offers, three practice settings with defaults, and the
no-double-booking constraint recreated to cover held rows too (`status IN ('booked', 'held')`).

The old constraint covered only 'booked'; no row had another active status before this revision, so
the new one holds for every existing row. The previous release never writes 'held', so it runs
unchanged on this schema.

Revision ID: t0024
Revises: t0022
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "t0024"
down_revision = "t0022"
branch_labels = None
depends_on = None

NOW = sa.text("now()")


def _constraint(where: str) -> None:
    op.execute("ALTER TABLE appointments DROP CONSTRAINT no_double_booking")
    op.create_exclude_constraint(
        "no_double_booking",
        "appointments",
        (sa.column("block_key"), "&&"),
        where=sa.text(where),
        using="gist",
    )


def upgrade() -> None:
    op.add_column(
        "practice_settings",
        sa.Column("waitlist_enabled", sa.Boolean(), server_default="false", nullable=False),
    )
    op.add_column(
        "practice_settings",
        sa.Column("waitlist_offer_count", sa.Integer(), server_default="3", nullable=False),
    )
    op.add_column(
        "practice_settings",
        sa.Column("waitlist_hold_minutes", sa.Integer(), server_default="15", nullable=False),
    )
    _constraint("status IN ('booked', 'held')")
    op.create_table(
        "waitlist_entries",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("client_id", sa.BigInteger(), nullable=False),
        sa.Column("service_id", sa.BigInteger(), nullable=False),
        sa.Column("clinician_user_id", sa.BigInteger(), nullable=True),
        sa.Column("weekdays", sa.SmallInteger(), nullable=False),
        sa.Column("parts", sa.SmallInteger(), nullable=False),
        sa.Column("from_date", sa.Date(), nullable=False),
        sa.Column("until_date", sa.Date(), nullable=False),
        sa.Column("move_appointment_id", sa.BigInteger(), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=10), server_default="waiting", nullable=False),
        sa.Column("added_by_user_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("booked_appointment_id", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "status IN ('waiting', 'booked', 'left')", name=op.f("ck_waitlist_entries_status")
        ),
        sa.CheckConstraint("weekdays BETWEEN 1 AND 127", name=op.f("ck_waitlist_entries_weekdays")),
        sa.CheckConstraint("parts BETWEEN 1 AND 7", name=op.f("ck_waitlist_entries_parts")),
        sa.CheckConstraint("until_date >= from_date", name=op.f("ck_waitlist_entries_dates")),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_waitlist_entries_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_waitlist_entries_service_id_services"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["clinician_user_id"],
            ["users.id"],
            name=op.f("fk_waitlist_entries_clinician_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["move_appointment_id"],
            ["appointments.id"],
            name=op.f("fk_waitlist_entries_move_appointment_id_appointments"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["added_by_user_id"],
            ["users.id"],
            name=op.f("fk_waitlist_entries_added_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["booked_appointment_id"],
            ["appointments.id"],
            name=op.f("fk_waitlist_entries_booked_appointment_id_appointments"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waitlist_entries")),
    )
    op.create_index(op.f("ix_waitlist_entries_client_id"), "waitlist_entries", ["client_id"])
    op.create_index(op.f("ix_waitlist_entries_clinician_user_id"), "waitlist_entries", ["clinician_user_id"])
    op.create_table(
        "waitlist_offers",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("entry_id", sa.BigInteger(), nullable=False),
        sa.Column("appointment_id", sa.BigInteger(), nullable=True),
        sa.Column("clinician_user_id", sa.BigInteger(), nullable=False),
        sa.Column("service_id", sa.BigInteger(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=10), server_default="open", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('open', 'accepted', 'declined', 'taken', 'lapsed')",
            name=op.f("ck_waitlist_offers_status"),
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["waitlist_entries.id"],
            name=op.f("fk_waitlist_offers_entry_id_waitlist_entries"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_waitlist_offers_appointment_id_appointments"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["clinician_user_id"],
            ["users.id"],
            name=op.f("fk_waitlist_offers_clinician_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_waitlist_offers_service_id_services"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waitlist_offers")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_waitlist_offers_token_hash")),
    )
    op.create_index(op.f("ix_waitlist_offers_entry_id"), "waitlist_offers", ["entry_id"])
    op.create_index(op.f("ix_waitlist_offers_appointment_id"), "waitlist_offers", ["appointment_id"])
    op.create_index(op.f("ix_waitlist_offers_expires_at"), "waitlist_offers", ["expires_at"])


def downgrade() -> None:
    op.drop_table("waitlist_offers")
    op.drop_table("waitlist_entries")
    op.execute("DELETE FROM appointments WHERE status = 'held'")
    _constraint("status = 'booked'")
    op.drop_column("practice_settings", "waitlist_hold_minutes")
    op.drop_column("practice_settings", "waitlist_offer_count")
    op.drop_column("practice_settings", "waitlist_enabled")
