"""Text messages on the web: the provider's webhooks (inbound texts, delivery status), the client's
opt-in page in the portal, and the practice's SMS account on the settings page."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm

from app.extensions import csrf
from app.roles import MANAGES_PRACTICE
from app.web import carry_out, staff_required
from blueprints.automations import bp, sms
from blueprints.automations.views import MessagesForm, _PostedField
from blueprints.portal.viewer import current_viewer, portal_page
from tenants.database import db

TWIML_EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def _verified_params() -> dict:
    """The webhook's form, once its signature over the public URL is checked (404 without an
    account, 403 for a bad signature: nothing is changed for an unsigned request)."""
    provider = sms.provider()
    if provider is None:
        abort(404)
    params = request.form.to_dict()
    if not provider.valid_signature(request.url, params, request.headers.get("X-Twilio-Signature", "")):
        abort(403)
    return params


@bp.post("/sms/inbound")
@csrf.exempt
def inbound():
    sms.apply_inbound(_verified_params())
    db.session.commit()
    return TWIML_EMPTY, 200, {"Content-Type": "text/xml"}


@bp.post("/sms/status")
@csrf.exempt
def status():
    sms.apply_status(_verified_params())
    db.session.commit()
    return "", 204


class TextsForm(FlaskForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._fields["number"] = _PostedField()


@bp.route("/portal/texts", methods=["GET", "POST"])
# A link holder steps up first: the number chosen here gets every reminder's fresh profile link.
@portal_page(step_up=True)
def portal_texts():
    viewer = current_viewer()
    if viewer.kind not in ("client", "profile_link"):
        abort(404)  # only the client agrees to texts at their own number
    form = TextsForm()

    def page():
        return render_template(
            "notifications/texts.html", form=form, client=viewer.client, offered=sms.provider() is not None
        ), (400 if form.is_submitted() else 200)

    if request.method != "POST" or not form.validate_on_submit():
        return page()
    if request.form.get("action") == "stop":
        return carry_out(lambda: sms.opt_out(viewer.client, viewer.audit_actor), then=_texts_saved)
    return carry_out(
        lambda: sms.opt_in(viewer.client, request.form.get("number", ""), viewer.audit_actor),
        then=_texts_saved,
        form=form,
        invalid=page,
    )


def _texts_saved(_):
    flash("Your text message choice is saved.", "success")
    return redirect(url_for("automations.portal_texts"))


class SmsAccountForm(MessagesForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("account_sid", "auth_token", "from_number"):
            self._fields[name] = _PostedField()


@bp.route("/settings/messages/sms", methods=["GET", "POST"])
@staff_required(*MANAGES_PRACTICE)
def sms_account():
    form = SmsAccountForm()
    settings = sms.sms_settings()

    def page():
        return render_template(
            "settings/messages_sms.html", form=form, settings=settings, posted=request.form
        ), (400 if form.is_submitted() else 200)

    if request.method != "POST" or not form.validate_on_submit():
        return page()
    return carry_out(
        lambda: sms.configure(
            current_user,
            request.form.get("account_sid", ""),
            request.form.get("auth_token", ""),
            request.form.get("from_number", ""),
        ),
        then=_account_saved,
        form=form,
        invalid=page,
    )


def _account_saved(_):
    flash("Text message account saved.", "success")
    return redirect(url_for("automations.sms_account"))
