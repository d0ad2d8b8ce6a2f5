"""Views of the audit log: the owner's page, newest first, filterable by person and by client."""

from __future__ import annotations

from math import ceil

from flask import render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select

from app.nav import register_nav
from app.roles import OWNER_ONLY
from app.web import staff_required
from blueprints.audit import bp
from blueprints.audit.forms import AuditFilterForm
from blueprints.audit.models import AuditEvent
from blueprints.auth.models import User
from tenants.database import db
from tenants.features import practice_zone

AUDIT_ROLES = OWNER_ONLY
PAGE_SIZE = 50

register_nav(
    "staff",
    "Audit log",
    "audit.events",
    lambda: current_user.is_authenticated and current_user.is_staff and current_user.role in AUDIT_ROLES,
    order=90,
)


def _events_page(person: int | None, client: int | None, page: int) -> tuple[list[AuditEvent], int]:
    """One page of events (newest first) and the number of events matching the filters."""
    query = select(AuditEvent)
    if person is not None:
        query = query.where(AuditEvent.actor_user_id == person)
    if client is not None:
        query = query.where(AuditEvent.client_id == client)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    events = db.session.scalars(
        query.order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    ).all()
    return list(events), total


def _people_in_log() -> list[tuple[int, str, str]]:
    actors = select(AuditEvent.actor_user_id).where(AuditEvent.actor_user_id.is_not(None)).distinct()
    rows = db.session.execute(
        select(User.id, User.name, User.kind).where(User.id.in_(actors)).order_by(User.kind.desc(), User.name)
    )
    return [(row.id, row.name, row.kind) for row in rows]


def _client_names(events: list[AuditEvent]) -> dict[int, str]:
    from blueprints.people.models import Client  # (people's routes write to the audit log)

    ids = {event.client_id for event in events if event.client_id is not None}
    if not ids:
        return {}
    return {
        client.id: client.display_name
        for client in db.session.scalars(select(Client).where(Client.id.in_(ids)))
    }


@bp.get("/audit")
@staff_required(*AUDIT_ROLES)
def events():
    form = AuditFilterForm(formdata=request.args)
    people = _people_in_log()
    form.person.choices = [("", "Anyone")] + [
        (str(user_id), f"{name} ({kind})") for user_id, name, kind in people
    ]
    if not form.validate():
        return render_template("audit/events.html", form=form, events=[], total=0, page=1, pages=1), 400
    person, client, page = form.person.data, form.client.data, form.page.data or 1
    found, total = _events_page(person, client, page)
    pages = max(1, ceil(total / PAGE_SIZE))
    filters = {key: value for key, value in (("person", person), ("client", client)) if value is not None}
    return render_template(
        "audit/events.html",
        form=form,
        events=found,
        total=total,
        page=page,
        pages=pages,
        client_names=_client_names(found),
        zone=practice_zone(),
        newer_url=url_for("audit.events", **filters, page=page - 1) if page > 1 else None,
        older_url=url_for("audit.events", **filters, page=page + 1) if page < pages else None,
    )
