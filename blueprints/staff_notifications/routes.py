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

# A bell (Bootstrap Icons' "bell", inline: no icon font or image to load).
BELL = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" fill="currentColor" viewBox="0 0 16 16" '
    'aria-hidden="true" focusable="false" class="me-1"><path d="M8 16a2 2 0 0 0 2-2H6a2 2 0 0 0 2 2M8 '
    "1.918l-.797.161A4 4 0 0 0 4 6c0 .628-.134 2.197-.459 3.742-.16.767-.376 1.566-.663 2.258h10.244c-.287"
    "-.692-.502-1.49-.663-2.258C12.134 8.197 12 6.628 12 6a4 4 0 0 0-3.203-3.92zM14.22 12c.223.447.481.801"
    ".78 1H1c.299-.199.557-.553.78-1C2.68 10.2 3 6.88 3 6c0-2.42 1.72-4.44 4.005-4.901a1 1 0 1 1 1.99 0A5 "
    '5 0 0 1 13 6c0 .88.32 4.2 1.22 6"/></svg>'
)


def _bell() -> Markup:
    """The navigation entry: a bell and, when there are any, the unread count (one query)."""
    count = service.unread_count(current_user)
    label = f"{count} unread" if count else "no unread"
    badge = (
        f' <span class="badge rounded-pill text-bg-danger" id="bell-count" aria-hidden="true">{count}</span>'
        if count
        else ""
    )
    return Markup(f'{BELL}Notifications<span class="visually-hidden"> ({label})</span>{badge}')


register_nav("staff", _bell, "staff_notifications.index", staff_in(), order=95, group="alerts")


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
