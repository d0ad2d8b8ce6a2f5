"""The outbox page: emails that could not be delivered yet, and a way to try one again."""

from __future__ import annotations

from flask import render_template, url_for
from flask_login import current_user

from app.nav import register_nav, staff_in
from app.roles import MANAGES_PRACTICE
from app.web import carry_out, staff_required
from blueprints.notifications import bp
from blueprints.notifications.service import retry_email, unsent_emails
from tenants.features import practice_zone

register_nav("staff", "Outbox", "notifications.outbox", staff_in(*MANAGES_PRACTICE), order=85)


@bp.get("/outbox")
@staff_required(*MANAGES_PRACTICE)
def outbox():
    return render_template("notifications/outbox.html", emails=unsent_emails(), zone=practice_zone())


@bp.post("/outbox/<int:email_id>/retry")
@staff_required(*MANAGES_PRACTICE)
def retry(email_id: int):
    return carry_out(
        lambda: retry_email(email_id, current_user),
        success="The email is queued again.",
        then=url_for("notifications.outbox"),
        back=url_for("notifications.outbox"),
    )
