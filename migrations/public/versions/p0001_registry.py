"""Practice registry, the empty default schema, and the job queue's tables.

Revision ID: p0001
Revises:
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op
from procrastinate.schema import SchemaManager

revision = "p0001"
down_revision = None
branch_labels = ("public",)
depends_on = None


def _run_sql(sql: str) -> None:
    """Plain SQL straight to the driver: no parameter parsing (the SQL contains % signs)."""
    op.get_bind().connection.driver_connection.execute(sql)


def upgrade() -> None:
    # Unqualified SQL by the application role finds nothing: every table is named with its schema.
    _run_sql("CREATE SCHEMA IF NOT EXISTS portico_empty")
    _run_sql("REVOKE ALL ON SCHEMA portico_empty FROM PUBLIC")
    _run_sql(
        "DO $$ BEGIN EXECUTE format('ALTER ROLE %I IN DATABASE %I SET search_path = portico_empty', "
        "current_user, current_database()); END $$"
    )
    op.create_table(
        "practices",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("slug", sa.String(40), nullable=False),
        sa.Column("status", sa.String(20), server_default="active", nullable=False),
        sa.Column("schema_revision", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_practices"),
        schema="public",
    )
    op.create_index("uq_practices_slug", "practices", [sa.text("lower(slug)")], unique=True, schema="public")
    op.create_table(
        "retired_slugs",
        sa.Column("slug", sa.String(40), nullable=False),
        sa.Column("practice_id", sa.BigInteger(), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["practice_id"],
            ["public.practices.id"],
            ondelete="CASCADE",
            name="fk_retired_slugs_practice_id_practices",
        ),
        sa.PrimaryKeyConstraint("slug", name="pk_retired_slugs"),
        schema="public",
    )
    # procrastinate's own schema (pinned with the package version); its SQL has no bind parameters.
    _run_sql(SchemaManager.get_schema())


def downgrade() -> None:
    raise RuntimeError("The first public revision cannot be undone: restore a backup instead.")
