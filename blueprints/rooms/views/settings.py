"""`/settings/video`: the practice's video service (owner and admin)."""

from __future__ import annotations

from flask import render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, RadioField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice

from app.roles import MANAGES_PRACTICE
from app.web import carry_out_form, staff_required
from blueprints.rooms import bp
from blueprints.rooms.models import SERVICES
from blueprints.rooms.operations import video


class VideoForm(FlaskForm):
    service = RadioField(
        "Video service", choices=[SelectChoice(key, label) for key, label in SERVICES.items()], default="none"
    )
    jitsi_base_url = StringField(
        "Jitsi server address", description="For example https://meet.example.org (your own server)."
    )
    jitsi_app_id = StringField(
        "App id (token authentication)",
        description="Only when your Jitsi server requires tokens; leave empty otherwise.",
    )
    jitsi_secret = PasswordField(
        "App secret", description="Stored encrypted. Leave empty to keep the one already saved."
    )
    practice_address = TextAreaField(
        "Practice address", description="In-person appointments' invites carry it as their location."
    )

    def values(self) -> dict:
        return {
            name: self[name].data
            for name in ("service", "jitsi_base_url", "jitsi_app_id", "jitsi_secret", "practice_address")
        }


@bp.route("/settings/video", methods=["GET", "POST"])
@staff_required(*MANAGES_PRACTICE)
def video_settings_page():
    settings = video.video_settings()
    form = VideoForm(data=None if request.method == "POST" else video.current_values(settings))

    def page():
        html = render_template(
            "rooms/settings.html", form=form, secret_saved=settings.jitsi_secret_sealed is not None
        )
        return html, (400 if form.errors else 200)

    return carry_out_form(
        form,
        lambda: video.save(current_user, form.values()),
        page=page,
        success="Video service saved.",
        then=url_for("rooms.video_settings_page"),
    )
