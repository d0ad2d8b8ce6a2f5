"""Views of the audit log: the owner's page, newest first, filterable by person and by client."""

from __future__ import annotations

from math import ceil

from flask import render_template, request, url_for

from app.nav import register_nav, staff_in
from app.roles import OWNER_ONLY
from app.web import staff_required
from blueprints.audit import bp
from blueprints.audit.forms import AuditFilterForm
from blueprints.audit.service import PAGE_SIZE, client_names, events_page, people_in_log
from tenants.features import practice_zone

AUDIT_ROLES = OWNER_ONLY

register_nav("staff", "Audit log", "audit.events", staff_in(*AUDIT_ROLES), order=90)


@bp.get("/audit")
@staff_required(*AUDIT_ROLES)
def events():
    form = AuditFilterForm(formdata=request.args)
    form.person.choices = [("", "Anyone")] + [
        (str(user_id), f"{name} ({kind})") for user_id, name, kind in people_in_log()
    ]
    if not form.validate():
        return render_template("audit/events.html", form=form, events=[], total=0, page=1, pages=1), 400
    person, client, page = form.person.data, form.client.data, form.page.data or 1
    found, total = events_page(person, client, page)
    pages = max(1, ceil(total / PAGE_SIZE))
    filters = {key: value for key, value in (("person", person), ("client", client)) if value is not None}
    return render_template(
        "audit/events.html",
        form=form,
        events=found,
        total=total,
        page=page,
        pages=pages,
        client_names=client_names(found),
        zone=practice_zone(),
        newer_url=url_for("audit.events", **filters, page=page - 1) if page > 1 else None,
        older_url=url_for("audit.events", **filters, page=page + 1) if page < pages else None,
    )
