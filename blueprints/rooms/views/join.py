"""Joining a session (`/portal/appointments/<id>/join` for the client's side, the same under
`/calendar/appointments/<id>/join` for the clinician: both redirect to the room and are audited)
and a client's room on their record (its link for staff, and regenerating it)."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import redirect, url_for
from flask_login import current_user
from flask_wtf import FlaskForm

from app.web import carry_out, staff_required
from blueprints.people.operations.access import client_for_staff
from blueprints.portal.viewer import current_viewer, portal_page
from blueprints.rooms import bp
from blueprints.rooms.operations import rooms
from blueprints.rooms.operations.video import video_settings
from blueprints.scheduling.operations.visibility import appointment_for_staff, client_appointment
from tenants.context import bound_practice


class RegenerateForm(FlaskForm):
    pass


@bp.get("/portal/appointments/<int:appointment_id>/join")
@portal_page("appointments")
def portal_join(appointment_id: int):
    viewer = current_viewer()
    appointment = client_appointment(viewer.client.id, appointment_id)
    return carry_out(lambda: rooms.portal_join(viewer, appointment, datetime.now(UTC)), then=redirect)


@bp.get("/calendar/appointments/<int:appointment_id>/join")
@staff_required()
def staff_join(appointment_id: int):
    appointment = appointment_for_staff(current_user, appointment_id)
    return carry_out(lambda: rooms.staff_join(current_user, appointment, datetime.now(UTC)), then=redirect)


@bp.post("/clients/<int:client_id>/room")
@staff_required()
def regenerate_room(client_id: int):
    back = url_for("people.client", client_id=client_id)  # the CSRF token is checked app-wide
    return carry_out(
        lambda: rooms.regenerate(current_user, client_id),
        success="The client has a new room link; the old one is no longer given out.",
        then=back,
    )


def room_panel(client) -> dict | None:
    """What `rooms/_client_panel.html` shows on a client's record (Jitsi only), or None."""
    if bound_practice() is None or not current_user.is_authenticated or not current_user.is_staff:
        return None
    if video_settings().service != "jitsi" or client_for_staff(current_user, client.id) is None:
        return None
    return {"link": rooms.client_room_link(client.id, create=False), "form": RegenerateForm()}


@bp.app_context_processor
def panel_helpers():
    return {"room_panel": room_panel}
