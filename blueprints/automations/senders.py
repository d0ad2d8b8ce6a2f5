"""What a due `ClientNotice` becomes: the senders registered with `notifications.automated`.

An appointment notice is sent as the appointment is when the hold ends: nothing when the change was
undone (booked then cancelled, moved and moved back), else booked / rescheduled / cancelled, checked
against the switch of whoever made the last change.
"""

from __future__ import annotations

from blueprints.automations.compose import send_to_client_side
from blueprints.notifications.automated import event_on, message_settings, register_sender
from blueprints.notifications.models import ClientNotice
from blueprints.people.models import Client
from blueprints.scheduling.models import Appointment
from tenants.database import db


def effective_kind(notice: ClientNotice, appointment: Appointment) -> str | None:
    """What the client should now be told, given what they knew (`told_*`); None: nothing changed."""
    if notice.told_status is None:
        return "booked" if appointment.status == "booked" else None
    if appointment.status != "booked":
        return "cancelled"
    return None if appointment.starts_at == notice.told_starts_at else "rescheduled"


def send_appointment_notice(notice: ClientNotice) -> int:
    appointment = db.session.get(Appointment, notice.appointment_id) if notice.appointment_id else None
    if appointment is None:
        return 0
    kind = effective_kind(notice, appointment)
    if kind is None or not event_on(message_settings(), f"{kind}_by_{notice.by_kind}"):
        return 0
    invite = "cancel" if kind == "cancelled" else "request"
    return len(send_to_client_side(kind, appointment.client, appointment, invite=invite))


def send_plain_notice(notice: ClientNotice) -> int:
    """Request decisions, new messages, follow-ups: about the client (and maybe an appointment)."""
    client = db.session.get(Client, notice.client_id)
    if client is None or client.status != "active":
        return 0
    appointment = db.session.get(Appointment, notice.appointment_id) if notice.appointment_id else None
    invite = None
    if notice.event == "request_approved" and appointment is not None:  # the approved change's invite
        invite = "request" if appointment.status == "booked" else "cancel"
    return len(
        send_to_client_side(
            notice.event,
            client,
            appointment,
            invite=invite,
            note=notice.detail,
            starts_at=notice.told_starts_at,
        )
    )


def client_sender(grant: str):
    """A sender for a notice about the client only (forms to complete, a document shared): to the
    client's side, a minor's guardians only when their grant covers `grant`; nothing for an
    archived record."""

    def send(notice: ClientNotice) -> int:
        client = db.session.get(Client, notice.client_id)
        if client is None or client.status != "active":
            return 0
        return len(send_to_client_side(notice.event, client, None, grant=grant))

    return send


def register_all() -> None:
    for kind in ("booked", "rescheduled", "cancelled"):
        register_sender(kind, send_appointment_notice)
    for kind in ("request_approved", "request_declined", "new_message", "cancellation_followup"):
        register_sender(kind, send_plain_notice)
