"""Pages of staff email preferences (`/account/notifications`: each staff member's own choice; the
practice's digest hour is set on `/settings/messages`) and the one-click unsubscribe (`/u/<token>`,
no login, throttled like every token page)."""

from __future__ import annotations

from flask import render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectField
from wtforms.fields.choices import SelectChoice

from app.extensions import csrf
from app.web import carry_out, carry_out_form, staff_required, token_page_limit
from blueprints.staff_notifications import bp, digest
from blueprints.staff_notifications.email import MODES, preference, set_mode, staff_of_token, unsubscribe


class PreferencesForm(FlaskForm):
    email_mode = SelectField(
        "Email me about notifications",
        choices=[SelectChoice(mode, label) for mode, label in MODES.items()],
        description="Flags about a client's safety are always emailed at once. Emails never name a "
        "client, a form, a file or a message: they link to your notifications.",
    )


class UnsubscribeForm(FlaskForm):
    pass


def _save(form: PreferencesForm):
    set_mode(current_user, form.email_mode.data)
    digest.schedule()


@bp.route("/account/notifications", methods=["GET", "POST"])
@staff_required()
def preferences():
    form = PreferencesForm()
    if not form.is_submitted():
        form.email_mode.data = preference(current_user.id).email_mode

    def page():
        html = render_template("staff_notifications/preferences.html", form=form)
        return html, (400 if form.errors else 200)

    return carry_out_form(
        form,
        lambda: _save(form),
        page=page,
        success="Your email preferences are saved.",
        then=url_for("staff_notifications.preferences"),
    )


@bp.get("/u/<token>")
@token_page_limit("unsubscribe")
def unsubscribe_page(token: str):
    def page(_):
        return render_template("staff_notifications/unsubscribe.html", form=UnsubscribeForm(), token=token)

    return carry_out(lambda: staff_of_token(token), then=page)


@bp.post("/u/<token>")
@token_page_limit("unsubscribe")
@csrf.exempt  # one-click unsubscribe (RFC 8058): mail providers post without a form token
def unsubscribe_post(token: str):
    return carry_out(
        lambda: unsubscribe(token),
        then=lambda _: render_template("staff_notifications/unsubscribed.html"),
    )
