"""Recurring series (expand only: a new table and nullable or defaulted columns, so the previous
release runs unchanged on it).

- `appointment_series`: who, with whom, which service, every 1-4 weeks at one local time, N times
  or until a date, and who booked it (a staff member, or the client through the portal);
- `appointments.series_id`: the series an appointment was booked in (None: a single booking);
- `services.series_bookable`: clients may book this service as a series (where the practice allows);
- `practice_settings.client_series_enabled`: clients may book series at all.

Revision ID: t0023
Revises: t0019
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "t0023"
down_revision = "t0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "appointment_series",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("client_id", sa.BigInteger(), nullable=False),
        sa.Column("clinician_user_id", sa.BigInteger(), nullable=False),
        sa.Column("service_id", sa.BigInteger(), nullable=False),
        sa.Column("interval_weeks", sa.SmallInteger(), nullable=False),
        sa.Column("occurrence_count", sa.Integer(), nullable=True),
        sa.Column("until_date", sa.Date(), nullable=True),
        sa.Column("local_time", sa.Time(), nullable=False),
        sa.Column("created_by_user_id", sa.BigInteger(), nullable=True),
        sa.Column("created_by_client", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("interval_weeks BETWEEN 1 AND 4", name="interval"),
        sa.CheckConstraint("(occurrence_count IS NULL) <> (until_date IS NULL)", name="count_or_until"),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], ondelete="CASCADE", name="fk_appointment_series_client_id_clients"
        ),
        sa.ForeignKeyConstraint(
            ["clinician_user_id"], ["users.id"], name="fk_appointment_series_clinician_user_id_users"
        ),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name="fk_appointment_series_service_id_services"
        ),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"],
            ["users.id"],
            ondelete="SET NULL",
            name="fk_appointment_series_created_by_user_id_users",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_appointment_series"),
    )
    op.create_index("ix_appointment_series_client_id", "appointment_series", ["client_id"])
    op.add_column("appointments", sa.Column("series_id", sa.BigInteger(), nullable=True))
    op.create_foreign_key(
        "fk_appointments_series_id_appointment_series",
        "appointments",
        "appointment_series",
        ["series_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_index("ix_appointments_series_id", "appointments", ["series_id"])
    op.add_column(
        "services", sa.Column("series_bookable", sa.Boolean(), server_default="false", nullable=False)
    )
    op.add_column(
        "practice_settings",
        sa.Column("client_series_enabled", sa.Boolean(), server_default="false", nullable=False),
    )


def downgrade() -> None:
    op.drop_column("practice_settings", "client_series_enabled")
    op.drop_column("services", "series_bookable")
    op.drop_index("ix_appointments_series_id", table_name="appointments")
    op.drop_constraint("fk_appointments_series_id_appointment_series", "appointments", type_="foreignkey")
    op.drop_column("appointments", "series_id")
    op.drop_index("ix_appointment_series_client_id", table_name="appointment_series")
    op.drop_table("appointment_series")
