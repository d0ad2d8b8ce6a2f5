"""Views of the staff notification list, and the bell in the staff navigation."""

from __future__ import annotations

from flask import redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from markupsafe import Markup
from werkzeug.routing import BuildError

from app.nav import register_nav, staff_in
from app.web import carry_out, staff_required
from blueprints.staff_notifications import bp, service
from tenants.features import practice_zone


def _bell() -> Markup:
    """The navigation entry: a bell and, when there are any, the unread count (one query)."""
    count = service.unread_count(current_user)
    label = f"{count} unread" if count else "no unread"
    badge = (
        f' <span class="badge rounded-pill text-bg-danger" id="bell-count" aria-hidden="true">{count}</span>'
        if count
        else ""
    )
    return Markup(
        '<span aria-hidden="true">&#128276;</span> Notifications'
        f'<span class="visually-hidden"> ({label})</span>{badge}'
    )


register_nav("staff", _bell, "staff_notifications.index", staff_in(), order=95)


class ActionForm(FlaskForm):
    pass


@bp.get("/notifications")
@staff_required()
def index():
    return render_template(
        "staff_notifications/list.html",
        notifications=service.notifications_for(current_user),
        zone=practice_zone(),
        form=ActionForm(),
    )


def _follow(notification):
    try:
        return redirect(url_for(notification.link_endpoint, **notification.link_args))
    except BuildError:  # the feature it pointed to is gone from this installation
        return redirect(url_for("staff_notifications.index"))


@bp.post("/notifications/<int:notification_id>/open")
@staff_required()
def open_one(notification_id: int):
    if not ActionForm().validate_on_submit():
        return redirect(url_for("staff_notifications.index"))
    return carry_out(lambda: service.open_notification(current_user, notification_id), then=_follow)


@bp.post("/notifications/read")
@staff_required()
def read_all():
    if not ActionForm().validate_on_submit():
        return redirect(url_for("staff_notifications.index"))
    return carry_out(
        lambda: service.mark_all_read(current_user),
        success="Every notification is marked as read.",
        then=url_for("staff_notifications.index"),
    )
