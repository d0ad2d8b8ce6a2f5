"""`/account/room`: a staff member's permanent room link, to copy (with a link per clinician, the
link they paste there)."""

from __future__ import annotations

from flask import render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import URLField

from app.nav import register_nav, staff_in
from app.roles import OFFERS_SERVICES
from app.web import carry_out, carry_out_form, staff_required
from blueprints.rooms import bp
from blueprints.rooms.operations import rooms
from blueprints.rooms.operations.video import video_settings


class OwnLinkForm(FlaskForm):
    link = URLField(
        "Your room link",
        description="The permanent https link of your Zoom, Doxy.me or Google Meet room. "
        "Leave empty to remove it.",
    )


def _in_nav() -> bool:
    return staff_in(*OFFERS_SERVICES)() and video_settings().service != "none"


register_nav("staff", "My room", "rooms.account_room", _in_nav, order=96)


@bp.route("/account/room", methods=["GET", "POST"])
@staff_required()
def account_room():
    settings = video_settings()
    form = OwnLinkForm()
    if request.method == "GET" and settings.service == "per_clinician":
        form.link.data = rooms.own_link(current_user.id) or ""

    def page(link=None):
        if link is None and settings.service != "jitsi":
            link = rooms.clinician_link(current_user.id, create=False)
        html = render_template("rooms/account.html", form=form, link=link, service=settings.service)
        return html, (400 if form.errors else 200)

    if settings.service == "per_clinician":
        return carry_out_form(
            form,
            lambda: rooms.set_own_link(current_user, form.link.data or ""),
            page=page,
            success="Your room link is saved.",
            then=url_for("rooms.account_room"),
        )
    if settings.service == "jitsi":  # the room is made on first sight, and kept
        return carry_out(lambda: rooms.clinician_link(current_user.id), then=lambda link: page(link))
    return page()
