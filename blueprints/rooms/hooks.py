"""What session rooms tell scheduling, registered here so that scheduling never imports rooms: where
an appointment takes place (its invite's LOCATION, URL and DESCRIPTION) and its Join action."""

from __future__ import annotations

from datetime import datetime

from flask import url_for
from flask_login import current_user

from blueprints.rooms.operations.rooms import join_open, own_link, room_of
from blueprints.rooms.operations.video import video_settings
from blueprints.scheduling.models import Appointment
from blueprints.scheduling.places import (
    Action,
    Place,
    register_appointment_action,
    register_place_provider,
)


def place(appointment: Appointment, discreet: bool) -> Place | None:
    """An online appointment's room link (in discreet mode the link alone); an in-person one's address
    (None without an address: scheduling's default, the practice's name)."""
    address = video_settings().practice_address
    room = room_of(appointment)
    if room is not None:
        link = room[1]
        if discreet:
            return Place(location=link, url=link, description=link)
        lines = [f"Join the video session: {link}"]
        if appointment.service.delivery == "either" and address:
            lines.append(f"Or come to the practice: {address}")
        return Place(location=link, url=link, description="\n".join(lines))
    if appointment.service.delivery != "online" and address:
        return Place(location=address)
    return None


def has_room(appointment: Appointment) -> bool:
    """Whether joining would find a room, without making one (pages are read, not written)."""
    service = video_settings().service
    if appointment.service.delivery == "in_person" or service == "none":
        return False
    return service == "jitsi" or own_link(appointment.clinician_user_id) is not None


def join_action(appointment: Appointment, side: str, now: datetime) -> Action | None:
    if appointment.status != "booked" or not join_open(appointment, now) or not has_room(appointment):
        return None
    if side == "portal":
        return Action(
            "Join session", url_for("rooms.portal_join", appointment_id=appointment.id), "join-session"
        )
    if side == "staff" and current_user.is_authenticated and current_user.id == appointment.clinician_user_id:
        return Action(
            "Join session", url_for("rooms.staff_join", appointment_id=appointment.id), "join-session"
        )
    return None


register_place_provider(place)
register_appointment_action(join_action)
