"""Staff views of availability: the practice's hours and defaults (owner, admin) and a clinician's
own hours and overrides (that clinician, owner, admin)."""

from __future__ import annotations

from flask import abort, redirect, render_template, url_for
from flask_login import current_user

from app.nav import register_nav
from app.roles import MANAGES_PRACTICE, OFFERS_SERVICES
from app.web import carry_out, staff_required
from blueprints.scheduling import bp
from blueprints.scheduling.forms import (
    ActionForm,
    ClinicianScheduleForm,
    ExceptionForm,
    PracticeDefaultsForm,
    WeeklyRangeForm,
)
from blueprints.scheduling.operations import availability as rules
from blueprints.scheduling.operations.catalog import offering_staff
from blueprints.scheduling.views.common import staff_in
from tenants.features import practice_settings

register_nav(
    "staff", "Availability", "scheduling.availability", staff_in(MANAGES_PRACTICE + OFFERS_SERVICES), order=72
)


def _target(user_id: int | None):
    """None for the practice's hours (owner, admin: else 403); a clinician they may manage (else 404)."""
    if user_id is None:
        if current_user.role not in MANAGES_PRACTICE:
            abort(403)
        return None
    clinician = rules.availability_owner(current_user, user_id)
    if clinician is None:
        abort(404)
    return clinician


def _availability_page(clinician, status: int = 200, error: str | None = None, **forms):
    clinician_id = clinician.id if clinician else None
    settings = practice_settings()
    context = {
        "clinician": clinician,
        "error": error,
        "hours": rules.weekly_hours(clinician_id),
        "exceptions": rules.upcoming_exceptions(clinician_id),
        "range_form": forms.get("range_form") or WeeklyRangeForm(formdata=None),
        "exception_form": forms.get("exception_form") or ExceptionForm(formdata=None),
        "action_form": ActionForm(),
        "weekdays": rules.WEEKDAYS,
        "exception_label": rules.exception_label,
        "defaults": rules.practice_defaults(settings),
        "zone": settings.time_zone or "UTC",
    }
    if clinician is None:
        context["defaults_form"] = forms.get("defaults_form") or PracticeDefaultsForm(
            formdata=None, data=rules.practice_defaults(settings)
        )
        context["clinicians"] = offering_staff()
        template = "scheduling/staff_availability.html"
    else:
        schedule = rules.clinician_schedule(clinician)
        context["schedule"] = schedule
        context["schedule_form"] = forms.get("schedule_form") or ClinicianScheduleForm(
            formdata=None,
            data={"uses_own_hours": schedule.uses_own_hours}
            | {name: getattr(schedule, name) for name in rules.SCHEDULE_NUMBERS},
        )
        context["may_manage_practice"] = current_user.role in MANAGES_PRACTICE
        template = "scheduling/staff_clinician_availability.html"
    return render_template(template, **context), status


def _page_of(clinician) -> str:
    if clinician is None:
        return url_for("scheduling.availability")
    return url_for("scheduling.clinician_availability", user_id=clinician.id)


@bp.get("/availability")
@staff_required()
def availability():
    if current_user.role not in MANAGES_PRACTICE:
        if current_user.role in OFFERS_SERVICES:
            return redirect(url_for("scheduling.clinician_availability", user_id=current_user.id))
        abort(403)
    return _availability_page(None)


@bp.get("/availability/clinicians/<int:user_id>")
@staff_required()
def clinician_availability(user_id: int):
    return _availability_page(_target(user_id))


def _change(clinician, form, form_name: str | None, change, done: str):
    """A POST of the availability pages: an incomplete form or a refused value re-renders the page
    with 400 and the messages; otherwise `change()` is carried out."""
    forms = {form_name: form} if form_name else {}

    def invalid():
        error = form.form_errors[0] if form.form_errors else None
        return _availability_page(clinician, 400, error=error, **forms)

    if not form.validate_on_submit():
        if not form_name:
            form.form_errors.append("That form was incomplete. Please try again.")
        return invalid()
    return carry_out(change, success=done, then=_page_of(clinician), form=form, invalid=invalid)


@bp.post("/availability/hours", defaults={"user_id": None})
@bp.post("/availability/clinicians/<int:user_id>/hours")
@staff_required()
def add_hours(user_id: int | None):
    clinician = _target(user_id)
    form = WeeklyRangeForm()
    return _change(
        clinician,
        form,
        "range_form",
        lambda: rules.add_weekly_hours(
            current_user, clinician, form.weekday.data, form.start.data, form.end.data
        ),
        "The hours were added.",
    )


@bp.post("/availability/hours/<int:rule_id>/remove", defaults={"user_id": None})
@bp.post("/availability/clinicians/<int:user_id>/hours/<int:rule_id>/remove")
@staff_required()
def remove_hours(user_id: int | None, rule_id: int):
    clinician = _target(user_id)
    rule = rules.weekly_range(clinician, rule_id)
    if rule is None:
        abort(404)
    return _change(
        clinician,
        ActionForm(),
        None,
        lambda: rules.remove_weekly_range(current_user, clinician, rule),
        "The hours were removed.",
    )


@bp.post("/availability/exceptions", defaults={"user_id": None})
@bp.post("/availability/clinicians/<int:user_id>/exceptions")
@staff_required()
def add_exception(user_id: int | None):
    clinician = _target(user_id)
    form = ExceptionForm()
    return _change(
        clinician,
        form,
        "exception_form",
        lambda: rules.add_exception(
            current_user, clinician, form.on_date.data, form.kind.data, form.start.data, form.end.data
        ),
        "The date exception was added.",
    )


@bp.post("/availability/exceptions/<int:exception_id>/remove", defaults={"user_id": None})
@bp.post("/availability/clinicians/<int:user_id>/exceptions/<int:exception_id>/remove")
@staff_required()
def remove_exception(user_id: int | None, exception_id: int):
    clinician = _target(user_id)
    exception = rules.date_exception(clinician, exception_id)
    if exception is None:
        abort(404)
    return _change(
        clinician,
        ActionForm(),
        None,
        lambda: rules.remove_exception(current_user, clinician, exception),
        "The date exception was removed.",
    )


@bp.post("/availability/defaults")
@staff_required(*MANAGES_PRACTICE)
def practice_defaults():
    form = PracticeDefaultsForm()
    return _change(
        None,
        form,
        "defaults_form",
        lambda: rules.update_practice_defaults(current_user, practice_settings(), form.values()),
        "The scheduling defaults were saved.",
    )


@bp.post("/availability/clinicians/<int:user_id>/settings")
@staff_required()
def clinician_settings(user_id: int):
    clinician = _target(user_id)
    form = ClinicianScheduleForm()
    return _change(
        clinician,
        form,
        "schedule_form",
        lambda: rules.update_clinician_schedule(
            current_user, clinician, form.uses_own_hours.data, form.values()
        ),
        "The scheduling settings were saved.",
    )
