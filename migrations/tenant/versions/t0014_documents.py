"""Documents: client uploads and shared documents, the practice's document library, the staff
notification list, the practice's upload limits and "Shared documents" toggle, and a guardian grant's
sight of a minor's own uploads. Only new tables and new columns with defaults (expand): the code of
the previous release runs on this schema unchanged.

Revision ID: t0014
Revises: t0013
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "t0014"
down_revision = "t0013"
branch_labels = None
depends_on = None

NOW = sa.text("now()")


def _scan_status_check(table: str):
    return sa.CheckConstraint(
        "scan_status IN ('pending', 'clean', 'infected', 'not_scanned')", name=op.f(f"ck_{table}_scan_status")
    )


def upgrade() -> None:
    op.add_column(
        "practice_settings",
        sa.Column("shared_documents_enabled", sa.Boolean(), server_default="true", nullable=False),
    )
    op.add_column(
        "practice_settings", sa.Column("max_upload_mb", sa.Integer(), server_default="25", nullable=False)
    )
    op.add_column(
        "practice_settings",
        sa.Column("client_storage_mb", sa.Integer(), server_default="200", nullable=False),
    )
    op.add_column(
        "portal_access",
        sa.Column("can_see_minor_uploads", sa.Boolean(), server_default="false", nullable=False),
    )
    op.create_table(
        "document_library",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("storage_key", sa.String(length=500), nullable=True),
        sa.Column("scan_status", sa.String(length=20), nullable=False),
        sa.Column("uploaded_by_user_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
        _scan_status_check("document_library"),
        sa.ForeignKeyConstraint(
            ["uploaded_by_user_id"],
            ["users.id"],
            name=op.f("fk_document_library_uploaded_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document_library")),
    )
    op.create_table(
        "documents",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("client_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("uploader_user_id", sa.BigInteger(), nullable=True),
        sa.Column("uploader_relationship", sa.String(length=10), nullable=False),
        sa.Column("library_item_id", sa.BigInteger(), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("storage_key", sa.String(length=500), nullable=True),
        sa.Column("scan_status", sa.String(length=20), nullable=False),
        sa.Column("note_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("reviewed_by_user_id", sa.BigInteger(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.CheckConstraint("kind IN ('upload', 'shared')", name=op.f("ck_documents_kind")),
        sa.CheckConstraint(
            "uploader_relationship IN ('client', 'guardian', 'staff')",
            name=op.f("ck_documents_uploader_relationship"),
        ),
        _scan_status_check("documents"),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_documents_client_id_clients"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["library_item_id"],
            ["document_library.id"],
            name=op.f("fk_documents_library_item_id_document_library"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by_user_id"],
            ["users.id"],
            name=op.f("fk_documents_reviewed_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["uploader_user_id"],
            ["users.id"],
            name=op.f("fk_documents_uploader_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_documents")),
        sa.UniqueConstraint(
            "client_id", "library_item_id", name=op.f("uq_documents_client_id_library_item_id")
        ),
    )
    op.create_index(op.f("ix_documents_client_id"), "documents", ["client_id"], unique=False)
    op.create_table(
        "staff_notifications",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("client_id", sa.BigInteger(), nullable=True),
        sa.Column("link_endpoint", sa.String(length=100), nullable=False),
        sa.Column("link_args", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_staff_notifications_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_staff_notifications_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_notifications")),
    )
    op.create_index(
        op.f("ix_staff_notifications_user_id_read_at"),
        "staff_notifications",
        ["user_id", "read_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("staff_notifications")
    op.drop_table("documents")
    op.drop_table("document_library")
    op.drop_column("portal_access", "can_see_minor_uploads")
    op.drop_column("practice_settings", "client_storage_mb")
    op.drop_column("practice_settings", "max_upload_mb")
    op.drop_column("practice_settings", "shared_documents_enabled")
