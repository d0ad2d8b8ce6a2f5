"""Every practice has its settings row from the start (new practices get it when provisioned).

Revision ID: t0004
Revises: t0003
Create Date: 2026-11-21
"""

from alembic import op

revision = "t0004"
down_revision = "t0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("INSERT INTO practice_settings (id) VALUES (1) ON CONFLICT (id) DO NOTHING")


def downgrade() -> None:
    pass  # the row is harmless; nothing to undo
