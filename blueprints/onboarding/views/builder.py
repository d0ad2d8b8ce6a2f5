"""The browser form builder (staff): add questions, move them up or down, edit their text, kind,
options and condition, preview the form as a client sees it, and save it as a new form or a new
version. Every button posts the whole page, so it works without script; nothing is stored until
"Save"."""

from __future__ import annotations

from flask import abort, redirect, render_template, request, url_for
from flask_login import current_user

from app.refusals import Problems
from app.web import carry_out, staff_required
from blueprints.onboarding import bp
from blueprints.onboarding.forms import BuilderForm
from blueprints.onboarding.operations import builder, library
from blueprints.onboarding.operations.items import build_items, enabled_items
from tenants.database import db


def _page(form_id, title, rows, problems=None, preview=None, status=200):
    items = build_items(preview) if preview else None
    return render_template(
        "onboarding/builder.html",
        form=BuilderForm(),
        form_id=form_id,
        title=title,
        rows=rows,
        problems=problems or {},
        types=builder.TYPES,
        controls=builder.CONTROLS,
        preview_items=items,
        preview_shown=enabled_items(items, {}) if items else set(),
    ), status


def _build(form_id: int | None):
    if current_user.role not in library.MANAGES_FORMS:
        abort(403)
    form = None
    if form_id is not None:
        form = db.session.get(library.Form, form_id)
        if form is None:
            abort(404)
    if request.method == "GET":
        if form is None:
            return _page(None, "", [builder.Row(link_id="q1")])
        rows = (
            None
            if form.builtin
            else builder.rows_from_questionnaire(library.latest_version(form).questionnaire)
        )
        if rows is None:
            return render_template("onboarding/builder_unavailable.html", form=form), 409
        return _page(form_id, form.title, rows)
    if not BuilderForm().validate_on_submit():
        abort(400)
    try:
        title, rows = builder.rows_from_post(request.form)
    except Problems as refused:
        title = (request.form.get("title") or "").strip()
        return _page(form_id, title, [builder.Row(link_id="q1")], refused.problems, status=400)
    action = request.form.get("action", "")
    if action not in ("save", "preview"):
        return _page(form_id, title, builder.apply_action(rows, action))
    problems = builder.problems_of(title, rows)
    if problems:
        return _page(form_id, title, rows, problems, status=400)
    if action == "preview":
        return _page(form_id, title, rows, preview=builder.questionnaire_from_rows(title, rows))
    return carry_out(
        lambda: builder.save(current_user, form_id, title, rows),
        success="The form was saved.",
        then=lambda saved: redirect(url_for("onboarding.preview", form_id=saved.id)),
    )


@bp.route("/forms/new", methods=["GET", "POST"])
@staff_required()
def new_form():
    return _build(None)


@bp.route("/forms/<int:form_id>/edit", methods=["GET", "POST"])
@staff_required()
def edit_form(form_id: int):
    return _build(form_id)
