"""Message bodies sealed at rest: messages.body_sealed (expand step).

New code writes only `body_sealed` (sealed with the practice's key, bound to the message's row) and
leaves `body` empty; it reads `body_sealed`, and `body` for a row not sealed yet. The bodies already
kept in plain text cannot be sealed here, because migrations run without PORTICO_MASTER_KEY: right
after this migration, `portico db upgrade` runs the registered sealing steps in each practice, with
its key (`tenants.encryption.register_sealing_step`; messaging registers `seal_plain_bodies`), and
records the practice's new revision only once they succeeded, so a practice whose sealing failed is
tried again by the next upgrade. `body` stays NOT NULL (sealed rows keep '') so that code of the
previous release still runs during a rollout; a later contract step drops it, and must refuse to run
while `SELECT 1 FROM messages WHERE body <> ''` finds a row.

Revision ID: t0013
Revises: t0012
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "t0013"
down_revision = "t0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("messages", sa.Column("body_sealed", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    # A sealed body cannot be turned back into plain text without the master key, and dropping the
    # column would lose every message written since: refuse instead of losing clinical messages.
    sealed = op.get_bind().execute(sa.text("SELECT count(*) FROM messages WHERE body_sealed IS NOT NULL"))
    count = sealed.scalar()
    if count:
        raise RuntimeError(
            f"{count} message bodies are sealed and would be lost: downgrading below t0013 is refused."
        )
    op.drop_column("messages", "body_sealed")
