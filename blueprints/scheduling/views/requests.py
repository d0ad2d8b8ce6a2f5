"""Staff views of appointment requests: the filtered list, one request, approve (with changes) and
decline."""

from __future__ import annotations

from flask import abort, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from app.nav import register_nav
from app.web import attach_problems, carry_out_form, form_status, staff_required
from blueprints.scheduling import bp
from blueprints.scheduling.forms import ApproveForm, DeclineForm, RequestFilterForm, choices
from blueprints.scheduling.operations import requests as rules
from blueprints.scheduling.operations.catalog import bookable_clinician, offering_staff, services_offered_by
from blueprints.scheduling.operations.visibility import pending_count, request_for_staff, sees_everything
from blueprints.scheduling.views.common import clinician_choices, is_staff
from tenants.database import db
from tenants.features import practice_zone


def requests_label() -> str:
    try:
        count = pending_count(current_user)
    except SQLAlchemyError:  # an error page after a failed transaction: no count, still a link
        return "Requests"
    return f"Requests ({count})"


register_nav("staff", requests_label, "scheduling.requests", is_staff, order=14)


@bp.get("/requests")
@staff_required()
def requests():
    defaults = rules.default_filters()
    form = RequestFilterForm(
        formdata=request.args or None,
        data={
            "status": "pending",
            "kind": "all",
            "date_from": defaults.date_from,
            "date_to": defaults.date_to,
        },
    )
    clinicians = offering_staff() if sees_everything(current_user) else [current_user]
    form.clinician.choices = clinician_choices(clinicians, blank="All clinicians")
    valid = form.validate()
    filters = rules.RequestFilters(
        status=form.status.data,
        kind=form.kind.data,
        date_from=form.date_from.data,
        date_to=form.date_to.data,
    )
    raw_clinician = (form.clinician.data or "").strip()
    if raw_clinician:
        if not raw_clinician.isdigit() or len(raw_clinician) > 18:
            form.clinician.errors = [*form.clinician.errors, "Choose a clinician from the list."]
            valid = False
        elif bookable_clinician(int(raw_clinician)) is None:
            abort(404)  # another practice's id
        else:
            filters.clinician_id = int(raw_clinician)
    problems = rules.filter_problems(filters)
    if problems or not valid:
        attach_problems(form, problems)
        filters = defaults
    found = rules.list_requests(current_user, filters)
    db.session.commit()  # requests whose time passed were marked expired
    return render_template(
        "scheduling/staff_requests.html",
        form=form,
        found=found,
        kinds=rules.REQUEST_KINDS,
        zone=practice_zone(),
        sees_everything=sees_everything(current_user),
    ), form_status(form)


def _request_or_404(request_id: int, lock: bool = False):
    item = request_for_staff(current_user, request_id, lock=lock)
    if item is None:
        abort(404)  # another practice's, or a request for another clinician
    return item


def _request_page(item, approve_form=None, decline_form=None, status: int = 200):
    if approve_form is None:
        approve_form = ApproveForm(formdata=None, data={"service_id": item.service_id})
    services = services_offered_by(item.clinician_user_id)
    if all(s.id != item.service_id for s in services):
        services.insert(0, item.service)
    approve_form.service_id.choices = choices(
        (s.id, f"{s.name} ({s.duration_minutes} min)") for s in services
    )
    return (
        render_template(
            "scheduling/staff_request.html",
            item=item,
            approve_form=approve_form,
            decline_form=decline_form or DeclineForm(formdata=None),
            kinds=rules.REQUEST_KINDS,
            zone=practice_zone(),
        ),
        status,
    )


@bp.get("/requests/<int:request_id>")
@staff_required()
def request_detail(request_id: int):
    item = _request_or_404(request_id)
    rules.expire_past_requests()
    db.session.commit()
    return _request_page(item)


def _request_change(request_id: int, form, form_name: str, change, *, success: str, then):
    """A form posted from a request's page (`form_name` there): until it is valid, or when `change()`
    is refused, the page again with the form and 400."""
    return carry_out_form(
        form,
        change,
        page=lambda: _request_page(_request_or_404(request_id), status=400, **{form_name: form}),
        success=success,
        then=then,
        back=url_for("scheduling.request_detail", request_id=request_id),
    )


def _after_approval(appointment):
    if appointment is not None and appointment.status == "booked":
        return redirect(url_for("scheduling.appointment", appointment_id=appointment.id))
    return redirect(url_for("scheduling.requests"))


@bp.post("/requests/<int:request_id>/approve")
@staff_required()
def approve_request(request_id: int):
    item = _request_or_404(request_id, lock=True)
    form = ApproveForm()
    return _request_change(
        request_id,
        form,
        "approve_form",
        lambda: rules.approve(
            current_user,
            item,
            service_id=form.service_id.data,
            service_code=form.service_code.data,
            duration_minutes=form.duration_minutes.data,
            alert=form.alert.data,
        ),
        success="The request was approved and the client was emailed.",
        then=_after_approval,
    )


@bp.post("/requests/<int:request_id>/decline")
@staff_required()
def decline_request(request_id: int):
    item = _request_or_404(request_id, lock=True)
    form = DeclineForm()
    return _request_change(
        request_id,
        form,
        "decline_form",
        lambda: rules.decline(current_user, item, notify=form.notify.data, message=form.message.data),
        success="The request was declined" + (" and the client was told." if form.notify.data else "."),
        then=url_for("scheduling.requests"),
    )
