"""Documents' line in the staff's daily digest: uploads from the client's side not reviewed yet, on
the records the staff member may see. A count and a link only: no client, no file name."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from blueprints.auth.models import User
from blueprints.documents.models import SERVABLE, UPLOAD, Document
from blueprints.people.models import Client
from blueprints.people.operations.access import visible_clients
from blueprints.staff_notifications.digest import DigestLine, register_digest_line
from tenants.database import db


def uploads_to_review(staff: User) -> int:
    seen = visible_clients(staff).where(Client.status == "active").with_only_columns(Client.id)
    return (
        db.session.scalar(
            select(func.count(Document.id)).where(
                Document.kind == UPLOAD,
                Document.reviewed_at.is_(None),
                Document.archived_at.is_(None),
                Document.scan_status.in_(SERVABLE),
                Document.client_id.in_(seen),
            )
        )
        or 0
    )


def _digest_lines(staff: User, start: datetime, end: datetime) -> list[DigestLine]:
    return [("Uploads to review", uploads_to_review(staff), "/notifications")]


register_digest_line(_digest_lines)
