"""Existing guardian grants lose forms and documents (data only): the columns defaulted to true
since t0002 while the features did not exist, so every guardian silently gained them when they
were offered. Staff now decide per guardian; new grants keep the UI's default. A self row is
unchanged.

Downgrade changes nothing: which grants had them before cannot be known, and off is the safe side.

Revision ID: t0019
Revises: t0018
Create Date: 2026-11-26
"""

from alembic import op

revision = "t0019"
down_revision = "t0018"
branch_labels = None
depends_on = None


def upgrade():
    op.execute(
        "UPDATE portal_access SET can_forms = false, can_documents = false "
        "WHERE relationship_kind = 'guardian'"
    )


def downgrade():
    pass
