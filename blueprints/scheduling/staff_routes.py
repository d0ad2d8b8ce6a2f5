"""Staff views of scheduling: services, availability, the calendar, appointment requests and private
calendar feeds. Views parse, call `staff_service` and render; the rules live there.

Any id this person may not see (another practice's, a client not assigned to them) answers 404;
a page their role may not use answers 403; a time someone else took, or an edit someone else made
first, answers 409 with nothing changed.
"""

from __future__ import annotations

from datetime import date

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from app.errors import refuse
from app.extensions import limiter
from app.nav import register_nav
from app.web import form_status, staff_required
from blueprints.people.operations.access import client_for_staff
from blueprints.scheduling import bp, service
from blueprints.scheduling import staff_service as rules
from blueprints.scheduling.forms import (
    ActionForm,
    AppointmentForm,
    ApproveForm,
    CancelForm,
    ClinicianScheduleForm,
    DeclineForm,
    ExceptionForm,
    GroupForm,
    MoveForm,
    PracticeDefaultsForm,
    RequestFilterForm,
    ServiceForm,
    WeeklyRangeForm,
    choices,
)
from blueprints.scheduling.models import Service
from blueprints.scheduling.service import SchedulingError, SlotTaken, StaleAppointment
from tenants.addresses import practice_url
from tenants.context import current_practice
from tenants.database import db
from tenants.features import is_enabled, practice_settings

FEED_LIMIT = "60 per minute"


# ---------------------------------------------------------------------------------------------
# Navigation
# ---------------------------------------------------------------------------------------------


def _is_staff() -> bool:
    return current_user.is_authenticated and current_user.is_staff


def _staff_in(roles):
    def visible() -> bool:
        return _is_staff() and current_user.role in roles

    return visible


def requests_label() -> str:
    try:
        count = rules.pending_count(current_user)
    except SQLAlchemyError:  # an error page after a failed transaction: no count, still a link
        return "Requests"
    return f"Requests ({count})"


register_nav("staff", "Calendar", "scheduling.calendar", _is_staff, order=12)
register_nav("staff", requests_label, "scheduling.requests", _is_staff, order=14)
register_nav("staff", "Services", "scheduling.services", _staff_in(rules.MANAGE_SERVICES), order=70)
register_nav(
    "staff",
    "Availability",
    "scheduling.availability",
    _staff_in(rules.MANAGE_PRACTICE_HOURS + rules.OFFERING_ROLES),
    order=72,
)


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def _attach(form, problems: dict[str, str]) -> None:
    """Show a rule's refusals next to their fields (or above the form)."""
    for name, message in problems.items():
        field = form._fields.get(name)
        if field is not None:
            field.errors = [*field.errors, message]
        else:
            form.form_errors.append(message)


def _conflict(message: str, back: str):
    """409: someone else got there first; nothing was changed."""
    db.session.rollback()
    return render_template("scheduling/staff_conflict.html", message=message, back=back), 409


def _int_arg(name: str) -> int | None:
    raw = request.args.get(name, "").strip()
    if not raw or raw == "all":
        return None
    if not raw.isdigit() or len(raw) > 18:
        abort(400)
    return int(raw)


def _clinician_choices(clinicians, blank: str | None = None):
    pairs = [(user.id, user.name) for user in clinicians]
    return choices([("", blank), *pairs] if blank is not None else pairs)


# ---------------------------------------------------------------------------------------------
# Services (owner and admin)
# ---------------------------------------------------------------------------------------------


def _service_or_404(service_id: int) -> Service:
    item = db.session.get(Service, service_id)
    if item is None:
        abort(404)
    return item


@bp.get("/services")
@staff_required(*rules.MANAGE_SERVICES)
def services():
    return render_template(
        "scheduling/staff_services.html", services=rules.list_services(), price=rules.format_price
    )


def _service_page(form, item: Service | None):
    form.clinician_ids.choices = _clinician_choices(rules.offering_staff())
    if request.method == "POST":
        valid = form.validate_on_submit()
        problems = rules.service_problems(item, form.values())
        _attach(form, {name: message for name, message in problems.items() if not form[name].errors})
        if valid and not problems:
            saved = rules.save_service(current_user, item, form.values())
            db.session.commit()
            flash(f"Saved: {saved.name}.", "success")
            return redirect(url_for("scheduling.services"))
    return render_template("scheduling/staff_service_form.html", form=form, item=item), form_status(form)


@bp.route("/services/new", methods=["GET", "POST"])
@staff_required(*rules.MANAGE_SERVICES)
def new_service():
    return _service_page(ServiceForm(), None)


@bp.route("/services/<int:service_id>", methods=["GET", "POST"])
@staff_required(*rules.MANAGE_SERVICES)
def edit_service(service_id: int):
    item = _service_or_404(service_id)
    form = ServiceForm(
        data=None
        if request.method == "POST"
        else {
            "name": item.name,
            "duration_minutes": item.duration_minutes,
            "service_code": item.service_code or "",
            "price": rules.format_price(item.price_cents),
            "bookable_online": item.bookable_online,
            "is_active": item.is_active,
            "clinician_ids": [user.id for user in item.clinicians],
        }
    )
    return _service_page(form, item)


# ---------------------------------------------------------------------------------------------
# Availability: the practice's hours and defaults (owner, admin); a clinician's own
# ---------------------------------------------------------------------------------------------


def _target(user_id: int | None):
    """None for the practice's hours (owner, admin: else 403); a clinician they may manage (else 404)."""
    if user_id is None:
        if current_user.role not in rules.MANAGE_PRACTICE_HOURS:
            abort(403)
        return None
    clinician = rules.availability_owner(current_user, user_id)
    if clinician is None:
        abort(404)
    return clinician


def _first_error(form) -> str | None:
    return form.form_errors[0] if form.form_errors else None


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
        context["clinicians"] = rules.offering_staff()
        template = "scheduling/staff_availability.html"
    else:
        schedule = rules.clinician_schedule(clinician)
        context["schedule"] = schedule
        context["schedule_form"] = forms.get("schedule_form") or ClinicianScheduleForm(
            formdata=None,
            data={"uses_own_hours": schedule.uses_own_hours}
            | {name: getattr(schedule, name) for name in rules.SCHEDULE_NUMBERS},
        )
        context["may_manage_practice"] = current_user.role in rules.MANAGE_PRACTICE_HOURS
        template = "scheduling/staff_clinician_availability.html"
    return render_template(template, **context), status


def _back_to(clinician):
    if clinician is None:
        return redirect(url_for("scheduling.availability"))
    return redirect(url_for("scheduling.clinician_availability", user_id=clinician.id))


@bp.get("/availability")
@staff_required()
def availability():
    if current_user.role not in rules.MANAGE_PRACTICE_HOURS:
        if current_user.role in rules.OFFERING_ROLES:
            return redirect(url_for("scheduling.clinician_availability", user_id=current_user.id))
        abort(403)
    return _availability_page(None)


@bp.get("/availability/clinicians/<int:user_id>")
@staff_required()
def clinician_availability(user_id: int):
    return _availability_page(_target(user_id))


def _availability_change(clinician, form, form_name: str | None, change, done: str):
    """Run `change()` for a POST of the availability pages: 403, 400 with the messages, or done."""
    forms = {form_name: form} if form_name else {}
    if not form.validate_on_submit():
        if not form_name:
            form.form_errors.append("That form was incomplete. Please try again.")
        return _availability_page(clinician, 400, error=_first_error(form), **forms)
    try:
        change()
    except PermissionError:
        abort(403)
    except rules.Problems as error:
        db.session.rollback()
        _attach(form, error.problems)
        return _availability_page(clinician, 400, error=_first_error(form), **forms)
    db.session.commit()
    flash(done, "success")
    return _back_to(clinician)


@bp.post("/availability/hours", defaults={"user_id": None})
@bp.post("/availability/clinicians/<int:user_id>/hours")
@staff_required()
def add_hours(user_id: int | None):
    clinician = _target(user_id)
    form = WeeklyRangeForm()
    return _availability_change(
        clinician,
        form,
        "range_form",
        lambda: rules.add_weekly_range(
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
    return _availability_change(
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
    return _availability_change(
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
    return _availability_change(
        clinician,
        ActionForm(),
        None,
        lambda: rules.remove_exception(current_user, clinician, exception),
        "The date exception was removed.",
    )


@bp.post("/availability/defaults")
@staff_required(*rules.MANAGE_PRACTICE_HOURS)
def practice_defaults():
    form = PracticeDefaultsForm()
    return _availability_change(
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
    return _availability_change(
        clinician,
        form,
        "schedule_form",
        lambda: rules.update_clinician_schedule(
            current_user, clinician, form.uses_own_hours.data, form.values()
        ),
        "The scheduling settings were saved.",
    )


# ---------------------------------------------------------------------------------------------
# The staff calendar
# ---------------------------------------------------------------------------------------------


def _date_arg(name: str) -> date | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        return None


@bp.get("/calendar")
@staff_required()
def calendar():
    view = "day" if request.args.get("view") == "day" else "week"
    day = _date_arg("date")
    if request.args.get("date") and day is None:
        refuse(400, "Use a date like 2031-06-02.")
    clinician_id = _int_arg("clinician")
    if clinician_id is not None and rules.bookable_clinician(clinician_id) is None:
        abort(404)
    rules_page = rules.calendar(current_user, view, day or rules.practice_today(), clinician_id)
    db.session.commit()  # requests whose time passed were marked expired
    return render_template(
        "scheduling/staff_calendar.html",
        page=rules_page,
        clinicians=rules.offering_staff(),
        clinician_id=clinician_id,
        today=rules.practice_today(),
        pending=rules.pending_count(current_user),
    )


def _booking_page(form, status: int | None = None):
    form.client_id.choices = choices((c.id, c.display_name) for c in rules.bookable_clients(current_user))
    form.clinician_id.choices = _clinician_choices(rules.offering_staff())
    form.service_id.choices = choices(
        (s.id, f"{s.name} ({s.duration_minutes} min)") for s in rules.list_services(active_only=True)
    )
    return (
        render_template("scheduling/staff_appointment_form.html", form=form, zone=rules.practice_zone().key),
        status or form_status(form),
    )


@bp.route("/calendar/new", methods=["GET", "POST"])
@staff_required()
def new_appointment():
    if request.method == "GET":
        prefill = {"on_date": _date_arg("date") or rules.practice_today()}
        if _int_arg("client") is not None:
            prefill["client_id"] = _int_arg("client")
        prefill["clinician_id"] = _int_arg("clinician") or current_user.id
        return _booking_page(AppointmentForm(formdata=None, data=prefill))
    form = AppointmentForm()
    if not form.validate_on_submit():
        return _booking_page(form)
    client = client_for_staff(current_user, form.client_id.data)
    clinician = rules.bookable_clinician(form.clinician_id.data)
    chosen = db.session.get(Service, form.service_id.data) if form.service_id.data else None
    if client is None or clinician is None or chosen is None:
        abort(404)  # another practice's id, or a client this person may not see
    taken = (
        f"{clinician.name} already has an appointment at that time (buffers included). "
        "Nothing was booked. Please choose another time."
    )
    back = url_for("scheduling.calendar", view="day", date=form.on_date.data.isoformat())
    try:
        starts_at = rules.local_instant(form.on_date.data, form.at_time.data)
        appointment = rules.create_appointment(
            current_user,
            client,
            clinician,
            chosen,
            starts_at,
            duration_minutes=form.duration_minutes.data,
            alert=form.alert.data,
        )
    except rules.Problems as error:
        db.session.rollback()
        _attach(form, error.problems)
        return _booking_page(form)
    except SlotTaken:
        return _conflict(taken, back)  # the failed booking's transaction is gone: names read before
    except SchedulingError as error:
        db.session.rollback()
        _attach(form, {"service_id": str(error)})
        return _booking_page(form)
    db.session.commit()
    flash(f"Booked: {client.display_name} with {clinician.name}. Invites were sent.", "success")
    return redirect(url_for("scheduling.appointment", appointment_id=appointment.id))


def _appointment_or_404(appointment_id: int):
    appointment = rules.appointment_for_staff(current_user, appointment_id)
    if appointment is None:
        abort(404)  # another practice's, or neither theirs nor an assigned client's
    return appointment


def _appointment_page(appointment, move_form=None, cancel_form=None, status: int = 200):
    zone = rules.practice_zone()
    local = appointment.starts_at.astimezone(zone)
    move_form = move_form or MoveForm(
        formdata=None, data={"version": appointment.version, "on_date": local.date(), "at_time": local.time()}
    )
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
            requests=rules.requests_of(appointment),
            request_kinds=rules.REQUEST_KINDS,
            may_open_client=client_for_staff(current_user, appointment.client_id) is not None,
            group=service.group_members(appointment),
            # Clinicians and interns see the names of their own clients only.
            group_visible={
                member.client_id
                for member in service.group_members(appointment)
                if client_for_staff(current_user, member.client_id) is not None
            },
            group_form=GroupForm(),
            group_candidates=rules.bookable_clients(current_user),
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
    try:
        service.add_to_group(appointment, client)
    except service.SchedulingError as error:
        db.session.rollback()
        refuse(409, str(error))
    db.session.commit()
    flash(f"{client.display_name} was added to this appointment.", "success")
    return redirect(url_for("scheduling.appointment", appointment_id=appointment_id))


def _version(form) -> int:
    raw = (form.version.data or "").strip()
    if not raw.isdigit() or len(raw) > 9:
        abort(400)
    return int(raw)


STALE = "Someone else changed this appointment first. Nothing was changed: reload it and try again."


@bp.post("/calendar/appointments/<int:appointment_id>/move")
@staff_required()
def move_appointment(appointment_id: int):
    appointment = _appointment_or_404(appointment_id)
    back = url_for("scheduling.appointment", appointment_id=appointment_id)
    form = MoveForm()
    if not form.validate_on_submit():
        return _appointment_page(appointment, move_form=form, status=400)
    try:
        starts_at = rules.local_instant(form.on_date.data, form.at_time.data)
        rules.move_appointment(
            current_user,
            appointment,
            starts_at,
            version=_version(form),
            duration_minutes=form.duration_minutes.data,
        )
    except rules.Problems as error:
        db.session.rollback()
        _attach(form, error.problems)
        return _appointment_page(_appointment_or_404(appointment_id), move_form=form, status=400)
    except StaleAppointment:
        return _conflict(STALE, back)
    except SlotTaken:
        return _conflict(
            "That time is already taken for this clinician (buffers included). "
            "The appointment was not moved. Please choose another time.",
            back,
        )
    except SchedulingError as error:  # includes "already cancelled"
        return _conflict(str(error), back)
    db.session.commit()
    flash("The appointment was moved. Updated invites were sent.", "success")
    return redirect(back)


@bp.post("/calendar/appointments/<int:appointment_id>/cancel")
@staff_required()
def cancel_appointment(appointment_id: int):
    appointment = _appointment_or_404(appointment_id)
    back = url_for("scheduling.appointment", appointment_id=appointment_id)
    form = CancelForm()
    if not form.validate_on_submit():
        return _appointment_page(appointment, cancel_form=form, status=400)
    try:
        rules.cancel_appointment(current_user, appointment, version=_version(form))
    except StaleAppointment:
        return _conflict(STALE, back)
    except SchedulingError as error:
        return _conflict(str(error), back)
    db.session.commit()
    flash("The appointment was cancelled. Cancellations were sent.", "success")
    return redirect(back)


# ---------------------------------------------------------------------------------------------
# Appointment requests
# ---------------------------------------------------------------------------------------------


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
    clinicians = rules.offering_staff() if rules.sees_everything(current_user) else [current_user]
    form.clinician.choices = _clinician_choices(clinicians, blank="All clinicians")
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
        elif rules.bookable_clinician(int(raw_clinician)) is None:
            abort(404)  # another practice's id
        else:
            filters.clinician_id = int(raw_clinician)
    problems = rules.filter_problems(filters)
    if problems or not valid:
        _attach(form, problems)
        filters = defaults
    found = rules.list_requests(current_user, filters)
    db.session.commit()  # requests whose time passed were marked expired
    return render_template(
        "scheduling/staff_requests.html",
        form=form,
        found=found,
        kinds=rules.REQUEST_KINDS,
        zone=rules.practice_zone(),
        sees_everything=rules.sees_everything(current_user),
    ), form_status(form)


def _request_or_404(request_id: int, lock: bool = False):
    item = rules.request_for_staff(current_user, request_id, lock=lock)
    if item is None:
        abort(404)  # another practice's, or a request for another clinician
    return item


def _request_page(item, approve_form=None, decline_form=None, status: int = 200):
    if approve_form is None:
        approve_form = ApproveForm(formdata=None, data={"service_id": item.service_id})
    services = rules.services_offered_by(item.clinician_user_id)
    if all(s.id != item.service_id for s in services):
        services.insert(0, item.service)
    approve_form.service_id.choices = choices(
        (s.id, f"{s.name} ({s.duration_minutes} min)") for s in services
    )
    zone = rules.practice_zone()
    return (
        render_template(
            "scheduling/staff_request.html",
            item=item,
            approve_form=approve_form,
            decline_form=decline_form or DeclineForm(formdata=None),
            kinds=rules.REQUEST_KINDS,
            zone=zone,
        ),
        status,
    )


@bp.get("/requests/<int:request_id>")
@staff_required()
def request_detail(request_id: int):
    item = _request_or_404(request_id)
    service.expire_past_requests()
    db.session.commit()
    return _request_page(item)


@bp.post("/requests/<int:request_id>/approve")
@staff_required()
def approve_request(request_id: int):
    item = _request_or_404(request_id, lock=True)
    back = url_for("scheduling.request_detail", request_id=request_id)
    form = ApproveForm()
    if not form.validate_on_submit():
        return _request_page(item, approve_form=form, status=400)
    try:
        appointment = rules.approve(
            current_user,
            item,
            service_id=form.service_id.data,
            service_code=form.service_code.data,
            duration_minutes=form.duration_minutes.data,
            alert=form.alert.data,
        )
    except rules.Problems as error:
        db.session.rollback()
        _attach(form, error.problems)
        return _request_page(_request_or_404(request_id), approve_form=form, status=400)
    except rules.Conflict as error:
        db.session.commit()  # keeps an expiry that was just noticed
        return render_template("scheduling/staff_conflict.html", message=str(error), back=back), 409
    except SlotTaken:
        return _conflict(
            "That time is already taken for this clinician (buffers included). "
            "The request is still pending: decline it, or book another time.",
            back,
        )
    except StaleAppointment:
        return _conflict(STALE, back)
    except SchedulingError as error:
        db.session.rollback()
        form.form_errors.append(str(error))
        return _request_page(_request_or_404(request_id), approve_form=form, status=400)
    db.session.commit()
    flash("The request was approved and the client was emailed.", "success")
    if appointment is not None and appointment.status == "booked":
        return redirect(url_for("scheduling.appointment", appointment_id=appointment.id))
    return redirect(url_for("scheduling.requests"))


@bp.post("/requests/<int:request_id>/decline")
@staff_required()
def decline_request(request_id: int):
    item = _request_or_404(request_id, lock=True)
    form = DeclineForm()
    if not form.validate_on_submit():
        return _request_page(item, decline_form=form, status=400)
    try:
        rules.decline(current_user, item, notify=form.notify.data, message=form.message.data)
    except rules.Problems as error:
        db.session.rollback()
        _attach(form, error.problems)
        return _request_page(_request_or_404(request_id), decline_form=form, status=400)
    except rules.Conflict as error:
        db.session.commit()
        back = url_for("scheduling.request_detail", request_id=request_id)
        return render_template("scheduling/staff_conflict.html", message=str(error), back=back), 409
    db.session.commit()
    flash("The request was declined" + (" and the client was told." if form.notify.data else "."), "success")
    return redirect(url_for("scheduling.requests"))


# ---------------------------------------------------------------------------------------------
# Private calendar feeds
# ---------------------------------------------------------------------------------------------


def _feed_page(url: str | None = None):
    return render_template(
        "scheduling/staff_feed.html",
        feed=rules.active_feed(current_user),
        url=url,
        webcal=url.replace("https://", "webcal://").replace("http://", "webcal://") if url else None,
        form=ActionForm(),
    )


@bp.get("/calendar/feed")
@staff_required()
def feed():
    return _feed_page()


@bp.post("/calendar/feed")
@staff_required()
def create_feed():
    if not ActionForm().validate_on_submit():
        abort(400)
    raw = rules.create_feed(current_user)
    db.session.commit()
    # Shown once, on this page only (never in a redirect, a flash message or the log).
    return _feed_page(practice_url(current_practice().slug, f"/feeds/{raw}.ics"))


@bp.post("/calendar/feed/revoke")
@staff_required()
def revoke_feed():
    if not ActionForm().validate_on_submit():
        abort(400)
    revoked = rules.revoke_feed(current_user)
    db.session.commit()
    flash("Your calendar feed was turned off." if revoked else "You had no calendar feed.", "success")
    return redirect(url_for("scheduling.feed"))


@bp.get("/feeds/<token>.ics")
@limiter.limit(FEED_LIMIT)
def calendar_feed(token: str):
    user = rules.feed_owner(token)
    if user is None or (not user.is_staff and not is_enabled("portal")):
        abort(404)
    body = rules.feed_calendar(user)
    response = Response(body, mimetype="text/calendar")
    response.headers["Content-Disposition"] = 'inline; filename="appointments.ics"'
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
