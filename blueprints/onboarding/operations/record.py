"""What staff do with forms from a client's record and the practice's settings: share a form, set
an assessment schedule, acknowledge a flag, choose the onboarding set and the crisis resources.

The PHQ-9 asks about self-harm, so it is never sent (shared, scheduled, put in onboarding) before
the practice has written the crisis resources a client sees at once when item 9 is above zero.
Reading answers and acknowledging flags is for the clinical staff who see the client.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, select

from app.refusals import Conflict, NotAllowed, NotFound, Problems
from app.roles import MANAGES_PRACTICE, OFFERS_SERVICES
from blueprints.audit.service import record
from blueprints.auth.models import User
from blueprints.onboarding.client_messages import forms_to_complete
from blueprints.onboarding.models import (
    CADENCES,
    AssessmentSchedule,
    Form,
    FormAssignment,
    FormFlag,
    FormResponse,
    OnboardingStep,
)
from blueprints.onboarding.operations.instruments import PHQ9
from blueprints.people.models import Client
from blueprints.people.operations.access import visible_clients
from tenants.database import db
from tenants.encryption import seal_text, unseal_text
from tenants.features import practice_settings

READS_RESPONSES = OFFERS_SERVICES  # the clinical staff (a scheduler sees what is done, not answers)
SENDS_FORMS = ("owner", "admin", "scheduler", "clinician", "intern")
CADENCE_LABELS = {"every": "before every appointment", "every_other": "before every other appointment"}
MAX_CRISIS_TEXT = 2000
MAX_NOTE = 2000
# Shown only if the practice's own text is somehow missing when it is needed (it is required
# before the PHQ-9 can be sent, and cannot be cleared while the PHQ-9 is in use).
CRISIS_FALLBACK = "If you are in danger or may hurt yourself, call your local emergency number now."
US_CRISIS_DEFAULT = (
    "If you are in crisis or thinking about hurting yourself, call or text 988 (the 988 Suicide & "
    "Crisis Lifeline, any time, day or night). If you are in immediate danger, call 911 or go to the "
    "nearest emergency room."
)


def _form(form_id: int) -> Form:
    form = db.session.get(Form, form_id)
    if form is None or form.archived:
        raise NotFound("There is no such form.")
    return form


def check_may_send(form: Form) -> None:
    if form.instrument == PHQ9.key and not (practice_settings().crisis_resources or "").strip():
        raise Conflict(
            "Write the practice's crisis resources (Settings, Forms) before sending the PHQ-9: a client "
            "who reports thoughts of self-harm sees them at once."
        )


def share_form(actor: User, client: Client, form_id: int) -> FormAssignment:
    if actor.role not in SENDS_FORMS:
        raise NotAllowed()
    form = _form(form_id)
    check_may_send(form)
    open_already = db.session.scalars(
        select(FormAssignment).where(
            FormAssignment.client_id == client.id,
            FormAssignment.form_id == form.id,
            FormAssignment.completed_at.is_(None),
        )
    ).first()
    if open_already:
        raise Conflict(f"{form.title} is already waiting for {client.display_name}.")
    assignment = FormAssignment(client_id=client.id, form_id=form.id, assigned_by_user_id=actor.id)
    db.session.add(assignment)
    db.session.flush()
    record("form shared", client_id=client.id, detail=f"form {form.id}: {form.title}", **actor.audit_actor)
    forms_to_complete(client.id)
    return assignment


def set_schedule(actor: User, client: Client, form_id: int, cadence: str) -> None:
    """An assessment due before every (or every other) appointment; cadence "" stops it."""
    if actor.role not in READS_RESPONSES:
        raise NotAllowed("Only clinical staff can schedule assessments.")
    form = _form(form_id)
    if form.instrument is None:
        raise Problems({"form_id": "Choose an assessment (PHQ-9 or GAD-7)."})
    existing = db.session.get(AssessmentSchedule, (client.id, form.id))
    if not cadence:
        if existing is not None:
            db.session.delete(existing)
            record("assessment schedule ended", client_id=client.id, detail=form.title, **actor.audit_actor)
        return
    if cadence not in CADENCES:
        raise Problems({"cadence": "Choose how often the assessment is due."})
    check_may_send(form)
    if existing is None:
        existing = AssessmentSchedule(client_id=client.id, form_id=form.id)
        db.session.add(existing)
    existing.cadence, existing.set_by_user_id, existing.set_at = cadence, actor.id, datetime.now(UTC)
    record(
        "assessment scheduled",
        client_id=client.id,
        detail=f"{form.title} {CADENCE_LABELS[cadence]}",
        **actor.audit_actor,
    )


def schedules_for(client_id: int) -> list[AssessmentSchedule]:
    return list(
        db.session.scalars(select(AssessmentSchedule).where(AssessmentSchedule.client_id == client_id))
    )


def check_may_read(actor: User) -> None:
    if actor.role not in READS_RESPONSES:
        raise NotAllowed("Only clinical staff can read a client's answers.")


def response_for(client: Client, response_id: int) -> FormResponse:
    """Response `response_id` of this client (any other id, another client's, is not found)."""
    response = db.session.get(FormResponse, response_id)
    if response is None or response.client_id != client.id:
        raise NotFound()
    return response


def open_flags(client_id: int) -> list[FormFlag]:
    return list(
        db.session.scalars(
            select(FormFlag)
            .where(FormFlag.client_id == client_id, FormFlag.acknowledged_at.is_(None))
            .order_by(FormFlag.raised_at)
        )
    )


def flags_needing(staff: User) -> list[tuple[FormFlag, Client]]:
    """Open flags on the clients `staff` sees (clinical staff only): their list of what needs them."""
    if staff.role not in READS_RESPONSES:
        return []
    clients = visible_clients(staff).subquery()
    return list(
        db.session.execute(
            select(FormFlag, Client)
            .join(clients, clients.c.id == FormFlag.client_id)
            .join(Client, Client.id == FormFlag.client_id)
            .where(FormFlag.acknowledged_at.is_(None))
            .order_by(FormFlag.raised_at)
        ).all()
    )


def all_flags(client_id: int) -> list[FormFlag]:
    return list(
        db.session.scalars(
            select(FormFlag).where(FormFlag.client_id == client_id).order_by(FormFlag.raised_at.desc())
        )
    )


def flag_note(flag: FormFlag) -> str | None:
    if flag.note_sealed is None:
        return None
    return unseal_text(flag.note_sealed, table="form_flags", row_id=flag.id, column="note_sealed")


def acknowledge_flag(actor: User, client: Client, flag_id: int, note: str) -> FormFlag:
    """A clinician has seen the flag and says what they did (the note is kept sealed)."""
    if actor.role not in READS_RESPONSES:
        raise NotAllowed("Only clinical staff can acknowledge a flag.")
    flag = db.session.get(FormFlag, flag_id)
    if flag is None or flag.client_id != client.id:
        raise NotFound()
    if flag.acknowledged_at is not None:
        raise Conflict(f"{flag.acknowledged_by_name} already acknowledged this flag.")
    note = (note or "").strip()
    if not note:
        raise Problems({"note": "Say what was done (for example: called the client, safety plan reviewed)."})
    if len(note) > MAX_NOTE:
        raise Problems({"note": f"Use at most {MAX_NOTE} characters."})
    flag.acknowledged_at = datetime.now(UTC)
    flag.acknowledged_by_user_id, flag.acknowledged_by_name = actor.id, actor.name
    flag.note_sealed = seal_text(note, table="form_flags", row_id=flag.id, column="note_sealed")
    record("form flag acknowledged", client_id=client.id, detail=f"flag {flag.id}", **actor.audit_actor)
    return flag


# ------------------------------------------------------------------ practice settings


def check_manages(actor: User) -> None:
    if actor.role not in MANAGES_PRACTICE:
        raise NotAllowed("Only the owner or an admin can change the practice's forms settings.")


def set_onboarding_set(actor: User, form_ids: list[int]) -> None:
    """The onboarding set becomes exactly `form_ids`, in that order."""
    check_manages(actor)
    if len(set(form_ids)) != len(form_ids):
        raise Problems({"forms": "Each form can be in the onboarding set once."})
    forms = [_form(form_id) for form_id in form_ids]
    crisis_set = bool((practice_settings().crisis_resources or "").strip())
    if any(form.instrument == PHQ9.key for form in forms) and not crisis_set:
        raise Problems({"forms": "Write the crisis resources before adding the PHQ-9 to onboarding."})
    db.session.execute(delete(OnboardingStep))
    for position, form in enumerate(forms):
        db.session.add(OnboardingStep(form_id=form.id, position=position))
    titles = ", ".join(form.title for form in forms) or "none"
    record("onboarding set changed", detail=f"forms: {titles}", **actor.audit_actor)


def set_crisis_resources(actor: User, text: str) -> None:
    check_manages(actor)
    text = (text or "").strip()
    if len(text) > MAX_CRISIS_TEXT:
        raise Problems({"crisis_resources": f"Use at most {MAX_CRISIS_TEXT} characters."})
    if not text and phq9_in_use():
        raise Problems({"crisis_resources": "The PHQ-9 is in use: crisis resources must stay written."})
    settings = practice_settings()
    if (settings.crisis_resources or "") != text:
        settings.crisis_resources = text or None
        record("settings changed", detail="changed: crisis_resources", **actor.audit_actor)


def phq9_in_use() -> bool:
    """Whether any client may be asked for the PHQ-9 (so crisis resources must stay written)."""
    phq9 = select(Form.id).where(Form.instrument == PHQ9.key).scalar_subquery()
    waiting = [
        select(OnboardingStep.form_id).where(OnboardingStep.form_id == phq9),
        select(FormAssignment.id).where(
            FormAssignment.form_id == phq9, FormAssignment.completed_at.is_(None)
        ),
        select(AssessmentSchedule.form_id).where(AssessmentSchedule.form_id == phq9),
    ]
    return any(db.session.scalars(query.limit(1)).first() is not None for query in waiting)


def suggested_crisis_text() -> str | None:
    """988 for a practice in the United States (its time zone and currency say so), else nothing."""
    settings = practice_settings()
    us_zone = settings.time_zone.startswith(("America/", "US/", "Pacific/Honolulu"))
    return US_CRISIS_DEFAULT if settings.currency == "USD" and us_zone else None
