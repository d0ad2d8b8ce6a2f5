"""At most one pending request per appointment (a double-submitted change request is refused).

Revision ID: t0006
Revises: t0005
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "t0006"
down_revision = "t0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Older duplicates (if any) are withdrawn first, keeping the earliest pending one.
    op.execute(
        "UPDATE appointment_requests SET status = 'withdrawn', decided_at = now() WHERE status = 'pending' "
        "AND appointment_id IS NOT NULL AND id NOT IN (SELECT min(id) FROM appointment_requests "
        "WHERE status = 'pending' AND appointment_id IS NOT NULL GROUP BY appointment_id)"
    )
    op.create_index(
        "uq_appointment_requests_pending",
        "appointment_requests",
        ["appointment_id"],
        unique=True,
        postgresql_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index("uq_appointment_requests_pending", table_name="appointment_requests")
