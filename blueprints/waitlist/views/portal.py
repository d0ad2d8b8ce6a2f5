"""The client portal's waitlist: join (service, clinician or any, days, parts of day, dates, and
optionally an appointment to move earlier), see and leave one's entries. A guardian needs the
appointments grant; a preview may look, not change (403)."""

from __future__ import annotations

from flask import abort, render_template, url_for

from app.nav import register_nav
from app.refusals import Problems
from app.web import carry_out, carry_out_form
from blueprints.portal.viewer import current_viewer, portal_page
from blueprints.scheduling.models import Service
from blueprints.scheduling.operations.portal import bookable_services, clinician_choices
from blueprints.scheduling.operations.visibility import upcoming_for_client
from blueprints.waitlist import bp
from blueprints.waitlist.forms import ANY, ActionForm, JoinForm
from blueprints.waitlist.operations import entries as rules
from blueprints.waitlist.views.common import entry_labels, fill_join_choices
from tenants.database import db
from tenants.features import is_enabled, practice_settings, practice_today, practice_zone


def _in_nav() -> bool:
    if not is_enabled("waitlist"):
        return False
    viewer = current_viewer()
    return viewer is not None and viewer.permissions.appointments


register_nav("portal", "Waitlist", "waitlist.portal_waitlist", _in_nav, order=25)


def _clinicians(client) -> list:
    settings, found = practice_settings(), {}
    for service in bookable_services():
        for clinician in clinician_choices(client, service, settings):
            found.setdefault(clinician.id, clinician)
    return sorted(found.values(), key=lambda c: c.name)


@bp.route("/portal/waitlist", methods=["GET", "POST"])
@portal_page("appointments", feature="waitlist")
def portal_waitlist():
    viewer = current_viewer()
    form = JoinForm()
    upcoming = upcoming_for_client(viewer.client.id)
    fill_join_choices(
        form, bookable_services(), _clinicians(viewer.client), upcoming, viewer.client.time_zone
    )
    if not form.is_submitted():
        form.from_date.data = form.from_date.data or practice_today()

    def page():
        return render_template(
            "waitlist/portal.html",
            viewer=viewer,
            form=form,
            entries=rules.client_entries(viewer.client.id),
            labels=entry_labels,
            action_form=ActionForm(),
            zone=practice_zone(viewer.client.time_zone).key,
        ), (400 if form.errors else 200)

    if form.is_submitted() and viewer.read_only:
        abort(403)

    def join():
        service = db.session.get(Service, form.service_id.data or 0)
        clinician = None
        if form.clinician_id.data not in (None, ANY):
            clinician = next((c for c in _clinicians(viewer.client) if c.id == form.clinician_id.data), None)
            if clinician is None:
                raise Problems({"clinician_id": "Choose a clinician from the list."})
        return rules.join(
            viewer.audit_actor,
            viewer.client,
            service,
            clinician,
            weekdays=form.weekdays.data,
            parts=form.parts.data,
            from_date=form.from_date.data,
            until_date=form.until_date.data,
            move_appointment_id=form.move_appointment_id.data,
        )

    return carry_out_form(
        form,
        join,
        page=page,
        success="You are on the waitlist. We will email you when a time that suits you opens up.",
        then=url_for("waitlist.portal_waitlist"),
        back=url_for("waitlist.portal_waitlist"),
    )


@bp.post("/portal/waitlist/<int:entry_id>/leave")
@portal_page("appointments", feature="waitlist")
def portal_leave(entry_id: int):
    viewer = current_viewer()
    entry = rules.find_client_entry(viewer.client.id, entry_id)
    if entry is None:
        abort(404)
    if viewer.read_only:
        abort(403)
    if not ActionForm().validate_on_submit():
        abort(400)
    return carry_out(
        lambda: rules.leave(viewer.audit_actor, entry),
        success="You left that waitlist entry.",
        then=url_for("waitlist.portal_waitlist"),
        back=url_for("waitlist.portal_waitlist"),
    )
