"""When each practice next has periodic work due (reminders, follow-ups): one time per practice, so the
platform's periodic task fans out only to the practices with something to do. It holds no health
information: a practice id and a time.

Revision ID: p0002
Revises: p0001
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "p0002"
down_revision = "p0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "practice_due",
        sa.Column("practice_id", sa.BigInteger(), nullable=False),
        sa.Column("next_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["practice_id"],
            ["public.practices.id"],
            ondelete="CASCADE",
            name="fk_practice_due_practice_id_practices",
        ),
        sa.PrimaryKeyConstraint("practice_id", name="pk_practice_due"),
        schema="public",
    )
    op.create_index("ix_practice_due_next_due_at", "practice_due", ["next_due_at"], schema="public")


def downgrade() -> None:
    op.drop_table("practice_due", schema="public")
