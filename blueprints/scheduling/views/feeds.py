"""Views of private calendar feeds: a staff member's own, a client-side login's own (in the portal),
and the feed address itself, which needs no login (its secret token is the key)."""

from __future__ import annotations

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.errors import refuse
from app.extensions import limiter
from app.web import carry_out, staff_required
from blueprints.portal.viewer import current_viewer, portal_page
from blueprints.scheduling import bp
from blueprints.scheduling.forms import ActionForm
from blueprints.scheduling.operations import feeds
from blueprints.scheduling.portal_forms import SlotForm
from tenants.addresses import practice_url
from tenants.context import current_practice
from tenants.features import is_enabled, practice_zone

FEED_LIMIT = "60 per minute"


def _feed_url(raw_token: str) -> str:
    return practice_url(current_practice().slug, f"/feeds/{raw_token}.ics")


def _feed_page(url: str | None = None):
    return render_template(
        "scheduling/staff_feed.html",
        feed=feeds.active_feed(current_user),
        url=url,
        webcal=url.replace("https://", "webcal://").replace("http://", "webcal://") if url else None,
        form=ActionForm(),
        zone=practice_zone(),
    )


@bp.get("/calendar/feed")
@staff_required()
def feed():
    return _feed_page()


@bp.post("/calendar/feed")
@staff_required()
def create_feed():
    if not ActionForm().validate_on_submit():
        abort(400)
    # Shown once, on this page only (never in a redirect, a flash message or the log).
    return carry_out(lambda: feeds.create_feed(current_user), then=lambda raw: _feed_page(_feed_url(raw)))


def _revoked(revoked: bool):
    flash("Your calendar feed was turned off." if revoked else "You had no calendar feed.", "success")
    return redirect(url_for("scheduling.feed"))


@bp.post("/calendar/feed/revoke")
@staff_required()
def revoke_feed():
    if not ActionForm().validate_on_submit():
        abort(400)
    return carry_out(lambda: feeds.revoke_feed(current_user), then=_revoked)


@bp.route("/portal/calendar-feed", methods=["GET", "POST"])
@portal_page("appointments")
def client_feed():
    """A logged-in client's (or guardian's) private feed of the appointments they manage."""
    viewer = current_viewer()
    if viewer.user_id is None or viewer.read_only or viewer.via_link:
        abort(404)  # profile-link sessions and previews have no feed of their own
    form = SlotForm()
    url = None
    if request.method == "POST":
        if not form.validate_on_submit():
            refuse(400, "This form has expired. Please reload the page and try again.")
        if request.form.get("action") == "revoke":
            carry_out(
                lambda: feeds.revoke_feed(current_user, viewer.audit_actor),
                success="Your calendar feed was turned off.",
            )
        else:
            url = _feed_url(carry_out(lambda: feeds.create_feed(current_user, viewer.audit_actor)))
    return render_template(
        "scheduling/portal_feed.html",
        viewer=viewer,
        feed=feeds.active_feed(current_user),
        url=url,
        form=form,
        zone=practice_zone(viewer.client.time_zone),
    )


@bp.get("/feeds/<token>.ics")
@limiter.limit(FEED_LIMIT)
def calendar_feed(token: str):
    user = feeds.feed_owner(token)
    if user is None or (not user.is_staff and not is_enabled("portal")):
        abort(404)
    response = Response(feeds.feed_calendar(user), mimetype="text/calendar")
    response.headers["Content-Disposition"] = 'inline; filename="appointments.ics"'
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
