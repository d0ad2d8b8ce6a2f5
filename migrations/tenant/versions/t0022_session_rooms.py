"""Session rooms (expand only: new tables, a new column with a default, so the previous release runs
unchanged on it).

- `video_settings`: the practice's video service (none, self-hosted Jitsi Meet, a link per clinician),
  the Jitsi server's address and its token authentication (app id; the secret sealed), and the
  practice's address for in-person invites;
- `clinician_rooms`: each clinician's permanent room (a sealed random token on Jitsi, or the sealed
  link they pasted);
- `client_rooms`: each client's own Jitsi room (a sealed random token, replaced on regeneration);
- `services.delivery`: in_person, online or either (existing services stay in person).

Revision ID: t0022
Revises: t0023
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "t0022"
down_revision = "t0023"
branch_labels = None
depends_on = None

NOW = sa.text("now()")


def upgrade() -> None:
    op.add_column(
        "services",
        sa.Column("delivery", sa.String(length=10), server_default="in_person", nullable=False),
    )
    op.create_check_constraint(
        op.f("ck_services_delivery_known"), "services", "delivery IN ('in_person', 'online', 'either')"
    )
    op.create_table(
        "video_settings",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("service", sa.String(length=20), server_default="none", nullable=False),
        sa.Column("jitsi_base_url", sa.String(length=300), nullable=True),
        sa.Column("jitsi_app_id", sa.String(length=100), nullable=True),
        sa.Column("jitsi_secret_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("practice_address", sa.String(length=500), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_video_settings_single_row")),
        sa.CheckConstraint(
            "service IN ('none', 'jitsi', 'per_clinician')", name=op.f("ck_video_settings_service_known")
        ),
        sa.PrimaryKeyConstraint("id", name="pk_video_settings"),
    )
    op.create_table(
        "clinician_rooms",
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("token_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("own_link_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], ondelete="CASCADE", name="fk_clinician_rooms_user_id_users"
        ),
        sa.PrimaryKeyConstraint("user_id", name="pk_clinician_rooms"),
    )
    op.create_table(
        "client_rooms",
        sa.Column("client_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("token_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("generation", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], ondelete="CASCADE", name="fk_client_rooms_client_id_clients"
        ),
        sa.PrimaryKeyConstraint("client_id", name="pk_client_rooms"),
    )


def downgrade() -> None:
    op.drop_table("client_rooms")
    op.drop_table("clinician_rooms")
    op.drop_table("video_settings")
    op.drop_constraint(op.f("ck_services_delivery_known"), "services", type_="check")
    op.drop_column("services", "delivery")
