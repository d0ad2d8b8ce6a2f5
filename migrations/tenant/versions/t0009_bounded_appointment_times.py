"""Appointments stay inside what the no-double-booking key can represent.

The key is clinician id * 10^11 + epoch seconds, so each clinician owns the seconds 0..10^11: from
1970-01-01 00:00:00 UTC to 5138-11-16 09:46:40 UTC (epoch + 10^11 s). A block outside that window
lands in a neighbouring clinician's range and blocks them. The CHECK refuses such rows for good.

Existing rows: the constraint is added NOT VALID (every new write is checked from here on), then the
rows outside the window are looked for. If there are any, the upgrade of this practice stops with a
message naming them, and nothing changes (its transaction rolls back; other practices carry on, and
`portico db upgrade` reports it). Move or delete those appointments (no real appointment is dated
before 1970 or in the 52nd century: they were typing errors the old forms let through) and run the
upgrade again. With none, VALIDATE CONSTRAINT marks it valid, so the schema equals one built at head.

Revision ID: t0009
Revises: t0008
Create Date: 2026-11-26
"""

from alembic import op
from sqlalchemy import text

revision = "t0009"
down_revision = "t0008"
branch_labels = None
depends_on = None

NAME = "ck_appointments_block_within_key_window"
WINDOW = ("1970-01-01 00:00:00+00", "5138-11-16 09:46:40+00")
CONDITION = f"block_starts_at >= '{WINDOW[0]}'::timestamptz AND block_ends_at <= '{WINDOW[1]}'::timestamptz"
SHOWN = 20  # offending rows named in the message


def upgrade() -> None:
    op.execute(f"ALTER TABLE appointments ADD CONSTRAINT {NAME} CHECK ({CONDITION}) NOT VALID")
    connection = op.get_bind()
    outside = connection.execute(
        text(
            # As text: PostgreSQL keeps years Python's datetime cannot (BC, after 9999).
            "SELECT id, block_starts_at::text AS starts, block_ends_at::text AS ends FROM appointments "
            f"WHERE NOT ({CONDITION}) ORDER BY id"
        )
    ).all()
    if outside:
        rows = "; ".join(f"appointment {row.id} ({row.starts} to {row.ends})" for row in outside[:SHOWN])
        more = f" and {len(outside) - SHOWN} more" if len(outside) > SHOWN else ""
        raise RuntimeError(
            f"{len(outside)} appointment(s) lie outside the times the double-booking key can represent "
            f"(1970-01-01 00:00:00 UTC to 5138-11-16 09:46:40 UTC, buffers included): {rows}{more}. "
            "Move or delete them, then run `portico db upgrade` again."
        )
    op.execute(f"ALTER TABLE appointments VALIDATE CONSTRAINT {NAME}")


def downgrade() -> None:
    op.execute(f"ALTER TABLE appointments DROP CONSTRAINT {NAME}")
