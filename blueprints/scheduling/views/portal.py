"""Client portal views of scheduling: the appointments page, book (or request), reschedule, cancel.

Booking and rescheduling are a picker in steps, each a plain GET page that works without
JavaScript: the service (and clinician, where the client may choose), a month calendar whose days
with free times are links (`month=YYYY-MM`), that day's free times (`day=YYYY-MM-DD`), and a
confirmation of one time (`time=<ISO instant>`) whose form is the only POST. With JavaScript, a day's
times are fetched in place from the `…/times?day=` partial (`app/static/js/booking.js`).

Which of these a client gets follows the practice's toggles (`operations.portal.booking_mode` & co.);
every appointment id is looked up within the record the viewer has open, so another client's id is
404. A preview may look but not change (403).
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from app.errors import refuse
from app.web import carry_out
from blueprints.portal.viewer import current_viewer, portal_page
from blueprints.scheduling import bp
from blueprints.scheduling.models import Appointment, Service
from blueprints.scheduling.operations import portal as rules
from blueprints.scheduling.operations.picker import Picker
from blueprints.scheduling.operations.series import INTERVALS, client_series_allowed
from blueprints.scheduling.operations.visibility import (
    client_appointment,
    past_for_client,
    upcoming_for_client,
)
from blueprints.scheduling.places import appointment_actions
from blueprints.scheduling.portal_forms import SlotForm
from blueprints.scheduling.views import series as series_views
from blueprints.scheduling.views.picker import (
    PICK_A_TIME,
    PickerPage,
    confirmed,
    linker,
    parse_start,
    picker_page,
)
from tenants.database import db
from tenants.features import practice_settings, practice_zone

# What the client is told after each change (keyed by the operation's audit action).
DONE = {
    "booked appointment": "Your appointment is booked. A calendar invite is on its way.",
    "requested appointment": "Your request was sent. The practice will confirm it by email.",
    "moved group appointment": (
        "Your group appointment was moved for everyone. Updated invites are on their way."
    ),
    "moved appointment": "Your appointment was moved. An updated calendar invite is on its way.",
    "requested to move appointment": (
        "Your reschedule request was sent; your current time holds until it is approved."
    ),
    "cancelled appointment": "Your appointment was cancelled. Your calendar will be updated.",
    "requested to cancel appointment": "Your cancellation request was sent to the practice.",
}


def _viewer_zone() -> str:
    return practice_zone(current_viewer().client.time_zone).key


def _poster(form, unreadable: str):
    """The viewer posting `form`: a preview may look, not change (403); a form that does not
    validate is refused with `unreadable` (400)."""
    viewer = current_viewer()
    if viewer.read_only:
        abort(403)
    if not form.validate_on_submit():
        refuse(400, unreadable)
    return viewer


def _own_appointment(appointment_id: int) -> Appointment:
    appointment = client_appointment(current_viewer().client.id, appointment_id)
    if appointment is None:
        abort(404)
    return appointment


def _change_of(appointment_id: int, mode_of, refusal_of):
    """What a reschedule or cancel page starts from: the practice's mode for it (404 when the
    practice offers none), the viewer's own appointment (404 otherwise), why the rule refuses it
    (or None), and the page's form."""
    mode = mode_of()
    if mode is None:
        abort(404)
    appointment = _own_appointment(appointment_id)
    return mode, appointment, refusal_of(appointment), SlotForm()


def _done(action: str):
    flash(DONE[action], "success")
    return redirect(url_for("scheduling.portal_appointments"))


def _policy(settings) -> list[str]:
    """What the confirmation step says about cancelling."""
    mode, hours = rules.cancel_mode(), rules.hours(settings.cancellation_window_hours)
    lines = []
    if mode == "book":
        lines.append(f"You can cancel online up to {hours} before it starts.")
    elif mode == "request":
        lines.append(f"You can ask to cancel online up to {hours} before it starts.")
    else:
        lines.append("To cancel, please contact the practice.")
    if settings.cancellation_policy:
        lines.append(settings.cancellation_policy)
    return lines


# --- Pages ----------------------------------------------------------------------------------------


@bp.get("/portal/appointments")
@portal_page("appointments")
def portal_appointments():
    viewer = current_viewer()
    reschedule_mode, cancel_mode = rules.reschedule_mode(), rules.cancel_mode()
    upcoming = upcoming_for_client(viewer.client.id)
    # The same rules the changes check: a button is offered exactly when its change would be allowed.
    refusals = {
        appointment.id: (
            rules.client_reschedule_refusal(appointment) if reschedule_mode else None,
            rules.client_cancel_refusal(appointment) if cancel_mode else None,
        )
        for appointment in upcoming
    }
    # What features above scheduling offer (a session room's Join), never in a preview.
    actions = {} if viewer.read_only else {item.id: appointment_actions(item, "portal") for item in upcoming}
    return render_template(
        "portal/appointments.html",
        viewer=viewer,
        actions=actions,
        settings=practice_settings(),
        refusals=refusals,
        zone=_viewer_zone(),
        upcoming=upcoming,
        past=past_for_client(viewer.client.id),
        requests=rules.client_requests(viewer.client.id),
        booking_mode=rules.booking_mode(),
        reschedule_mode=reschedule_mode,
        cancel_mode=cancel_mode,
    )


def _booking_choice():
    """The service and clinician chosen so far (an only choice is chosen by itself), and the lists."""
    viewer, settings = current_viewer(), practice_settings()
    services = rules.bookable_services()
    wanted = request.args.get("service", type=int)
    chosen = db.session.get(Service, wanted) if wanted else (services[0] if len(services) == 1 else None)
    if chosen is not None and chosen not in services:
        abort(404)
    clinicians = rules.clinician_choices(viewer.client, chosen, settings) if chosen else []
    clinician = next((c for c in clinicians if c.id == request.args.get("clinician", type=int)), None)
    if clinician is None and len(clinicians) == 1:
        clinician = clinicians[0]
    return services, chosen, clinicians, clinician


def _booking_picker(chosen, clinician, with_month: bool = True) -> PickerPage:
    ids = {"service": chosen.id, "clinician": clinician.id}
    times = linker("scheduling.book_times", **ids)
    return picker_page(
        Picker.of(clinician.id, chosen.duration_minutes, _viewer_zone()),
        linker("scheduling.book_start", **ids),
        lambda day: times(day=day),
        with_month=with_month,
    )


@bp.get("/portal/book")
@portal_page("appointments")
def book_start():
    mode = rules.booking_mode()
    if mode is None:
        abort(404)
    services, chosen, clinicians, clinician = _booking_choice()
    page, problem, status = None, None, 200
    if chosen and clinician:
        page = _booking_picker(chosen, clinician)
        problem, status = confirmed(page)
    settings = practice_settings()
    return render_template(
        "scheduling/portal_book.html",
        viewer=current_viewer(),
        mode=mode,
        services=services,
        chosen=chosen,
        clinicians=clinicians,
        clinician=clinician,
        page=page,
        problem=problem,
        policy=_policy(settings),
        zone=_viewer_zone(),
        form=SlotForm(),
        # Clients may book this service as a recurring series (the confirmation step offers it).
        series_intervals=INTERVALS if chosen and mode == "book" and client_series_allowed(chosen) else None,
    ), status


@bp.get("/portal/book/times")
@portal_page("appointments")
def book_times():
    """The chosen day's times alone (the partial the picker's script puts in place)."""
    if rules.booking_mode() is None:
        abort(404)
    _, chosen, _, clinician = _booking_choice()
    if not (chosen and clinician):
        abort(404)
    return render_template(
        "scheduling/_day_times.html", page=_booking_picker(chosen, clinician, with_month=False)
    )


@bp.post("/portal/book")
@portal_page("appointments")
def book_submit():
    if rules.booking_mode() is None:
        abort(404)
    form = SlotForm()
    viewer = _poster(form, PICK_A_TIME)
    chosen = db.session.get(Service, form.service_id.data or 0)
    if chosen is None or chosen not in rules.bookable_services():
        abort(404)
    choices = rules.clinician_choices(viewer.client, chosen, practice_settings())
    clinician = next((c for c in choices if c.id == form.clinician_id.data), None)
    if clinician is None:
        abort(404)
    starts_at = parse_start(form.starts_at.data)
    if request.form.get("repeat", "0").strip() not in ("", "0"):
        return series_views.portal_book(viewer, clinician, chosen, starts_at, form)
    day = starts_at.astimezone(practice_zone(viewer.client.time_zone)).date().isoformat()
    return carry_out(
        lambda: rules.client_book(viewer.audit_actor, viewer.client, clinician, chosen, starts_at),
        then=_done,
        back=url_for("scheduling.book_start", service=chosen.id, clinician=clinician.id, day=day),
    )


def _reschedule_picker(appointment: Appointment, with_month: bool = True) -> PickerPage:
    times = linker("scheduling.reschedule_times", appointment_id=appointment.id)
    return picker_page(
        Picker.of(
            appointment.clinician_user_id,
            appointment.service.duration_minutes,
            _viewer_zone(),
            ignore_id=appointment.id,
        ),
        linker("scheduling.reschedule", appointment_id=appointment.id),
        lambda day: times(day=day),
        current=appointment.starts_at,
        with_month=with_month,
    )


@bp.route("/portal/appointments/<int:appointment_id>/reschedule", methods=["GET", "POST"])
@portal_page("appointments")
def reschedule(appointment_id: int):
    mode, appointment, refusal, form = _change_of(
        appointment_id, rules.reschedule_mode, rules.client_reschedule_refusal
    )
    if refusal is None and request.method == "POST":
        viewer = _poster(form, PICK_A_TIME)
        starts_at = parse_start(form.starts_at.data)
        day = starts_at.astimezone(practice_zone(viewer.client.time_zone)).date().isoformat()
        return carry_out(
            lambda: rules.client_reschedule(viewer.audit_actor, viewer.client, appointment, starts_at),
            then=_done,
            back=url_for("scheduling.reschedule", appointment_id=appointment_id, day=day),
        )
    page, problem, status = None, None, 409
    if refusal is None:
        page = _reschedule_picker(appointment)
        problem, status = confirmed(page)
    return render_template(
        "scheduling/portal_reschedule.html",
        viewer=current_viewer(),
        appointment=appointment,
        refusal=refusal,
        zone=_viewer_zone(),
        mode=mode,
        form=form,
        page=page,
        problem=problem,
        policy=_policy(practice_settings()),
    ), status


@bp.get("/portal/appointments/<int:appointment_id>/reschedule/times")
@portal_page("appointments")
def reschedule_times(appointment_id: int):
    if rules.reschedule_mode() is None:
        abort(404)
    appointment = _own_appointment(appointment_id)
    if rules.client_reschedule_refusal(appointment) is not None:
        abort(409)
    return render_template(
        "scheduling/_day_times.html", page=_reschedule_picker(appointment, with_month=False)
    )


@bp.route("/portal/appointments/<int:appointment_id>/cancel", methods=["GET", "POST"])
@portal_page("appointments")
def cancel(appointment_id: int):
    mode, appointment, refusal, form = _change_of(
        appointment_id, rules.cancel_mode, rules.client_cancel_refusal
    )
    if refusal is None and request.method == "POST":
        viewer = _poster(form, "This form has expired. Please reload the page and try again.")
        return carry_out(
            lambda: rules.client_cancel(viewer.audit_actor, viewer.client, appointment),
            then=_done,
            back=url_for("scheduling.cancel", appointment_id=appointment_id),
        )
    return render_template(
        "scheduling/portal_cancel.html",
        viewer=current_viewer(),
        appointment=appointment,
        refusal=refusal,
        zone=_viewer_zone(),
        mode=mode,
        form=form,
        settings=practice_settings(),
    )
