"""The practice's forms settings (owner and admin): the onboarding set, in order, and the crisis
resources a client sees at once when an answer needs urgent help."""

from __future__ import annotations

from flask import render_template, request, url_for
from flask_login import current_user

from app.roles import MANAGES_PRACTICE
from app.web import carry_out, staff_required
from blueprints.onboarding import bp
from blueprints.onboarding.forms import CrisisForm
from blueprints.onboarding.operations import library, record
from blueprints.onboarding.operations.todos import onboarding_set
from tenants.features import practice_settings


def _page(form: CrisisForm, positions: dict[int, int | str], problems: dict | None = None, status=200):
    suggestion = record.suggested_crisis_text()
    if not form.is_submitted() and not form.crisis_resources.data:
        form.crisis_resources.data = practice_settings().crisis_resources or suggestion or ""
    return render_template(
        "onboarding/settings.html",
        form=form,
        forms=library.list_forms(),
        positions=positions,
        problems=problems or {},
        suggestion=suggestion,
        crisis_saved=bool(practice_settings().crisis_resources),
    ), status


def _current_positions() -> dict[int, int]:
    return {form.id: number for number, form in enumerate(onboarding_set(), start=1)}


def _posted_order() -> tuple[list[int], dict[int, str], dict[str, str]]:
    """The forms ticked for onboarding, sorted by the order number given to each."""
    chosen, positions, problems = [], {}, {}
    for form, _ in library.list_forms():
        if not request.form.get(f"include-{form.id}"):
            continue
        text = (request.form.get(f"position-{form.id}") or "").strip()
        positions[form.id] = text
        try:
            chosen.append((int(text) if text else 999, form.id))
        except ValueError:
            problems["forms"] = f"Give {form.title} a whole number as its place in the order."
    return [form_id for _, form_id in sorted(chosen)], positions, problems


@bp.route("/settings/forms", methods=["GET", "POST"])
@staff_required(*MANAGES_PRACTICE)
def forms_settings():
    form = CrisisForm()
    if request.method == "GET":
        return carry_out(library.ensure_builtins, then=lambda _: _page(form, _current_positions()))
    if not form.validate_on_submit():
        return _page(form, _current_positions(), status=400)
    order, positions, problems = _posted_order()
    if problems:
        return _page(form, positions, problems, 400)

    def run():
        # The crisis text first: the PHQ-9 may join the onboarding set in the same save.
        record.set_crisis_resources(current_user, form.crisis_resources.data)
        record.set_onboarding_set(current_user, order)

    return carry_out(
        run,
        success="The forms settings were saved.",
        then=url_for("onboarding.forms_settings"),
        form=form,
        invalid=lambda: _page(form, positions, status=400),
        back=url_for("onboarding.forms_settings"),
    )
