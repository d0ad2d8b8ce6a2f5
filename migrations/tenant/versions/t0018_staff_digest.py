"""Staff email preferences and the daily digest (expand only: new tables, a new column with a
default, so the previous release runs unchanged on it).

- `staff_email_preferences`: at once / digest / never per staff member, and the generation of their
  unsubscribe token;
- `staff_digests_sent`: the (staff member, local date) claims that make each digest go out once;
- `practice_settings.digest_hour`: the local hour the digest goes out at.

Revision ID: t0018
Revises: t0017
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "t0018"
down_revision = "t0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "practice_settings", sa.Column("digest_hour", sa.Integer(), server_default="7", nullable=False)
    )
    op.create_table(
        "staff_email_preferences",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("email_mode", sa.String(length=10), server_default="now", nullable=False),
        sa.Column("token_generation", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], ondelete="CASCADE", name="fk_staff_email_preferences_user_id_users"
        ),
        sa.PrimaryKeyConstraint("user_id", name="pk_staff_email_preferences"),
    )
    op.create_table(
        "staff_digests_sent",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], ondelete="CASCADE", name="fk_staff_digests_sent_user_id_users"
        ),
        sa.PrimaryKeyConstraint("user_id", "local_date", name="pk_staff_digests_sent"),
    )


def downgrade() -> None:
    op.drop_table("staff_digests_sent")
    op.drop_table("staff_email_preferences")
    op.drop_column("practice_settings", "digest_hour")
