"""Staff views of the calendar: the week or day page, booking from it, and one appointment's page
(move, cancel, add a client to make a group appointment)."""

from __future__ import annotations

from flask import abort, redirect, render_template, request, url_for
from flask_login import current_user

from app.dates import appointment_date_problem, in_appointment_window
from app.errors import refuse
from app.nav import register_nav
from app.web import carry_out, carry_out_form, form_status, staff_required
from blueprints.people.operations.access import client_for_staff
from blueprints.scheduling import bp
from blueprints.scheduling.forms import AppointmentForm, CancelForm, GroupForm, MoveForm, choices
from blueprints.scheduling.models import Service
from blueprints.scheduling.operations import appointments
from blueprints.scheduling.operations.calendar import calendar_page
from blueprints.scheduling.operations.catalog import (
    bookable_clinician,
    clinician_for,
    list_services,
    offering_staff,
)
from blueprints.scheduling.operations.requests import REQUEST_KINDS, requests_of
from blueprints.scheduling.operations.visibility import appointment_for_staff, bookable_clients, pending_count
from blueprints.scheduling.places import appointment_actions
from blueprints.scheduling.views import series as series_views
from blueprints.scheduling.views.common import clinician_choices, date_arg, int_arg, is_staff
from tenants.database import db
from tenants.features import practice_today, practice_zone

register_nav("staff", "Calendar", "scheduling.calendar", is_staff, order=12)


@bp.get("/calendar")
@staff_required()
def calendar():
    view = "day" if request.args.get("view") == "day" else "week"
    day = date_arg("date")
    if request.args.get("date") and day is None:
        refuse(400, "Use a date like 2031-06-02.")
    if day is not None and appointment_date_problem(day):
        refuse(400, appointment_date_problem(day))
    clinician_id = int_arg("clinician")
    if clinician_id is not None and bookable_clinician(clinician_id) is None:
        abort(404)
    page = calendar_page(current_user, view, day or practice_today(), clinician_id)
    db.session.commit()  # requests whose time passed were marked expired
    return render_template(
        "scheduling/staff_calendar.html",
        page=page,
        clinicians=offering_staff(),
        clinician_id=clinician_id,
        today=practice_today(),
        pending=pending_count(current_user),
    )


def _booking_page(form, occurrences=None, status: int | None = None):
    services = list_services(active_only=True)
    form.client_id.choices = choices((c.id, c.display_name) for c in bookable_clients(current_user))
    clinicians = offering_staff()
    form.clinician_id.choices = clinician_choices(clinicians)
    form.service_id.choices = choices((s.id, f"{s.name} ({s.duration_minutes} min)") for s in services)
    chosen = next((s for s in services if s.id == form.service_id.data), None)
    if chosen is not None:  # preselect someone who offers the chosen service
        clinician = clinician_for(chosen, [form.clinician_id.data])
        if clinician is not None:
            form.clinician_id.data = clinician.id
    page = render_template(
        "scheduling/staff_appointment_form.html",
        form=form,
        zone=practice_zone().key,
        # For the page's script: who offers each service (it preselects one on a change of service).
        offered_by={str(s.id): [user.id for user in s.clinicians if user in clinicians] for s in services},
        occurrences=occurrences,
    )
    return page, status or form_status(form)


def _first_service_of(clinician_id: int | None) -> int | None:
    """The service the form starts with when none was asked for: the first the clinician offers."""
    services = list_services(active_only=True)
    offered = [s for s in services if clinician_id in {user.id for user in s.clinicians}]
    candidates = offered or services
    return candidates[0].id if candidates else None


@bp.route("/calendar/new", methods=["GET", "POST"])
@staff_required()
def new_appointment():
    if request.method == "GET":
        day = date_arg("date")
        prefill = {"on_date": day if day is not None and in_appointment_window(day) else practice_today()}
        if int_arg("client") is not None:
            prefill["client_id"] = int_arg("client")
        prefill["clinician_id"] = int_arg("clinician") or current_user.id
        prefill["service_id"] = int_arg("service") or _first_service_of(prefill["clinician_id"])
        return _booking_page(AppointmentForm(formdata=None, data=prefill))
    form = AppointmentForm()
    if not form.validate_on_submit():
        return _booking_page(form)
    client = client_for_staff(current_user, form.client_id.data)
    clinician = bookable_clinician(form.clinician_id.data)
    chosen = db.session.get(Service, form.service_id.data) if form.service_id.data else None
    if client is None or clinician is None or chosen is None:
        abort(404)  # another practice's id, or a client this person may not see
    if form.repeat.data:
        return series_views.book_from_form(form, client, clinician, chosen, _booking_page)
    return carry_out(
        lambda: appointments.create_appointment(
            current_user,
            client,
            clinician,
            chosen,
            form.on_date.data,
            form.at_time.data,
            duration_minutes=form.duration_minutes.data,
            alert=form.alert.data,
        ),
        success=f"Booked: {client.display_name} with {clinician.name}. Invites were sent.",
        then=lambda booked: redirect(url_for("scheduling.appointment", appointment_id=booked.id)),
        form=form,
        invalid=lambda: _booking_page(form),
        back=url_for("scheduling.calendar", view="day", date=form.on_date.data.isoformat()),
    )


def _appointment_or_404(appointment_id: int):
    appointment = appointment_for_staff(current_user, appointment_id)
    if appointment is None:
        abort(404)  # another practice's, or neither theirs nor an assigned client's
    return appointment


def _appointment_page(appointment, move_form=None, cancel_form=None, status: int = 200):
    zone = practice_zone()
    local = appointment.starts_at.astimezone(zone)
    move_form = move_form or MoveForm(
        formdata=None, data={"version": appointment.version, "on_date": local.date(), "at_time": local.time()}
    )
    group = appointments.group_members(appointment)
    return (
        render_template(
            "scheduling/staff_appointment.html",
            appointment=appointment,
            starts=local,
            ends=appointment.ends_at.astimezone(zone),
            minutes=int((appointment.ends_at - appointment.starts_at).total_seconds() // 60),
            zone=zone.key,
            move_form=move_form,
            cancel_form=cancel_form or CancelForm(formdata=None, data={"version": appointment.version}),
            requests=requests_of(appointment),
            request_kinds=REQUEST_KINDS,
            may_open_client=client_for_staff(current_user, appointment.client_id) is not None,
            group=group,
            # Clinicians and interns see the names of their own clients only.
            group_visible={
                member.client_id
                for member in group
                if client_for_staff(current_user, member.client_id) is not None
            },
            group_form=GroupForm(),
            group_candidates=bookable_clients(current_user),
            actions=appointment_actions(appointment, "staff"),
        ),
        status,
    )


@bp.get("/calendar/appointments/<int:appointment_id>")
@staff_required()
def appointment(appointment_id: int):
    return _appointment_page(_appointment_or_404(appointment_id))


@bp.post("/calendar/appointments/<int:appointment_id>/group")
@staff_required()
def add_to_group(appointment_id: int):
    """Make a group appointment: add another client (one the staff member may see) to this one."""
    appointment = _appointment_or_404(appointment_id)
    form = GroupForm()
    if not form.validate_on_submit():
        abort(400)
    client = client_for_staff(current_user, form.client_id.data or 0)
    if client is None:
        abort(404)
    back = url_for("scheduling.appointment", appointment_id=appointment_id)
    return carry_out(
        lambda: appointments.add_client_to_group(current_user, appointment, client),
        success=f"{client.display_name} was added to this appointment.",
        then=back,
        back=back,
    )


def _version(form) -> int:
    raw = (form.version.data or "").strip()
    if not raw.isdigit() or len(raw) > 9:
        abort(400)
    return int(raw)


def _appointment_change(appointment_id: int, form, form_name: str, change, success: str):
    """A form posted from an appointment's page (`form_name` there): until it is valid, or when
    `change()` is refused, the page again with the form and 400; done, back to the page."""
    back = url_for("scheduling.appointment", appointment_id=appointment_id)
    return carry_out_form(
        form,
        change,
        page=lambda: _appointment_page(_appointment_or_404(appointment_id), status=400, **{form_name: form}),
        success=success,
        then=back,
        back=back,
    )


@bp.post("/calendar/appointments/<int:appointment_id>/move")
@staff_required()
def move_appointment(appointment_id: int):
    appointment = _appointment_or_404(appointment_id)
    form = MoveForm()
    return _appointment_change(
        appointment_id,
        form,
        "move_form",
        lambda: appointments.move_appointment(
            current_user,
            appointment,
            form.on_date.data,
            form.at_time.data,
            version=_version(form),
            duration_minutes=form.duration_minutes.data,
        ),
        "The appointment was moved. Updated invites were sent.",
    )


@bp.post("/calendar/appointments/<int:appointment_id>/cancel")
@staff_required()
def cancel_appointment(appointment_id: int):
    appointment = _appointment_or_404(appointment_id)
    form = CancelForm()
    return _appointment_change(
        appointment_id,
        form,
        "cancel_form",
        lambda: appointments.cancel_appointment(current_user, appointment, version=_version(form)),
        "The appointment was cancelled. Cancellations were sent.",
    )
