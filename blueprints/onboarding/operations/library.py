"""The practice's forms: the built-in instruments (kept in the practice's schema like any other
form), imported Questionnaires, and their immutable versions.

A form's latest version is what a client is given; a response keeps the version it answered, so a
new version never changes what an earlier response means.
"""

from __future__ import annotations

import json

from sqlalchemy import func, select

from app.refusals import NotAllowed, NotFound, Problems
from blueprints.audit.service import record
from blueprints.auth.models import User
from blueprints.onboarding.models import Form, FormVersion
from blueprints.onboarding.operations import profile
from blueprints.onboarding.operations.instruments import INSTRUMENTS, questionnaire
from blueprints.onboarding.operations.validation import validate_questionnaire
from tenants.database import db
from tenants.features import practice_settings

# Who may add forms to the practice (the staff who run it and the clinicians who use them).
MANAGES_FORMS = ("owner", "admin", "clinician")
MAX_IMPORT_BYTES = 512 * 1024


def latest_version(form: Form) -> FormVersion:
    return db.session.scalars(
        select(FormVersion).where(FormVersion.form_id == form.id).order_by(FormVersion.version.desc())
    ).first()


def add_version(form: Form, data: dict, actor: User | None) -> FormVersion:
    number = db.session.scalar(
        select(func.coalesce(func.max(FormVersion.version), 0)).where(FormVersion.form_id == form.id)
    )
    version = FormVersion(
        form_id=form.id, version=number + 1, questionnaire=data, created_by_user_id=actor and actor.id
    )
    db.session.add(version)
    db.session.flush()
    return version


def ensure_builtins() -> dict[str, Form]:
    """The built-in forms of the bound practice (the instruments, client information), created on
    first use; a changed definition (in the code, or the practice's settings for client
    information) becomes a new version, never an edit of the old one."""
    forms = {
        form.instrument: form for form in db.session.scalars(select(Form).where(Form.instrument.is_not(None)))
    }
    wanted_by_key = {
        key: (instrument.title, questionnaire(instrument)) for key, instrument in INSTRUMENTS.items()
    }
    # The client-information form follows the practice's settings (which record fields it asks for).
    wanted_by_key[profile.KEY] = (profile.TITLE, profile.questionnaire(practice_settings()))
    for key, (title, wanted) in wanted_by_key.items():
        form = forms.get(key)
        if form is None:
            form = Form(title=title, instrument=key)
            db.session.add(form)
            db.session.flush()
            forms[key] = form
            add_version(form, wanted, None)
        elif latest_version(form).questionnaire != wanted:
            add_version(form, wanted, None)
    return forms


def list_forms() -> list[tuple[Form, FormVersion]]:
    """Every form of the practice that is in use (built-in ones first), with its latest version."""
    ensure_builtins()
    forms = db.session.scalars(
        select(Form).where(Form.archived.is_(False)).order_by(Form.instrument.is_(None), Form.title, Form.id)
    )
    return [(form, latest_version(form)) for form in forms]


def form_or_404(form_id: int) -> Form:
    form = db.session.get(Form, form_id)
    if form is None:
        raise NotFound()
    return form


def parse_upload(raw: bytes | str) -> dict:
    """JSON text (an uploaded file or pasted text) as a dict, or a clear refusal."""
    if isinstance(raw, bytes):
        if len(raw) > MAX_IMPORT_BYTES:
            raise Problems({"questionnaire": "The file is too large (at most 512 KB)."})
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise Problems({"questionnaire": "The file is not UTF-8 text."}) from None
    if not raw.strip():
        raise Problems({"questionnaire": "Choose a Questionnaire JSON file or paste its JSON."})
    try:
        return json.loads(raw)
    except json.JSONDecodeError as error:
        raise Problems({"questionnaire": f"This is not JSON ({error.msg}, line {error.lineno})."}) from None


def import_form(actor: User, data: dict) -> Form:
    """A new form from a Questionnaire (validated as a whole: nothing is stored if anything is refused)."""
    if actor.role not in MANAGES_FORMS:
        raise NotAllowed("Only the owner, an admin or a clinician can add forms.")
    data = validate_questionnaire(data)
    title = (data.get("title") or data.get("name") or "Untitled form").strip()[:200]
    form = Form(title=title)
    db.session.add(form)
    db.session.flush()
    add_version(form, data, actor)
    record("form imported", detail=f"form {form.id}: {title}", **actor.audit_actor)
    return form


def export(form: Form) -> dict:
    """The latest version as a FHIR R4 Questionnaire, with this practice's id and version on it."""
    version = latest_version(form)
    return {**version.questionnaire, "id": f"form-{form.id}", "version": str(version.version)}
