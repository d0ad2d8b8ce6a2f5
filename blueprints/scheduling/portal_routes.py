"""Client portal views of scheduling: book (or request), reschedule, cancel.

Which of these a client gets follows the practice's toggles (service.booking_mode & co.); every
appointment id is looked up within the record the viewer has open, so another client's id is 404.
"""

from __future__ import annotations

from datetime import datetime
from itertools import groupby
from zoneinfo import ZoneInfo

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from app.errors import refuse
from blueprints.audit.service import record
from blueprints.portal.viewer import current_viewer, portal_page
from blueprints.scheduling import bp, service
from blueprints.scheduling.models import Appointment, Service
from blueprints.scheduling.portal_forms import SlotForm
from tenants.database import db
from tenants.features import is_enabled, practice_settings


def _zone() -> str:
    viewer = current_viewer()
    return viewer.client.time_zone or practice_settings().time_zone or "UTC"


def _writable_viewer():
    viewer = current_viewer()
    if viewer.read_only:
        abort(403)
    return viewer


def _own_appointment(appointment_id: int) -> Appointment:
    appointment = db.session.scalars(
        select(Appointment).where(
            Appointment.id == appointment_id, Appointment.client_id == current_viewer().client.id
        )
    ).first()
    if appointment is None or appointment.status != "booked":
        abort(404)
    return appointment


def _carry_out(change, action: str, success: str):
    """Run one client change in this request's transaction: a scheduling refusal becomes a 409
    page with nothing changed; otherwise audit it, commit, and go back to the appointments."""
    viewer = current_viewer()
    try:
        appointment_id = change()
    except service.SchedulingError as error:  # SlotTaken included
        db.session.rollback()
        refuse(409, str(error))
    detail = f"appointment {appointment_id}" if appointment_id else None
    record(action, client_id=viewer.client.id, detail=detail, **viewer.audit_actor)
    db.session.commit()
    flash(success, "success")
    return redirect(url_for("portal.appointments"))


def _slots_by_day(slots, zone_name: str):
    zone = ZoneInfo(zone_name)
    return [(day, list(items)) for day, items in groupby(slots, key=lambda s: s.astimezone(zone).date())]


def _parse_start(raw: str) -> datetime:
    try:
        moment = datetime.fromisoformat(raw or "")
    except ValueError:
        refuse(400, "That time could not be read. Please pick a time from the list.")
    if moment.tzinfo is None:
        refuse(400, "That time could not be read. Please pick a time from the list.")
    return moment


@bp.get("/portal/book")
@portal_page("appointments")
def book_start():
    mode = service.booking_mode(is_enabled)
    if mode is None:
        abort(404)
    viewer, settings = current_viewer(), practice_settings()
    services = service.bookable_services()
    chosen = db.session.get(Service, request.args.get("service", type=int) or 0)
    if chosen is not None and chosen not in services:
        abort(404)
    clinicians = service.clinician_choices(viewer.client, chosen, settings) if chosen else []
    clinician = next((c for c in clinicians if c.id == request.args.get("clinician", type=int)), None)
    if clinician is None and len(clinicians) == 1:
        clinician = clinicians[0]
    days = []
    if chosen and clinician:
        days = _slots_by_day(service.available_slots(clinician.id, chosen), _zone())
    return render_template(
        "scheduling/portal_book.html",
        viewer=viewer,
        mode=mode,
        services=services,
        chosen=chosen,
        clinicians=clinicians,
        clinician=clinician,
        days=days,
        zone=_zone(),
        form=SlotForm(),
    )


@bp.post("/portal/book")
@portal_page("appointments")
def book_submit():
    mode = service.booking_mode(is_enabled)
    if mode is None:
        abort(404)
    viewer = _writable_viewer()
    form = SlotForm()
    if not form.validate_on_submit():
        refuse(400, "Please pick a time from the list.")
    chosen = db.session.get(Service, form.service_id.data or 0)
    if chosen is None or chosen not in service.bookable_services():
        abort(404)
    clinician = next(
        (
            c
            for c in service.clinician_choices(viewer.client, chosen, practice_settings())
            if c.id == form.clinician_id.data
        ),
        None,
    )
    if clinician is None:
        abort(404)
    starts_at = _parse_start(form.starts_at.data)
    if starts_at not in service.available_slots(clinician.id, chosen):
        refuse(409, "That time is no longer available. Please pick another.")
    if mode == "book":
        return _carry_out(
            lambda: service.book(viewer.client, clinician, chosen, starts_at).id,
            "booked appointment",
            "Your appointment is booked. A calendar invite is on its way.",
        )
    return _carry_out(
        lambda: service.request_new(viewer.client, clinician, chosen, starts_at, requested_by=None) and None,
        "requested appointment",
        "Your request was sent. The practice will confirm it by email.",
    )


@bp.route("/portal/appointments/<int:appointment_id>/reschedule", methods=["GET", "POST"])
@portal_page("appointments")
def reschedule(appointment_id: int):
    mode = service.reschedule_mode(is_enabled)
    if mode is None:
        abort(404)
    appointment = _own_appointment(appointment_id)
    refusal = service.reschedule_refusal(
        appointment, is_group_primary_contact=appointment.is_group_primary, settings=practice_settings()
    )
    form = SlotForm()
    if refusal is None and request.method == "POST":
        _writable_viewer()  # a preview may look, not change
        if not form.validate_on_submit():
            refuse(400, "Please pick a time from the list.")
        starts_at = _parse_start(form.starts_at.data)
        slots = service.available_slots(
            appointment.clinician_user_id, appointment.service, ignore_id=appointment.id
        )
        if starts_at not in slots:
            refuse(409, "That time is no longer available. Please pick another.")
        if mode == "book" and appointment.group_id is not None:
            return _carry_out(
                lambda: service.move(appointment, starts_at).id,
                "moved group appointment",
                "Your group appointment was moved for everyone. Updated invites are on their way.",
            )
        if mode == "book":
            return _carry_out(
                lambda: service.move(appointment, starts_at).id,
                "moved appointment",
                "Your appointment was moved. An updated calendar invite is on its way.",
            )
        return _carry_out(
            lambda: (
                service.request_change(appointment, "reschedule", starts_at=starts_at, requested_by=None)
                and appointment.id
            ),
            "requested to move appointment",
            "Your reschedule request was sent; your current time holds until it is approved.",
        )
    days = []
    if refusal is None:
        slots = service.available_slots(
            appointment.clinician_user_id, appointment.service, ignore_id=appointment.id
        )
        days = _slots_by_day(slots, _zone())
    return render_template(
        "scheduling/portal_reschedule.html",
        viewer=current_viewer(),
        appointment=appointment,
        refusal=refusal,
        days=days,
        zone=_zone(),
        mode=mode,
        form=form,
    ), (200 if refusal is None else 409)


@bp.route("/portal/appointments/<int:appointment_id>/cancel", methods=["GET", "POST"])
@portal_page("appointments")
def cancel(appointment_id: int):
    mode = service.cancel_mode(is_enabled)
    if mode is None:
        abort(404)
    appointment = _own_appointment(appointment_id)
    settings = practice_settings()
    refusal = service.cancellation_refusal(appointment, settings)
    form = SlotForm()
    if refusal is None and request.method == "POST":
        _writable_viewer()  # a preview may look, not change
        if not form.validate_on_submit():
            refuse(400, "This form has expired. Please reload the page and try again.")
        if mode == "book":
            return _carry_out(
                lambda: service.cancel(appointment) or appointment.id,
                "cancelled appointment",
                "Your appointment was cancelled. Your calendar will be updated.",
            )
        return _carry_out(
            lambda: service.request_change(appointment, "cancellation", requested_by=None) and appointment.id,
            "requested to cancel appointment",
            "Your cancellation request was sent to the practice.",
        )
    return render_template(
        "scheduling/portal_cancel.html",
        viewer=current_viewer(),
        appointment=appointment,
        refusal=refusal,
        settings=settings,
        zone=_zone(),
        mode=mode,
        form=form,
    )


@bp.route("/portal/calendar-feed", methods=["GET", "POST"])
@portal_page("appointments")
def client_feed():
    """A logged-in client's (or guardian's) private feed of the appointments they manage."""
    from flask_login import current_user

    from blueprints.scheduling import staff_service as feeds
    from tenants.addresses import practice_url
    from tenants.context import current_practice

    viewer = current_viewer()
    if viewer.user_id is None or viewer.read_only:
        abort(404)  # profile-link sessions and previews have no feed of their own
    form = SlotForm()
    url = None
    if request.method == "POST":
        if not form.validate_on_submit():
            refuse(400, "This form has expired. Please reload the page and try again.")
        if request.form.get("action") == "revoke":
            feeds.revoke_feed(current_user)
            flash("Your calendar feed was turned off.", "success")
        else:
            url = practice_url(current_practice().slug, f"/feeds/{feeds.create_feed(current_user)}.ics")
        db.session.commit()
    return render_template(
        "scheduling/portal_feed.html", viewer=viewer, feed=feeds.active_feed(current_user), url=url, form=form
    )
