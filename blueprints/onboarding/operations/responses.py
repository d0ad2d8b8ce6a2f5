"""A client's answers: the draft that autosave keeps (one `in-progress` QuestionnaireResponse per
client and form), the submit that completes and locks it, its score, and the PHQ-9 item 9 flag.

Who may answer is the portal's rule (the record's own login, a guardian with "Complete forms", a
stepped-up profile link); a staff preview answers nothing. The response records who answered.
No answer, score or band ever goes into the audit log or an email.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from app.refusals import Conflict, NotAllowed, NotFound, Problems
from blueprints.audit.service import record
from blueprints.documents.operations.uploads import Incoming
from blueprints.onboarding.models import Form, FormAssignment, FormFlag, FormResponse, FormVersion
from blueprints.onboarding.operations import attachments, instruments, profile
from blueprints.onboarding.operations.fhir_response import from_response, to_response
from blueprints.onboarding.operations.items import build_items, check_answers, walk
from blueprints.onboarding.operations.library import latest_version
from blueprints.onboarding.operations.record import READS_RESPONSES
from blueprints.onboarding.operations.todos import (
    completed_for,
    onboarding_progress,
    onboarding_set,
    todos_for,
)
from blueprints.onboarding.operations.validation import needs_signature
from blueprints.people.models import Client
from blueprints.portal.viewer import Viewer
from blueprints.staff_notifications.service import notify_staff, register_kind
from tenants.database import db
from tenants.encryption import seal_text, unseal_text
from tenants.features import practice_settings

SAFETY_REASON = "PHQ-9 item 9 answered above 'Not at all'"
# Staff notifications (the list, and email by each staff member's preference). Neither says anything
# clinical: who, and a link to the client's forms.
FORM_COMPLETED = "form_completed"
ONBOARDING_DONE = "onboarding_completed"
FORM_FLAGGED = "form_flagged"
register_kind(FORM_COMPLETED, "Form completed", "A client completed a form.")
register_kind(ONBOARDING_DONE, "Onboarding completed", "A client completed their onboarding.")
# Always emailed at once, whatever the staff member chose: a client may be at risk.
register_kind(
    FORM_FLAGGED, "A client's form needs your attention", "A client's form needs your attention.", urgent=True
)


@dataclass(frozen=True)
class Submitted:
    response: FormResponse
    score: instruments.Score | None
    needs_attention: bool


def response_json(response: FormResponse) -> dict:
    if response.response_sealed is None:
        return {"resourceType": "QuestionnaireResponse", "status": response.status, "item": []}
    text = unseal_text(
        response.response_sealed, table="form_responses", row_id=response.id, column="response_sealed"
    )
    return json.loads(text)


def draft_for(client_id: int, form_id: int) -> FormResponse | None:
    return db.session.scalars(
        select(FormResponse).where(
            FormResponse.client_id == client_id,
            FormResponse.form_id == form_id,
            FormResponse.status == "in-progress",
        )
    ).first()


def find_portal_form(client_id: int, form_id: int) -> tuple[Form, bool] | None:
    """The form `form_id` as this client may open it: (form, still to do); None for a form neither
    given to the client nor answered by them, whichever practice it belongs to (callers 404)."""
    for todo in todos_for(client_id):
        if todo.form.id == form_id:
            return todo.form, True
    if any(response.form_id == form_id for response in completed_for(client_id)):
        return db.session.get(Form, form_id), False
    return None


def portal_form(client_id: int, form_id: int) -> tuple[Form, bool]:
    found = find_portal_form(client_id, form_id)
    if found is None:
        raise NotFound()
    return found


def current_version(client_id: int, form: Form) -> FormVersion:
    """The version a client answers: their draft's, else the form's latest."""
    return _version_for(draft_for(client_id, form.id), form)


def submit_problems(client_id: int, form: Form, answers: dict[str, list[str]]) -> dict[str, str]:
    """What keeps these answers from being submitted (linkId -> problem); empty when nothing does."""
    items = build_items(current_version(client_id, form).questionnaire)
    problems = check_answers(items, answers, complete=True) | attachments.foreign(client_id, items, answers)
    if not problems and form.instrument == profile.KEY:
        problems = profile.problems(answers, practice_settings())
    return problems


def _writable(viewer: Viewer, form_id: int) -> Form:
    if viewer.read_only:
        raise NotAllowed("This is a preview: answers are not saved.")
    # One writer per client at a time: two autosaves racing (two tabs) must not both create the
    # client's one draft.
    db.session.execute(select(Client.id).where(Client.id == viewer.client.id).with_for_update())
    form, to_do = portal_form(viewer.client.id, form_id)
    if not to_do:
        raise Conflict("This form was already submitted and cannot be changed.")
    return form


def _version_for(draft: FormResponse | None, form: Form) -> FormVersion:
    return draft.version if draft is not None else latest_version(form)


def _store(response: FormResponse, data: dict, viewer: Viewer) -> None:
    if response.id is None:
        db.session.add(response)
        db.session.flush()  # the sealed answers are bound to the row's id
    response.response_sealed = seal_text(
        json.dumps(data), table="form_responses", row_id=response.id, column="response_sealed"
    )
    response.answered_by_user_id = viewer.user_id
    response.answered_by_kind = viewer.kind
    response.answered_by_name = viewer.name
    response.updated_at = datetime.now(UTC)


def _new_response(viewer: Viewer, form: Form, version: FormVersion) -> FormResponse:
    record(
        "form started",
        client_id=viewer.client.id,
        detail=f"form {form.id}: {form.title}",
        **viewer.audit_actor,
    )
    return FormResponse(
        client_id=viewer.client.id, form_id=form.id, form_version_id=version.id, answered_by_kind=viewer.kind
    )


def save_draft(
    viewer: Viewer, form_id: int, answers: dict[str, list[str]], files: dict[str, Incoming] | None = None
) -> tuple[FormResponse, dict]:
    """Keep the answers so far (autosave, "Save for later"). Answers that are not valid yet (a word
    in a number field) are left out and reported back; the rest are kept. Files posted for
    attachment items become documents of the record first (`attachments.attach`)."""
    form = _writable(viewer, form_id)
    draft = draft_for(viewer.client.id, form.id)
    version = _version_for(draft, form)
    items = build_items(version.questionnaire)
    problems = {}
    if files:
        answers, problems = attachments.attach(viewer, items, answers, files)
    problems = (
        check_answers(items, answers, complete=False)
        | attachments.foreign(viewer.client.id, items, answers)
        | problems
    )
    kept = {link_id: values for link_id, values in answers.items() if link_id not in problems}
    data = to_response(items, kept, questionnaire=_canonical(form, version), status="in-progress", extra={})
    if draft is None:
        draft = _new_response(viewer, form, version)
    _store(draft, data, viewer)
    return draft, problems


def _canonical(form: Form, version: FormVersion) -> str:
    return f"Questionnaire/form-{form.id}|{version.version}"


def submit(
    viewer: Viewer, form_id: int, answers: dict[str, list[str]], *, signing: bool = False
) -> Submitted:
    """Complete the form: every required question that is shown answered, the answers valid. The
    response is then locked; an instrument is scored and item 9 of the PHQ-9 raises a flag.
    A consent is completed only by signing it (`signatures.sign` passes `signing`)."""
    form = _writable(viewer, form_id)
    draft = draft_for(viewer.client.id, form.id)
    version = _version_for(draft, form)
    if needs_signature(version.questionnaire) and not signing:
        raise Conflict("This consent is completed by signing it.")
    items = build_items(version.questionnaire)
    problems = check_answers(items, answers, complete=True) | attachments.foreign(
        viewer.client.id, items, answers
    )
    if problems:
        raise Problems(problems)
    instrument = instruments.INSTRUMENTS.get(form.instrument or "")
    score, extra = None, {}
    if instrument is not None:
        weights = {}
        for item in walk(items):
            chosen = answers.get(item.link_id, [])
            option = item.option(chosen[0]) if chosen else None
            weights[item.link_id] = option.weight if option else None
        score = instruments.score(instrument, weights)
        if score is not None:
            extra = {instrument.total[0]: [{"valueInteger": score.total}]}
    data = to_response(
        items, answers, questionnaire=_canonical(form, version), status="completed", extra=extra
    )
    response = draft or _new_response(viewer, form, version)
    now = datetime.now(UTC)
    _store(response, data, viewer)
    response.status, response.completed_at = "completed", now
    if score is not None:
        response.score, response.severity = score.total, score.band
    db.session.flush()
    for assignment in db.session.scalars(
        select(FormAssignment).where(
            FormAssignment.client_id == viewer.client.id,
            FormAssignment.form_id == form.id,
            FormAssignment.completed_at.is_(None),
        )
    ):
        assignment.completed_at = now
    record(
        "form completed",
        client_id=viewer.client.id,
        detail=f"form {form.id}: {form.title}",
        **viewer.audit_actor,
    )
    if form.instrument == profile.KEY:
        profile.apply(viewer, viewer.client, answers, practice_settings(), response.id)
    attention = bool(score and score.needs_attention and instrument is instruments.PHQ9)
    if attention:
        _raise_flag(viewer, response)
    # To the client's forms page, which every staff member who is told may open (schedulers see
    # what was done there, not the answers).
    notify_staff(FORM_COMPLETED, viewer.client, "onboarding.client_forms", {"client_id": viewer.client.id})
    _tell_if_onboarding_done(viewer, form)
    return Submitted(response, score, attention)


def _tell_if_onboarding_done(viewer: Viewer, form: Form) -> None:
    """The form just completed was the last of the onboarding set: the client's staff are told."""
    if form.id not in {step.id for step in onboarding_set()}:
        return
    done, total = onboarding_progress(viewer.client.id)
    if total and done == total:
        notify_staff(
            ONBOARDING_DONE, viewer.client, "onboarding.client_forms", {"client_id": viewer.client.id}
        )
        record("onboarding completed", client_id=viewer.client.id, **viewer.audit_actor)


def _raise_flag(viewer: Viewer, response: FormResponse) -> None:
    db.session.add(FormFlag(client_id=viewer.client.id, response_id=response.id, reason=SAFETY_REASON))
    db.session.flush()
    # Only the staff who may read answers: the flag says something about what was answered.
    notify_staff(
        FORM_FLAGGED,
        viewer.client,
        "onboarding.client_forms",
        {"client_id": viewer.client.id},
        roles=READS_RESPONSES,
    )
    # The audit line says that a response needs attention, never what was answered.
    record(
        "form flagged for attention",
        client_id=viewer.client.id,
        detail=f"response {response.id}",
        **viewer.audit_actor,
    )


def answers_of(response: FormResponse) -> dict[str, list[str]]:
    return from_response(build_items(response.version.questionnaire), response_json(response))
