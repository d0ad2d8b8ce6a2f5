"""Forms and their answers: FHIR Questionnaire versions, QuestionnaireResponses, what a client has
been given to do, the practice's onboarding set, assessment schedules, and safety flags.

A form version is immutable and a completed response is locked: the database refuses both changes
(triggers below), so no code path can rewrite what a client was shown or what they answered.
Answers are sealed (tenants/encryption); the score and severity band of an assessment stay plain so
the record can chart them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    DDL,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    event,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tenants.database import TenantModel
from tenants.encryption import register_sealed_column

RESPONSE_STATUSES = ("in-progress", "completed")
CADENCES = ("every", "every_other")


class Form(TenantModel):
    __tablename__ = "forms"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    # "phq-9" / "gad-7" for the built-in instruments (scored); None for the practice's own forms.
    instrument: Mapped[str | None] = mapped_column(String(20), unique=True)
    archived: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    @property
    def builtin(self) -> bool:
        return self.instrument is not None


class FormVersion(TenantModel):
    """One immutable version of a form: the Questionnaire exactly as it was validated."""

    __tablename__ = "form_versions"
    __table_args__ = (UniqueConstraint("form_id", "version"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("tenant.forms.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    questionnaire: Mapped[dict] = mapped_column(JSONB)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("tenant.users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    form: Mapped[Form] = relationship()


class FormResponse(TenantModel):
    """A client's answers to one form version (a sealed QuestionnaireResponse) and who gave them."""

    __tablename__ = "form_responses"
    __table_args__ = (
        CheckConstraint("status IN ('in-progress', 'completed')", name="status"),
        # One draft per client and form: autosave always finds the same row.
        Index(
            "uq_form_responses_one_draft",
            "client_id",
            "form_id",
            unique=True,
            postgresql_where=text("status = 'in-progress'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("tenant.clients.id", ondelete="CASCADE"), index=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("tenant.forms.id", ondelete="CASCADE"))
    form_version_id: Mapped[int] = mapped_column(ForeignKey("tenant.form_versions.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20), default="in-progress", server_default="in-progress")
    response_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    answered_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("tenant.users.id", ondelete="SET NULL")
    )
    answered_by_kind: Mapped[str] = mapped_column(String(20))  # client, guardian, profile_link
    answered_by_name: Mapped[str] = mapped_column(String(200), default="", server_default="")
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    score: Mapped[int | None] = mapped_column(Integer)
    severity: Mapped[str | None] = mapped_column(String(40))

    form: Mapped[Form] = relationship()
    version: Mapped[FormVersion] = relationship()


class FormAssignment(TenantModel):
    """A form staff shared with a client ("Share form"): a to-do until a response is completed."""

    __tablename__ = "form_assignments"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("tenant.clients.id", ondelete="CASCADE"), index=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("tenant.forms.id", ondelete="CASCADE"))
    assigned_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("tenant.users.id", ondelete="SET NULL")
    )
    assigned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    form: Mapped[Form] = relationship()


class OnboardingStep(TenantModel):
    """The practice's onboarding set: which forms every client with portal access is asked for."""

    __tablename__ = "onboarding_steps"

    form_id: Mapped[int] = mapped_column(ForeignKey("tenant.forms.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)

    form: Mapped[Form] = relationship()


class AssessmentSchedule(TenantModel):
    """An assessment due before every (or every other) appointment of one client."""

    __tablename__ = "assessment_schedules"
    __table_args__ = (CheckConstraint("cadence IN ('every', 'every_other')", name="cadence"),)

    client_id: Mapped[int] = mapped_column(
        ForeignKey("tenant.clients.id", ondelete="CASCADE"), primary_key=True
    )
    form_id: Mapped[int] = mapped_column(ForeignKey("tenant.forms.id", ondelete="CASCADE"), primary_key=True)
    cadence: Mapped[str] = mapped_column(String(20))
    set_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("tenant.users.id", ondelete="SET NULL"))
    set_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    form: Mapped[Form] = relationship()


class FormFlag(TenantModel):
    """A response that needs a clinician (PHQ-9 item 9 above 0): open until acknowledged."""

    __tablename__ = "form_flags"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("tenant.clients.id", ondelete="CASCADE"), index=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("tenant.form_responses.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(200))
    raised_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    acknowledged_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("tenant.users.id", ondelete="SET NULL")
    )
    acknowledged_by_name: Mapped[str | None] = mapped_column(String(200))
    note_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)

    response: Mapped[FormResponse] = relationship()


register_sealed_column(FormResponse.__tablename__, "response_sealed")
register_sealed_column(FormFlag.__tablename__, "note_sealed")

# The database keeps versions immutable and completed responses locked (see the module docstring).
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
event.listen(FormVersion.__table__, "after_create", DDL(LOCK_FUNCTION))
event.listen(FormVersion.__table__, "after_create", DDL(VERSION_TRIGGER))
event.listen(FormResponse.__table__, "after_create", DDL(RESPONSE_TRIGGER))


# ------------------------------------------------------------------ consent and e-signature (ESIGN/UETA)

SIGNATURE_EVENTS = (
    "disclosure_opened", "disclosure_accepted", "disclosure_withdrawn", "viewed", "signed", "declined",
)  # fmt: skip


class ERecordsConsent(TenantModel):
    """A signer's consent to electronic records and signatures (the ESIGN disclosure), given once,
    after opening the disclosure PDF; withdrawn by setting `withdrawn_at` (a new consent is a new row).

    `signer_key` names the person: "client:<id>" for the client themselves (own login or profile
    link), "user:<id>" for a guardian's login (one consent for all the minors they act for)."""

    __tablename__ = "erecords_consents"
    __table_args__ = (
        Index(
            "uq_erecords_consents_active",
            "signer_key",
            unique=True,
            postgresql_where=text("withdrawn_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("tenant.clients.id", ondelete="CASCADE"), index=True)
    signer_key: Mapped[str] = mapped_column(String(40))
    signer_user_id: Mapped[int | None] = mapped_column(ForeignKey("tenant.users.id", ondelete="SET NULL"))
    signer_name: Mapped[str] = mapped_column(String(200))
    disclosure_version: Mapped[int] = mapped_column(Integer)
    disclosure_sha256: Mapped[str] = mapped_column(String(64))
    accepted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(500))
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class FormSignature(TenantModel):
    """A signed consent: who signed, how they were authenticated, when and from where, and the
    SHA-256 of the RFC 8785 canonical JSON of exactly what was signed (kept sealed in `record_sealed`,
    so the hash can be checked again and the PDF never comes from a template that changed since)."""

    __tablename__ = "form_signatures"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("tenant.clients.id", ondelete="CASCADE"), index=True)
    response_id: Mapped[int] = mapped_column(
        ForeignKey("tenant.form_responses.id", ondelete="CASCADE"), unique=True
    )
    form_id: Mapped[int] = mapped_column(ForeignKey("tenant.forms.id", ondelete="CASCADE"))
    form_version_id: Mapped[int] = mapped_column(ForeignKey("tenant.form_versions.id", ondelete="CASCADE"))
    erecords_consent_id: Mapped[int | None] = mapped_column(
        ForeignKey("tenant.erecords_consents.id", ondelete="SET NULL")
    )
    document_id: Mapped[int | None] = mapped_column(ForeignKey("tenant.documents.id", ondelete="SET NULL"))
    signer_user_id: Mapped[int | None] = mapped_column(ForeignKey("tenant.users.id", ondelete="SET NULL"))
    signer_kind: Mapped[str] = mapped_column(String(20))
    signer_name: Mapped[str] = mapped_column(String(200))
    signer_relationship: Mapped[str | None] = mapped_column(String(40))
    auth_method: Mapped[str] = mapped_column(String(200))
    signed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(500))
    sha256: Mapped[str] = mapped_column(String(64))
    record_sealed: Mapped[bytes] = mapped_column(LargeBinary)

    form: Mapped[Form] = relationship()


class SignatureEvent(TenantModel):
    """The trail of a signature: the disclosure opened/accepted/withdrawn, a consent viewed, signed
    or declined; who, when (UTC), from which address and browser."""

    __tablename__ = "signature_events"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("tenant.clients.id", ondelete="CASCADE"), index=True)
    form_id: Mapped[int | None] = mapped_column(ForeignKey("tenant.forms.id", ondelete="CASCADE"))
    signature_id: Mapped[int | None] = mapped_column(
        ForeignKey("tenant.form_signatures.id", ondelete="CASCADE")
    )
    signer_key: Mapped[str] = mapped_column(String(40))
    event: Mapped[str] = mapped_column(String(30))
    actor_kind: Mapped[str] = mapped_column(String(20))
    actor_name: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(500))


register_sealed_column(FormSignature.__tablename__, "record_sealed")
