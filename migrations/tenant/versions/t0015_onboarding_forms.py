"""Onboarding forms (expand only): FHIR Questionnaire versions, QuestionnaireResponses, shared forms,
the onboarding set, assessment schedules, safety flags; the "Online forms" toggle and the practice's
crisis resources text.

Temporarily revises t0012 (t0013/t0014 are not on this branch's base); the coordinator re-chains it.

Revision ID: t0015
Revises: t0014
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "t0015"
down_revision = "t0014"
branch_labels = None
depends_on = None

# Migrations keep their own copy of the SQL they ran (blueprints.onboarding.models builds the same).
LOCK_FUNCTION = """
CREATE FUNCTION onboarding_locked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_TABLE_NAME = 'form_versions' THEN
    RAISE EXCEPTION 'a form version cannot be changed' USING ERRCODE = 'check_violation';
  END IF;
  IF OLD.status = 'completed' THEN
    RAISE EXCEPTION 'a completed response cannot be changed' USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$
"""
VERSION_TRIGGER = (
    "CREATE TRIGGER form_versions_immutable BEFORE UPDATE ON form_versions "
    "FOR EACH ROW EXECUTE FUNCTION onboarding_locked()"
)
RESPONSE_TRIGGER = (
    "CREATE TRIGGER form_responses_locked BEFORE UPDATE ON form_responses "
    "FOR EACH ROW EXECUTE FUNCTION onboarding_locked()"
)


def _id():
    return sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False)


def _fk(table_name, name, table, ondelete, nullable=False):
    return sa.Column(
        name,
        sa.BigInteger(),
        sa.ForeignKey(f"{table}.id", ondelete=ondelete, name=op.f(f"fk_{table_name}_{name}_{table}")),
        nullable=nullable,
    )


def _now(name, nullable=False):
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=nullable)


def upgrade() -> None:
    op.add_column(
        "practice_settings", sa.Column("forms_enabled", sa.Boolean(), server_default="true", nullable=False)
    )
    op.add_column("practice_settings", sa.Column("crisis_resources", sa.Text(), nullable=True))
    op.create_table(
        "forms",
        _id(),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("instrument", sa.String(length=20), nullable=True),
        sa.Column("archived", sa.Boolean(), server_default="false", nullable=False),
        _now("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_forms")),
        sa.UniqueConstraint("instrument", name=op.f("uq_forms_instrument")),
    )
    op.create_table(
        "form_versions",
        _id(),
        _fk("form_versions", "form_id", "forms", "CASCADE"),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("questionnaire", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        _fk("form_versions", "created_by_user_id", "users", "SET NULL", nullable=True),
        _now("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_form_versions")),
        sa.UniqueConstraint("form_id", "version", name=op.f("uq_form_versions_form_id_version")),
    )
    op.create_table(
        "form_responses",
        _id(),
        _fk("form_responses", "client_id", "clients", "CASCADE"),
        _fk("form_responses", "form_id", "forms", "CASCADE"),
        _fk("form_responses", "form_version_id", "form_versions", "CASCADE"),
        sa.Column("status", sa.String(length=20), server_default="in-progress", nullable=False),
        sa.Column("response_sealed", sa.LargeBinary(), nullable=True),
        _fk("form_responses", "answered_by_user_id", "users", "SET NULL", nullable=True),
        sa.Column("answered_by_kind", sa.String(length=20), nullable=False),
        sa.Column("answered_by_name", sa.String(length=200), server_default="", nullable=False),
        _now("started_at"),
        _now("updated_at"),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("severity", sa.String(length=40), nullable=True),
        sa.CheckConstraint("status IN ('in-progress', 'completed')", name=op.f("ck_form_responses_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_form_responses")),
    )
    op.create_index(op.f("ix_form_responses_client_id"), "form_responses", ["client_id"])
    op.create_index(
        "uq_form_responses_one_draft",
        "form_responses",
        ["client_id", "form_id"],
        unique=True,
        postgresql_where=sa.text("status = 'in-progress'"),
    )
    op.create_table(
        "form_assignments",
        _id(),
        _fk("form_assignments", "client_id", "clients", "CASCADE"),
        _fk("form_assignments", "form_id", "forms", "CASCADE"),
        _fk("form_assignments", "assigned_by_user_id", "users", "SET NULL", nullable=True),
        _now("assigned_at"),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_form_assignments")),
    )
    op.create_index(op.f("ix_form_assignments_client_id"), "form_assignments", ["client_id"])
    op.create_table(
        "onboarding_steps",
        _fk("onboarding_steps", "form_id", "forms", "CASCADE"),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("form_id", name=op.f("pk_onboarding_steps")),
    )
    op.create_table(
        "assessment_schedules",
        _fk("assessment_schedules", "client_id", "clients", "CASCADE"),
        _fk("assessment_schedules", "form_id", "forms", "CASCADE"),
        sa.Column("cadence", sa.String(length=20), nullable=False),
        _fk("assessment_schedules", "set_by_user_id", "users", "SET NULL", nullable=True),
        _now("set_at"),
        sa.CheckConstraint(
            "cadence IN ('every', 'every_other')", name=op.f("ck_assessment_schedules_cadence")
        ),
        sa.PrimaryKeyConstraint("client_id", "form_id", name=op.f("pk_assessment_schedules")),
    )
    op.create_table(
        "form_flags",
        _id(),
        _fk("form_flags", "client_id", "clients", "CASCADE"),
        _fk("form_flags", "response_id", "form_responses", "CASCADE"),
        sa.Column("reason", sa.String(length=200), nullable=False),
        _now("raised_at"),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        _fk("form_flags", "acknowledged_by_user_id", "users", "SET NULL", nullable=True),
        sa.Column("acknowledged_by_name", sa.String(length=200), nullable=True),
        sa.Column("note_sealed", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_form_flags")),
    )
    op.create_index(op.f("ix_form_flags_client_id"), "form_flags", ["client_id"])
    op.execute(LOCK_FUNCTION)
    op.execute(VERSION_TRIGGER)
    op.execute(RESPONSE_TRIGGER)


def downgrade() -> None:
    for table in (
        "form_flags",
        "assessment_schedules",
        "onboarding_steps",
        "form_assignments",
        "form_responses",
        "form_versions",
        "forms",
    ):
        op.drop_table(table)
    op.execute("DROP FUNCTION onboarding_locked()")
    op.drop_column("practice_settings", "crisis_resources")
    op.drop_column("practice_settings", "forms_enabled")
