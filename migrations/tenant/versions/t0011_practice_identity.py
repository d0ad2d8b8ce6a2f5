"""The practice's identity (logo and accent colour, one row) and how far each login has read a
client record's messages (the portal home's unread count).

Revision ID: t0011
Revises: t0010
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "t0011"
down_revision = "t0010"
branch_labels = None
depends_on = None

NOW = sa.text("now()")


def upgrade() -> None:
    op.create_table(
        "practice_identity",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("logo", sa.LargeBinary(), nullable=True),
        sa.Column("logo_content_type", sa.String(length=20), nullable=True),
        sa.Column("accent_colour", sa.String(length=7), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_practice_identity_single_row")),
        sa.CheckConstraint(
            "logo_content_type IN ('image/png', 'image/jpeg')", name=op.f("ck_practice_identity_logo_type")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_practice_identity")),
    )
    op.create_table(
        "message_reads",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("client_id", sa.BigInteger(), nullable=False),
        sa.Column("last_read_message_id", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_message_reads_client_id_clients"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_message_reads_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "client_id", name=op.f("pk_message_reads")),
    )


def downgrade() -> None:
    op.drop_table("message_reads")
    op.drop_table("practice_identity")
