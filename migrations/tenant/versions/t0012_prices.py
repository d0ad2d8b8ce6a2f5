"""Prices in the practice's currency, and "no price" (expand step of expand-then-contract).

`services.price_cents` was NOT NULL with 0 standing for "no price". This step adds a nullable
`price_minor` (the amount in the currency's smallest unit, NULL for no price), filled from every
non-zero `price_cents`, and the practice's `currency` (ISO 4217, USD by default). `price_cents` stays
for one release, kept in step by the code (NULL -> 0), so that code of the previous release still
reads the prices during a rollout; a later contract step drops it.

Revision ID: t0012
Revises: t0011
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "t0012"
down_revision = "t0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("services", sa.Column("price_minor", sa.Integer(), nullable=True))
    op.execute("UPDATE services SET price_minor = price_cents WHERE price_cents <> 0")
    op.add_column(
        "practice_settings",
        sa.Column("currency", sa.String(length=3), server_default="USD", nullable=False),
    )


def downgrade() -> None:
    op.execute("UPDATE services SET price_cents = coalesce(price_minor, 0)")
    op.drop_column("practice_settings", "currency")
    op.drop_column("services", "price_minor")
