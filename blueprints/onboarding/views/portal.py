"""The client portal's forms: the list (to do and completed), one form (answer, save for later,
submit), the autosave endpoint, and the home page's "Things to do".

Autosave is a small fetch POST of the whole form: the answers go to the server as an
`in-progress` QuestionnaireResponse (nothing is kept in the browser), the answer carries a fresh
CSRF token (Flask-WTF's expires after an hour; a form may take longer), and the request itself
counts as activity for the session's idle timeout.
"""

from __future__ import annotations

from flask import abort, jsonify, render_template, request, url_for
from flask_wtf.csrf import generate_csrf

from app.nav import register_nav
from app.web import carry_out
from blueprints.documents.views import incoming
from blueprints.onboarding import bp
from blueprints.onboarding.operations import attachments, disclosure, profile, responses, signatures, todos
from blueprints.onboarding.operations.instruments import PHQ9, SAFETY_ITEM
from blueprints.onboarding.operations.items import build_items, enabled_items, read_answers
from blueprints.onboarding.operations.record import CRISIS_FALLBACK
from blueprints.portal.home import Todo, register_todo_source
from blueprints.portal.viewer import current_viewer, portal_page
from tenants.features import is_enabled, practice_settings, practice_zone

FEATURE = dict(feature="forms", step_up=True)
# The PHQ-9's item 9 answer that needs no crisis resources ("Not at all").
SAFE_ANSWER = "http://loinc.org|LA6568-5"


def _forms_in_nav() -> bool:
    if not is_enabled("forms"):
        return False
    viewer = current_viewer()
    if viewer is None:
        return False
    return viewer.permissions.forms or viewer.needs_step_up


register_nav("portal", "Forms", "onboarding.portal_forms", _forms_in_nav, order=30)


def form_todos(viewer) -> list[Todo]:
    if not is_enabled("forms") or not viewer.permissions.forms:
        return []
    return [
        Todo(
            label=f"Complete {todo.form.title}",
            url=url_for("onboarding.portal_form", form_id=todo.form.id),
            detail="Started: your answers are saved" if todo.started else todo.reason_label,
        )
        for todo in todos.todos_for(viewer.client.id)
    ]


register_todo_source(form_todos)


@bp.get("/portal/forms")
@portal_page("forms", **FEATURE)
def portal_forms():
    viewer = current_viewer()
    return render_template(
        "onboarding/portal_list.html",
        viewer=viewer,
        todos=todos.todos_for(viewer.client.id),
        completed=todos.completed_for(viewer.client.id),
        progress=todos.onboarding_progress(viewer.client.id),
        zone=practice_zone(viewer.client.time_zone),
    )


def _open(form_id: int):
    """(viewer, form, still to do) for a form the open record may see, else 404."""
    viewer = current_viewer()
    found = responses.find_portal_form(viewer.client.id, form_id)
    if found is None:
        abort(404)
    return viewer, *found


def _crisis(form) -> dict | None:
    """What the page shows at once when PHQ-9 item 9 is answered above "Not at all"."""
    if form.instrument != PHQ9.key:
        return None
    return {
        "item": SAFETY_ITEM,
        "safe": SAFE_ANSWER,
        "text": practice_settings().crisis_resources or CRISIS_FALLBACK,
    }


def _page(viewer, form, to_do: bool, answers=None, problems=None, status: int = 200, saved: bool = False):
    draft, response = None, None
    if to_do:
        draft = responses.draft_for(viewer.client.id, form.id)
        version = responses.current_version(viewer.client.id, form)
        if answers is None and draft is not None:
            answers = responses.answers_of(draft)
        elif answers is None:  # client information starts from what the record holds
            answers = (
                profile.current_answers(viewer.client, practice_settings())
                if form.instrument == profile.KEY
                else {}
            )
    else:
        response = next(r for r in todos.completed_for(viewer.client.id) if r.form_id == form.id)
        version, answers = response.version, responses.answers_of(response)
    items = build_items(version.questionnaire)
    consent = signatures.is_consent(version)
    return render_template(
        "onboarding/portal_form.html",
        consent=consent,
        erecords=disclosure.active_consent(viewer) if consent else None,
        erecords_last=disclosure.last_consent(viewer) if consent else None,
        signature=signatures.signature_of_response(response.id) if consent and response else None,
        agreement=signatures.AGREEMENT,
        signed_name=request.form.get("signature_name", "") if request.method == "POST" else "",
        viewer=viewer,
        form=form,
        items=items,
        answers=answers,
        shown=enabled_items(items, answers),
        problems=problems or {},
        to_do=to_do,
        draft=draft,
        response=response,
        saved=saved,
        copyright=version.questionnaire.get("copyright"),
        crisis=_crisis(form),
        zone=practice_zone(viewer.client.time_zone),
    ), status


def _posted_answers(viewer, form):
    return read_answers(
        build_items(responses.current_version(viewer.client.id, form).questionnaire), request.form
    )


def _posted_files(viewer, form) -> dict:
    """The files chosen for attachment items (field `<linkId>.file`)."""
    items = build_items(responses.current_version(viewer.client.id, form).questionnaire)
    files = {}
    for item in attachments.attachment_items(items):
        chosen = incoming(request.files.get(f"{item.link_id}.file"))
        if chosen is not None:
            files[item.link_id] = chosen
    return files


def _with_uploads(viewer, form, answers):
    """Files posted with the form become documents (committed at once, so that nothing is lost if
    the rest of the post is refused) and the answers name them: (answers, page) where page is a
    response to send instead (a refusal, or the form again with the files' problems)."""
    files = _posted_files(viewer, form)
    if not files or viewer.read_only:
        return answers, None
    outcome = carry_out(lambda: responses.save_draft(viewer, form.id, answers, files))
    if not isinstance(outcome, tuple):
        return answers, outcome
    draft, problems = outcome
    attached = {
        item.link_id for item in attachments.attachment_items(build_items(draft.version.questionnaire))
    }
    saved = responses.answers_of(draft)
    answers = {**answers, **{link: saved[link] for link in attached if link in saved}}
    file_problems = {link: problem for link, problem in problems.items() if link in attached}
    if file_problems:
        return answers, _page(viewer, form, True, answers, file_problems, 400)
    return answers, None


@bp.route("/portal/forms/<int:form_id>", methods=["GET", "POST"])
@portal_page("forms", **FEATURE)
def portal_form(form_id: int):
    viewer, form, to_do = _open(form_id)
    if request.method == "GET" or not to_do:
        # A completed form is shown locked; a post to it changes nothing (409 below).
        if request.method == "POST":
            return carry_out(lambda: responses.save_draft(viewer, form_id, {}))
        if to_do and signatures.is_consent(responses.current_version(viewer.client.id, form)):
            # Opening a consent's full text is an event of its signature trail.
            return carry_out(
                lambda: signatures.record_viewed(viewer, form_id), then=lambda _: _page(viewer, form, True)
            )
        return _page(viewer, form, to_do)
    answers, refused = _with_uploads(viewer, form, _posted_answers(viewer, form))
    if refused is not None:
        return refused
    if signatures.is_consent(responses.current_version(viewer.client.id, form)):
        return _sign_or_decline(viewer, form, answers)
    if request.form.get("action") == "save":
        return carry_out(
            lambda: responses.save_draft(viewer, form_id, answers),
            then=lambda result: _page(
                viewer, form, True, answers, result[1], 400 if result[1] else 200, True
            ),
        )
    problems = responses.submit_problems(viewer.client.id, form, answers)
    if problems and not viewer.read_only:
        return _page(viewer, form, True, answers, problems, 400)
    return carry_out(
        lambda: responses.submit(viewer, form_id, answers),
        then=lambda submitted: _done(viewer, form, submitted),
    )


def _sign_or_decline(viewer, form, answers):
    """A consent's page posts "sign" (submit), "decline" or "save"."""
    action = request.form.get("action")
    if action == "save":
        return carry_out(
            lambda: responses.save_draft(viewer, form.id, answers),
            then=lambda result: _page(
                viewer, form, True, answers, result[1], 400 if result[1] else 200, True
            ),
        )
    if action == "decline":
        return carry_out(
            lambda: signatures.decline(viewer, form.id),
            success="You did not sign. The form stays on your list; ask the practice if you have questions.",
            then=url_for("onboarding.portal_forms"),
            back=url_for("onboarding.portal_form", form_id=form.id),
        )
    typed, agreed = request.form.get("signature_name", ""), request.form.get("signature_agree") == "yes"
    if not viewer.read_only and disclosure.active_consent(viewer) is not None:
        problems = responses.submit_problems(viewer.client.id, form, answers)
        problems |= signatures.signing_problems(viewer, typed, agreed)
        if problems:
            return _page(viewer, form, True, answers, problems, 400)
    return carry_out(
        lambda: signatures.sign(viewer, form.id, answers, typed, agreed),
        then=lambda result: _done(viewer, form, result[1], signature=result[0]),
        back=url_for("onboarding.portal_form", form_id=form.id),
    )


def _done(viewer, form, submitted, signature=None):
    return render_template(
        "onboarding/portal_done.html",
        viewer=viewer,
        form=form,
        submitted=submitted,
        crisis=(practice_settings().crisis_resources or CRISIS_FALLBACK)
        if submitted.needs_attention
        else None,
        remaining=todos.todos_for(viewer.client.id),
        signature=signature,
    )


@bp.post("/portal/forms/<int:form_id>/draft")
@portal_page("forms", **FEATURE)
def autosave(form_id: int):
    viewer, form, to_do = _open(form_id)
    answers = _posted_answers(viewer, form) if to_do else {}

    def saved(result):
        draft, problems = result
        when = draft.updated_at.astimezone(practice_zone(viewer.client.time_zone)).strftime("%H:%M")
        return jsonify(saved_at=when, problems=problems, csrf_token=generate_csrf())

    return carry_out(lambda: responses.save_draft(viewer, form_id, answers), then=saved)
