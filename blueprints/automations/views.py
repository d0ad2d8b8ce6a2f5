"""`/settings/messages`: the practice's automated messages (owner and admin)."""

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm

from app.roles import MANAGES_PRACTICE
from app.web import carry_out, staff_required
from blueprints.automations import bp, settings, sms
from blueprints.automations.compose import preview
from blueprints.notifications.automated import EVENTS, KINDS, message_settings
from blueprints.notifications.merge import TAGS

FIELDS = ("reminder_hours", "discreet_sender", "followup_days", "reminder_channel", "digest_hour")


class _PostedField:
    """A field the page renders itself: only its problems are kept here."""

    def __init__(self):
        self.errors: list[str] = []

    def validate(self, form, extra_validators=()) -> bool:
        return True


class MessagesForm(FlaskForm):
    """The CSRF token, and each posted field's problems (`app.web.attach_problems` fills them)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        names = [*FIELDS, *(f"{part}_{kind}" for kind in KINDS for part in ("subject", "body"))]
        self._fields.update({name: _PostedField() for name in names})


def _page(form: MessagesForm, values: dict, status: int = 200):
    use_posted = status == 200  # a refused template is shown as written, previewed as saved
    previews = {
        kind: preview(
            kind, *((values.get(f"subject_{kind}"), values.get(f"body_{kind}")) if use_posted else ())
        )
        for kind in KINDS
    }
    return render_template(
        "settings/messages.html",
        form=form,
        values=values,
        events=EVENTS,
        kinds=KINDS,
        tags=TAGS,
        previews=previews,
        channels=settings.CHANNELS,
        hours=settings.HOURS,
        texts=sms.provider() is not None,
    ), status


@bp.route("/settings/messages", methods=["GET", "POST"])
@staff_required(*MANAGES_PRACTICE)
def messages():
    form = MessagesForm()
    if request.method != "POST" or not form.validate_on_submit():
        return _page(form, settings.current_values(message_settings()), 400 if form.is_submitted() else 200)
    posted = request.form.to_dict()

    def invalid():
        values = {**settings.current_values(message_settings()), **posted}
        flags = ("show_clinician", "show_service", "discreet_mode", *(f"event_{key}" for key in EVENTS))
        for flag in (*flags, *(f"sms_{kind}" for kind in settings.text_kinds())):
            values[flag] = flag in posted
        return _page(form, values, 400)

    return carry_out(lambda: settings.save(current_user, posted), then=_saved, form=form, invalid=invalid)


def _saved(_):
    flash("Automated messages saved.", "success")
    return redirect(url_for("automations.messages"))
