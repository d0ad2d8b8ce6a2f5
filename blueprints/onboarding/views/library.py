"""The practice's forms (staff): the list with built-in forms, import of a Questionnaire, its FHIR
export, and a preview of a form as a client sees it."""

from __future__ import annotations

import json

from flask import Response, abort, redirect, render_template, url_for
from flask_login import current_user

from app.nav import register_nav, staff_in
from app.web import carry_out, staff_required
from blueprints.onboarding import bp
from blueprints.onboarding.forms import ImportForm
from blueprints.onboarding.operations import library
from blueprints.onboarding.operations.items import build_items, enabled_items, slug
from blueprints.onboarding.operations.library import MANAGES_FORMS
from tenants.database import db

register_nav("staff", "Forms", "onboarding.forms", staff_in(), order=55)


def _form_or_404(form_id: int):
    form = db.session.get(library.Form, form_id)
    if form is None:
        abort(404)
    return form


def _list_page(form: ImportForm, status: int = 200):
    return render_template(
        "onboarding/forms.html",
        forms=library.list_forms(),
        import_form=form,
        may_import=current_user.role in MANAGES_FORMS,
    ), status


@bp.get("/forms")
@staff_required()
def forms():
    # Built-in forms are created in the practice's schema the first time anyone looks.
    return carry_out(library.ensure_builtins, then=lambda _: _list_page(ImportForm()))


@bp.post("/forms/import")
@staff_required()
def import_form():
    form = ImportForm()
    if not form.validate_on_submit():
        return _list_page(form, 400)
    upload = form.file.data

    def run():
        raw = upload.read(library.MAX_IMPORT_BYTES + 1) if upload else (form.text.data or "")
        return library.import_form(current_user, library.parse_upload(raw))

    return carry_out(
        run,
        success="The form was imported.",
        then=lambda imported: _redirect_to(imported),
        form=form,
        invalid=lambda: _list_page(form, 400),
        back=url_for("onboarding.forms"),
    )


def _redirect_to(imported):
    return redirect(url_for("onboarding.preview", form_id=imported.id))


@bp.get("/forms/<int:form_id>/questionnaire.json")
@staff_required()
def export(form_id: int):
    form = _form_or_404(form_id)
    body = json.dumps(library.export(form), indent=2, ensure_ascii=False)
    response = Response(body, content_type="application/fhir+json; charset=utf-8")
    filename = f"{slug(form.title)}-questionnaire.json"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.get("/forms/<int:form_id>")
@staff_required()
def preview(form_id: int):
    form = _form_or_404(form_id)
    version = library.latest_version(form)
    items = build_items(version.questionnaire)
    return render_template(
        "onboarding/preview.html",
        form=form,
        version=version,
        items=items,
        shown=enabled_items(items, {}),
        copyright=version.questionnaire.get("copyright"),
    )
