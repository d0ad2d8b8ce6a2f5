"""Scheduling's lines in the staff's daily digest: appointments today and pending requests (with
how long the oldest has waited), counted over what the staff member may see."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from blueprints.auth.models import User
from blueprints.scheduling.models import Appointment
from blueprints.scheduling.operations.visibility import _still_open, visible_appointments, visible_requests
from blueprints.staff_notifications.digest import DigestLine, register_digest_line
from tenants.database import db


def _digest_lines(staff: User, start: datetime, end: datetime) -> list[DigestLine]:
    today = visible_appointments(staff).where(
        Appointment.status == "booked", Appointment.starts_at >= start, Appointment.starts_at < end
    )
    appointments = db.session.scalar(select(func.count()).select_from(today.subquery())) or 0
    pending = visible_requests(staff).where(_still_open(start)).subquery()
    count, oldest = db.session.execute(select(func.count(), func.min(pending.c.requested_at))).one()
    label = "Pending requests"
    if oldest is not None:
        days = max((start - oldest).days, 0)
        label += f" (the oldest waiting {days} day{'s' if days != 1 else ''})"
    return [("Appointments today", appointments, "/calendar"), (label, count or 0, "/requests")]


register_digest_line(_digest_lines)
