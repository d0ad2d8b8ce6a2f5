"""Staff TOTP secrets sealed at rest: users.totp_secret_sealed (expand step).

This migration only adds the column. Migrations run without PORTICO_MASTER_KEY (as for the outbox
bodies in t0007), so the secrets already kept in plain text in users.totp_secret are sealed by the
application, the first time it reads each one (`blueprints.auth.two_factor.totp_secret`: the login
code step, the security page's actions), which also empties the plain copy. Nothing writes
users.totp_secret any more; a secret in it still works until then.

The contract step, a later migration, drops users.totp_secret. Before it runs, every practice must
have no plain secret left (`two_factor.seal_plain_secrets()` in each practice, with the master key),
or the staff whose secret was still plain would lose their second factor; that migration should refuse
to run while `SELECT 1 FROM users WHERE totp_secret IS NOT NULL` finds a row.

Revision ID: t0010
Revises: t0009
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "t0010"
down_revision = "t0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("totp_secret_sealed", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    # A sealed secret cannot be turned back into plain text without the master key: staff who set up
    # two-factor after this revision have it turned off (and set it up again).
    op.execute(
        "UPDATE users SET totp_enabled_at = NULL WHERE totp_secret IS NULL AND totp_secret_sealed IS NOT NULL"
    )
    op.drop_column("users", "totp_secret_sealed")
