"""Group appointments: only a group's primary row holds the clinician's time.

Revision ID: t0005
Revises: t0004
Create Date: 2026-11-21
"""

from alembic import op

revision = "t0005"
down_revision = "t0004"
branch_labels = None
depends_on = None

# Migrations keep their own copy of the SQL they ran (blueprints.scheduling.models builds the same).
BLOCK_KEY_FUNCTION = """
CREATE OR REPLACE FUNCTION appointments_block_key() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.group_id IS NOT NULL AND NOT NEW.is_group_primary THEN
    NEW.block_key := NULL;  -- a group holds its time once, on its primary row
  ELSE
    NEW.block_key := int8range(
      NEW.clinician_user_id * 100000000000 + floor(extract(epoch FROM NEW.block_starts_at))::bigint,
      NEW.clinician_user_id * 100000000000 + ceil(extract(epoch FROM NEW.block_ends_at))::bigint);
  END IF;
  RETURN NEW;
END $$"""

PREVIOUS_FUNCTION = """
CREATE OR REPLACE FUNCTION appointments_block_key() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.block_key := int8range(
    NEW.clinician_user_id * 100000000000 + floor(extract(epoch FROM NEW.block_starts_at))::bigint,
    NEW.clinician_user_id * 100000000000 + ceil(extract(epoch FROM NEW.block_ends_at))::bigint);
  RETURN NEW;
END $$"""


def upgrade() -> None:
    op.execute(BLOCK_KEY_FUNCTION)


def downgrade() -> None:
    op.execute(PREVIOUS_FUNCTION)
