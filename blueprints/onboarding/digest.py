"""Onboarding's line in the staff's daily digest: forms completed since the staff member's last
digest (or in the last day, before their first), on the records they may see. A count and a link
only: no client, no form name, no score."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from blueprints.auth.models import User
from blueprints.onboarding.models import FormResponse
from blueprints.people.models import Client
from blueprints.people.operations.access import visible_clients
from blueprints.staff_notifications.digest import DigestLine, register_digest_line, since_last_digest
from tenants.database import db


def forms_completed(staff: User, since: datetime, until: datetime) -> int:
    seen = visible_clients(staff).where(Client.status == "active").with_only_columns(Client.id)
    return (
        db.session.scalar(
            select(func.count(FormResponse.id)).where(
                FormResponse.status == "completed",
                FormResponse.completed_at > since,
                FormResponse.completed_at <= until,
                FormResponse.client_id.in_(seen),
            )
        )
        or 0
    )


def _digest_lines(staff: User, start: datetime, end: datetime) -> list[DigestLine]:
    since = since_last_digest(staff, start) or start - timedelta(days=1)
    return [("Forms completed since your last digest", forms_completed(staff, since, end), "/notifications")]


register_digest_line(_digest_lines)
