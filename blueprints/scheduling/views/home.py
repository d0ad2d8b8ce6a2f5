"""Scheduling on the portal home (registered with `portal.home`, which does not import scheduling):
the open record's next appointment with what may be done with it, a line on each other record's
card, and "Add to calendar" for one appointment."""

from __future__ import annotations

from flask import Response, abort

from blueprints.portal.home import register_home_section
from blueprints.portal.viewer import current_viewer, portal_page
from blueprints.scheduling import bp
from blueprints.scheduling.operations import home
from blueprints.scheduling.operations import portal as rules
from blueprints.scheduling.operations.visibility import client_appointment
from tenants.features import practice_zone


def next_appointment_section(viewer, client, permissions, current: bool) -> dict | None:
    if not permissions.appointments:
        return None
    appointment = home.next_appointment(client.id)
    section = {
        "client": client,
        "appointment": appointment,
        "zone": practice_zone(client.time_zone),
        "booking_mode": rules.booking_mode(),
    }
    if current and appointment is not None:
        section["actions"] = home.actions(appointment)
        section["pending"] = home.pending_request(appointment)
    return section


register_home_section(
    "next_appointment",
    "scheduling/_home_next.html",
    next_appointment_section,
    summary_template="scheduling/_home_next_summary.html",
    order=10,
)


@bp.get("/portal/appointments/<int:appointment_id>/calendar.ics")
@portal_page("appointments")
def appointment_ics(appointment_id: int):
    """One of the open record's booked appointments as a calendar file; any other id is 404."""
    viewer = current_viewer()
    appointment = client_appointment(viewer.client.id, appointment_id)
    if appointment is None:
        abort(404)
    body = home.appointment_calendar(appointment, practice_zone(viewer.client.time_zone))
    response = Response(body, mimetype="text/calendar")
    response.headers["Content-Disposition"] = f'attachment; filename="appointment-{appointment.id}.ics"'
    return response
