"""Client portal views of scheduling: the appointments page, book (or request), reschedule, cancel.

Which of these a client gets follows the practice's toggles (`operations.portal.booking_mode` & co.);
every appointment id is looked up within the record the viewer has open, so another client's id is
404. A preview may look but not change (403).
"""

from __future__ import annotations

from datetime import datetime
from itertools import groupby
from zoneinfo import ZoneInfo

from flask import abort, flash, redirect, render_template, request, url_for

from app.errors import refuse
from app.web import carry_out
from blueprints.portal.viewer import current_viewer, portal_page
from blueprints.scheduling import bp
from blueprints.scheduling.models import Appointment, Service
from blueprints.scheduling.operations import portal as rules
from blueprints.scheduling.operations.availability import available_slots
from blueprints.scheduling.operations.visibility import (
    client_appointment,
    past_for_client,
    pending_requests_for_client,
    upcoming_for_client,
)
from blueprints.scheduling.portal_forms import SlotForm
from tenants.database import db
from tenants.features import practice_settings, practice_zone

PICK_A_TIME = rules.PICK_A_TIME

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


def _change_page(template: str, appointment: Appointment, refusal, mode: str, form, **more):
    """The page of a change to one of the viewer's appointments (reschedule, cancel)."""
    return render_template(
        template,
        viewer=current_viewer(),
        appointment=appointment,
        refusal=refusal,
        zone=_viewer_zone(),
        mode=mode,
        form=form,
        **more,
    )


def _own_appointment(appointment_id: int) -> Appointment:
    appointment = client_appointment(current_viewer().client.id, appointment_id)
    if appointment is None:
        abort(404)
    return appointment


def _done(action: str):
    flash(DONE[action], "success")
    return redirect(url_for("scheduling.portal_appointments"))


def _slots_by_day(slots, zone_name: str):
    zone = ZoneInfo(zone_name)
    return [(day, list(items)) for day, items in groupby(slots, key=lambda s: s.astimezone(zone).date())]


def _parse_start(raw: str) -> datetime:
    try:
        moment = datetime.fromisoformat(raw or "")
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        refuse(400, "That time could not be read. " + PICK_A_TIME)
    return moment


@bp.get("/portal/appointments")
@portal_page("appointments")
def portal_appointments():
    viewer = current_viewer()
    settings = practice_settings()
    upcoming = upcoming_for_client(viewer.client.id)
    return render_template(
        "portal/appointments.html",
        viewer=viewer,
        settings=settings,
        # Inside the cancellation window the Cancel button gives way to the practice's contact details.
        too_late={a.id for a in upcoming if rules.cancellation_refusal(a, settings)},
        zone=_viewer_zone(),
        upcoming=upcoming,
        past=past_for_client(viewer.client.id),
        requests=pending_requests_for_client(viewer.client.id),
        booking_mode=rules.booking_mode(),
        reschedule_mode=rules.reschedule_mode(),
        cancel_mode=rules.cancel_mode(),
    )


@bp.get("/portal/book")
@portal_page("appointments")
def book_start():
    mode = rules.booking_mode()
    if mode is None:
        abort(404)
    viewer, settings = current_viewer(), practice_settings()
    services = rules.bookable_services()
    chosen = db.session.get(Service, request.args.get("service", type=int) or 0)
    if chosen is not None and chosen not in services:
        abort(404)
    clinicians = rules.clinician_choices(viewer.client, chosen, settings) if chosen else []
    clinician = next((c for c in clinicians if c.id == request.args.get("clinician", type=int)), None)
    if clinician is None and len(clinicians) == 1:
        clinician = clinicians[0]
    days = []
    if chosen and clinician:
        days = _slots_by_day(available_slots(clinician.id, chosen), _viewer_zone())
    return render_template(
        "scheduling/portal_book.html",
        viewer=viewer,
        mode=mode,
        services=services,
        chosen=chosen,
        clinicians=clinicians,
        clinician=clinician,
        days=days,
        zone=_viewer_zone(),
        form=SlotForm(),
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
    starts_at = _parse_start(form.starts_at.data)
    return carry_out(
        lambda: rules.client_book(viewer.audit_actor, viewer.client, clinician, chosen, starts_at),
        then=_done,
        back=url_for("scheduling.book_start", service=chosen.id, clinician=clinician.id),
    )


@bp.route("/portal/appointments/<int:appointment_id>/reschedule", methods=["GET", "POST"])
@portal_page("appointments")
def reschedule(appointment_id: int):
    mode = rules.reschedule_mode()
    if mode is None:
        abort(404)
    appointment = _own_appointment(appointment_id)
    refusal = rules.client_reschedule_refusal(appointment)
    form = SlotForm()
    if refusal is None and request.method == "POST":
        viewer = _poster(form, PICK_A_TIME)
        starts_at = _parse_start(form.starts_at.data)
        return carry_out(
            lambda: rules.client_reschedule(viewer.audit_actor, viewer.client, appointment, starts_at),
            then=_done,
            back=url_for("scheduling.reschedule", appointment_id=appointment_id),
        )
    days = _slots_by_day(rules.reschedule_slots(appointment), _viewer_zone()) if refusal is None else []
    page = _change_page("scheduling/portal_reschedule.html", appointment, refusal, mode, form, days=days)
    return page, (200 if refusal is None else 409)


@bp.route("/portal/appointments/<int:appointment_id>/cancel", methods=["GET", "POST"])
@portal_page("appointments")
def cancel(appointment_id: int):
    mode = rules.cancel_mode()
    if mode is None:
        abort(404)
    appointment = _own_appointment(appointment_id)
    settings = practice_settings()
    refusal = rules.cancellation_refusal(appointment, settings)
    form = SlotForm()
    if refusal is None and request.method == "POST":
        viewer = _poster(form, "This form has expired. Please reload the page and try again.")
        return carry_out(
            lambda: rules.client_cancel(viewer.audit_actor, viewer.client, appointment),
            then=_done,
            back=url_for("scheduling.cancel", appointment_id=appointment_id),
        )
    return _change_page("scheduling/portal_cancel.html", appointment, refusal, mode, form, settings=settings)
