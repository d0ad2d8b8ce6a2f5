"""A client's forms on the staff side: to do, in progress and completed, a response in a clean
printable layout, "Share form", an assessment schedule, the item 9 flag and its acknowledgement,
the trend chart of scores, and the panel on the client's record that leads here."""

from __future__ import annotations

from flask import abort, render_template, url_for
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from app.web import carry_out, staff_required
from blueprints.onboarding import bp
from blueprints.onboarding.forms import AcknowledgeForm, ScheduleForm, ShareForm
from blueprints.onboarding.operations import library, profile, record, responses, signatures, todos
from blueprints.onboarding.operations.chart import charts_for
from blueprints.onboarding.operations.fhir_response import display_answer
from blueprints.onboarding.operations.items import build_items, enabled_items
from blueprints.people.views.clients import client_or_404
from tenants.context import bound_practice
from tenants.features import practice_settings, practice_zone


def _back(client_id: int) -> str:
    return url_for("onboarding.client_forms", client_id=client_id)


@bp.get("/clients/<int:client_id>/forms")
@staff_required()
def client_forms(client_id: int):
    client = client_or_404(client_id)
    carry_out(library.ensure_builtins)  # built-in forms are created (and committed) on first use
    forms = [form for form, _ in library.list_forms()]
    share, schedule = ShareForm(), ScheduleForm()
    share.form_id.choices = [SelectChoice(form.id, form.title) for form in forms]
    schedule.form_id.choices = [SelectChoice(form.id, form.title) for form in forms if form.builtin]
    may_read = current_user.role in record.READS_RESPONSES
    return render_template(
        "onboarding/client_forms.html",
        client=client,
        todos=todos.todos_for(client.id),
        in_progress=todos.in_progress_for(client.id),
        completed=todos.completed_for(client.id),
        flags=record.all_flags(client.id) if may_read else [],
        flag_note=record.flag_note,
        schedules=record.schedules_for(client.id),
        profile_changes=profile.changes_for(client.id),
        signed=signatures.signatures_for(client.id),
        cadence_labels=record.CADENCE_LABELS,
        charts=charts_for(client.id, practice_zone()) if may_read else [],
        may_read=may_read,
        share_form=share,
        schedule_form=schedule,
        acknowledge_form=AcknowledgeForm(),
        crisis_set=bool((practice_settings().crisis_resources or "").strip()),
        zone=practice_zone(),
    )


@bp.get("/clients/<int:client_id>/forms/responses/<int:response_id>")
@staff_required()
def client_response(client_id: int, response_id: int):
    client = client_or_404(client_id)

    def read():
        record.check_may_read(current_user)
        return record.response_for(client, response_id)

    def page(response):
        items = build_items(response.version.questionnaire)
        answers = responses.answers_of(response)
        return render_template(
            "onboarding/response.html",
            client=client,
            response=response,
            items=items,
            answers=answers,
            shown=enabled_items(items, answers),
            display_answer=display_answer,
            copyright=response.version.questionnaire.get("copyright"),
            signature=signatures.signature_of_response(response.id),
            zone=practice_zone(),
        )

    return carry_out(read, then=page, back=_back(client_id))


@bp.get("/clients/<int:client_id>/forms/signatures/<int:signature_id>")
@staff_required()
def client_signature(client_id: int, signature_id: int):
    """A signature's certificate: signer, method, times, address, browser, its events, and whether
    the stored record still gives its hash; with the signed PDF to download."""
    client = client_or_404(client_id)

    def page(signature):
        return render_template(
            "onboarding/signature.html",
            client=client,
            signature=signature,
            verified=signatures.verifies(signature),
            may_read=current_user.role in record.READS_RESPONSES,
            events=signatures.events_for(client.id, signature.form_id),
            zone=practice_zone(),
        )

    return carry_out(lambda: signatures.signature_for(client, signature_id), then=page, back=_back(client_id))


def _record_action(client_id: int, form_class, change, success: str):
    """A button on a client's forms page: the client must be visible, the form's CSRF token good;
    `change(client, form)` is carried out and the page shown again (or its refusal)."""
    client = client_or_404(client_id)
    form = form_class()
    if not form.validate_on_submit():
        abort(400)
    return carry_out(
        lambda: change(client, form), success=success, then=_back(client_id), back=_back(client_id)
    )


@bp.post("/clients/<int:client_id>/forms/share")
@staff_required()
def share_form(client_id: int):
    return _record_action(
        client_id,
        ShareForm,
        lambda client, form: record.share_form(current_user, client, form.form_id.data),
        "The form is on the client's to-do list.",
    )


@bp.post("/clients/<int:client_id>/forms/schedule")
@staff_required()
def schedule_assessment(client_id: int):
    return _record_action(
        client_id,
        ScheduleForm,
        lambda client, form: record.set_schedule(
            current_user, client, form.form_id.data, form.cadence.data or ""
        ),
        "The assessment schedule was saved.",
    )


@bp.post("/clients/<int:client_id>/forms/flags/<int:flag_id>/acknowledge")
@staff_required()
def acknowledge_flag(client_id: int, flag_id: int):
    return _record_action(
        client_id,
        AcknowledgeForm,
        lambda client, form: record.acknowledge_flag(current_user, client, flag_id, form.note.data),
        "The flag was acknowledged.",
    )


def forms_panel(client) -> dict | None:
    """What `onboarding/_client_panel.html` shows on a client record, or None when it shows nothing."""
    if bound_practice() is None or not current_user.is_authenticated or not current_user.is_staff:
        return None
    may_read = current_user.role in record.READS_RESPONSES
    return {
        "url": url_for("onboarding.client_forms", client_id=client.id),
        "to_do": len(todos.todos_for(client.id)),
        "completed": len(todos.completed_for(client.id)),
        "flags": record.open_flags(client.id) if may_read else [],
    }


def attention_list() -> list:
    """The staff home's "Forms needing your attention" (no health detail: who, and since when)."""
    if bound_practice() is None or not current_user.is_authenticated or not current_user.is_staff:
        return []
    return record.flags_needing(current_user)


@bp.app_context_processor
def panel_helpers():
    return {"onboarding_panel": forms_panel, "forms_needing_attention": attention_list}
