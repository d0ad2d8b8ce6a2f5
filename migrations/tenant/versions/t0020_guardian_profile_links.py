"""A profile link can be a guardian's: `profile_links.portal_access_id` names the guardian's grant it
was issued for (NULL: the client's own link, as before). A guardian's link opens the guardian's own
portal session acting for the minor, within that grant, never the minor's.

`message_settings.sms_kinds`: message kind -> sent as a text to clients who agreed to texts (the
reminders keep `reminder_channel`).

Revision ID: t0020
Revises: t0021
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "t0020"
down_revision = "t0021"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("profile_links", sa.Column("portal_access_id", sa.BigInteger(), nullable=True))
    op.create_foreign_key(
        "fk_profile_links_portal_access_id_portal_access",
        "profile_links",
        "portal_access",
        ["portal_access_id"],
        ["id"],
        ondelete="CASCADE",
    )
    op.create_index("ix_profile_links_portal_access_id", "profile_links", ["portal_access_id"])
    op.add_column(
        "message_settings",
        sa.Column("sms_kinds", postgresql.JSONB(), server_default="{}", nullable=False),
    )


def downgrade():
    op.drop_column("message_settings", "sms_kinds")
    op.drop_index("ix_profile_links_portal_access_id", table_name="profile_links")
    op.drop_constraint("fk_profile_links_portal_access_id_portal_access", "profile_links", type_="foreignkey")
    op.drop_column("profile_links", "portal_access_id")
