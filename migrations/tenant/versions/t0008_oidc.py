"""Staff single sign-on with OpenID Connect: the practice's provider, staff links to provider
accounts, and the authorization codes already used.

Revision ID: t0008
Revises: t0007
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "t0008"
down_revision = "t0007"
branch_labels = None
depends_on = None

NOW = sa.text("now()")


def upgrade() -> None:
    op.create_table(
        "sso_providers",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("display_name", sa.String(length=60), nullable=False),
        sa.Column("issuer", sa.String(length=500), nullable=False),
        sa.Column("client_id", sa.String(length=500), nullable=False),
        sa.Column("client_secret_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("required_for_staff", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("authorization_endpoint", sa.String(length=500), nullable=False),
        sa.Column("token_endpoint", sa.String(length=500), nullable=False),
        sa.Column("jwks_uri", sa.String(length=500), nullable=False),
        sa.Column("signing_algorithms", sa.String(length=200), nullable=False),
        sa.Column("token_auth_method", sa.String(length=40), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_sso_providers_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sso_providers")),
    )
    op.create_table(
        "sso_identities",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("issuer", sa.String(length=500), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_sso_identities_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sso_identities")),
        sa.UniqueConstraint("issuer", "subject", name=op.f("uq_sso_identities_issuer_subject")),
        sa.UniqueConstraint("user_id", name=op.f("uq_sso_identities_user_id")),
    )
    op.create_table(
        "sso_used_codes",
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.PrimaryKeyConstraint("code_hash", name=op.f("pk_sso_used_codes")),
    )
    op.create_index(op.f("ix_sso_used_codes_used_at"), "sso_used_codes", ["used_at"], unique=False)


def downgrade() -> None:
    op.drop_table("sso_used_codes")
    op.drop_table("sso_identities")
    op.drop_table("sso_providers")
