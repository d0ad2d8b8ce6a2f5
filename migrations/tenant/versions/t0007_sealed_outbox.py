"""Practice keys for encryption at rest; outbox bodies sealed until sent, with tries on record.

Sent emails lose their plain body and attachment here. Unsent ones keep their plain text until their
next try seals it (the migration runs without the master key); `body_text` and `attachment_text`
are dropped in a later release, once no running code writes them.

Revision ID: t0007
Revises: t0006
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "t0007"
down_revision = "t0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "practice_keys",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("version", name="pk_practice_keys"),
    )
    op.add_column("outbox_emails", sa.Column("message_id", sa.String(length=250), nullable=True))
    op.add_column("outbox_emails", sa.Column("body_sealed", sa.LargeBinary(), nullable=True))
    op.add_column("outbox_emails", sa.Column("attachment_sealed", sa.LargeBinary(), nullable=True))
    op.add_column("outbox_emails", sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("outbox_emails", sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True))
    op.alter_column("outbox_emails", "body_text", existing_type=sa.Text(), nullable=True)
    op.execute("UPDATE outbox_emails SET body_text = NULL, attachment_text = NULL WHERE sent_at IS NOT NULL")


def downgrade() -> None:
    # Sealed bodies cannot be turned back into plain text without the master key: an unsent email
    # queued after this revision keeps an empty body.
    op.execute("UPDATE outbox_emails SET body_text = '' WHERE body_text IS NULL")
    op.alter_column("outbox_emails", "body_text", existing_type=sa.Text(), nullable=False)
    for column in ("failed_at", "last_attempt_at", "attachment_sealed", "body_sealed", "message_id"):
        op.drop_column("outbox_emails", column)
    op.drop_table("practice_keys")
