"""Consent and e-signature (expand only): the e-records disclosure consents, signed forms with their
canonical-JSON hash and sealed record, their event trail, and a "signed" kind of document (the PDF
of what was signed). Old code runs on this schema: it never lists "signed" documents.

Revision ID: t0017
Revises: t0016
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "t0017"
down_revision = "t0016"
branch_labels = None
depends_on = None


def _id():
    return sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False)


def _fk(table_name, name, table, ondelete, nullable=False):
    return sa.Column(
        name,
        sa.BigInteger(),
        sa.ForeignKey(f"{table}.id", ondelete=ondelete, name=op.f(f"fk_{table_name}_{name}_{table}")),
        nullable=nullable,
    )


def _when(name, nullable=False, now=True):
    default = sa.text("now()") if now else None
    return sa.Column(name, sa.DateTime(timezone=True), server_default=default, nullable=nullable)


def _where():
    return [
        sa.Column("ip", sa.String(64), nullable=True),
        sa.Column("user_agent", sa.String(500), nullable=True),
    ]


def upgrade() -> None:
    op.drop_constraint(op.f("ck_documents_kind"), "documents", type_="check")
    op.create_check_constraint(
        op.f("ck_documents_kind"), "documents", "kind IN ('upload', 'shared', 'signed')"
    )
    op.create_table(
        "erecords_consents",
        _id(),
        _fk("erecords_consents", "client_id", "clients", "CASCADE"),
        sa.Column("signer_key", sa.String(40), nullable=False),
        _fk("erecords_consents", "signer_user_id", "users", "SET NULL", nullable=True),
        sa.Column("signer_name", sa.String(200), nullable=False),
        sa.Column("disclosure_version", sa.Integer(), nullable=False),
        sa.Column("disclosure_sha256", sa.String(64), nullable=False),
        _when("accepted_at"),
        *_where(),
        _when("withdrawn_at", nullable=True, now=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erecords_consents")),
    )
    op.create_index(op.f("ix_erecords_consents_client_id"), "erecords_consents", ["client_id"])
    op.create_index(
        "uq_erecords_consents_active",
        "erecords_consents",
        ["signer_key"],
        unique=True,
        postgresql_where=sa.text("withdrawn_at IS NULL"),
    )
    op.create_table(
        "form_signatures",
        _id(),
        _fk("form_signatures", "client_id", "clients", "CASCADE"),
        _fk("form_signatures", "response_id", "form_responses", "CASCADE"),
        _fk("form_signatures", "form_id", "forms", "CASCADE"),
        _fk("form_signatures", "form_version_id", "form_versions", "CASCADE"),
        _fk("form_signatures", "erecords_consent_id", "erecords_consents", "SET NULL", nullable=True),
        _fk("form_signatures", "document_id", "documents", "SET NULL", nullable=True),
        _fk("form_signatures", "signer_user_id", "users", "SET NULL", nullable=True),
        sa.Column("signer_kind", sa.String(20), nullable=False),
        sa.Column("signer_name", sa.String(200), nullable=False),
        sa.Column("signer_relationship", sa.String(40), nullable=True),
        sa.Column("auth_method", sa.String(200), nullable=False),
        _when("signed_at", now=False),
        *_where(),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("record_sealed", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_form_signatures")),
        sa.UniqueConstraint("response_id", name=op.f("uq_form_signatures_response_id")),
    )
    op.create_index(op.f("ix_form_signatures_client_id"), "form_signatures", ["client_id"])
    op.create_table(
        "signature_events",
        _id(),
        _fk("signature_events", "client_id", "clients", "CASCADE"),
        _fk("signature_events", "form_id", "forms", "CASCADE", nullable=True),
        _fk("signature_events", "signature_id", "form_signatures", "CASCADE", nullable=True),
        sa.Column("signer_key", sa.String(40), nullable=False),
        sa.Column("event", sa.String(30), nullable=False),
        sa.Column("actor_kind", sa.String(20), nullable=False),
        sa.Column("actor_name", sa.String(200), nullable=False),
        _when("at"),
        *_where(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signature_events")),
    )
    op.create_index(op.f("ix_signature_events_client_id"), "signature_events", ["client_id"])


def downgrade() -> None:
    for table in ("signature_events", "form_signatures", "erecords_consents"):
        op.drop_table(table)
    op.drop_constraint(op.f("ck_documents_kind"), "documents", type_="check")
    op.create_check_constraint(op.f("ck_documents_kind"), "documents", "kind IN ('upload', 'shared')")
