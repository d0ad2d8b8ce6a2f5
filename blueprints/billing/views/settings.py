"""`/settings/payments`: connect the practice's Stripe account (a restricted key), turn online
payments on or off, when services are billed, and the no-show and late-cancel fees."""

from __future__ import annotations

from flask import abort, render_template, request, url_for
from flask_login import current_user

from app.money import example, input_value
from app.roles import MANAGES_PRACTICE
from app.web import carry_out, staff_required
from blueprints.billing import bp
from blueprints.billing.operations import settings as payments_settings
from blueprints.billing.operations import stripe_api
from blueprints.billing.operations.invoices import billing_settings
from blueprints.billing.views import ActionForm, form_value
from tenants.features import practice_settings


def _page(form=None, status: int = 200):
    settings, practice = billing_settings(), practice_settings()
    currency = practice.currency
    posted = request.form if request.method == "POST" else None
    return render_template(
        "billing/settings.html",
        form=form or ActionForm(),
        settings=settings,
        connected=stripe_api.is_connected(),
        online=practice.online_payments_enabled,
        currency=currency,
        example=example(currency),
        fees={
            "no_show_fee": posted.get("no_show_fee", "")
            if posted
            else input_value(settings.no_show_fee_minor, currency),
            "late_cancel_fee": posted.get("late_cancel_fee", "")
            if posted
            else input_value(settings.late_cancel_fee_minor, currency),
        },
        webhook_url=payments_settings.webhook_url(),
    ), status


@bp.route("/settings/payments", methods=["GET", "POST"])
@staff_required(*MANAGES_PRACTICE)
def payments_settings_page():
    if request.method == "GET":
        return _page()
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    action = request.form.get("action")
    back = url_for("billing.payments_settings_page")
    if action == "connect":
        key = form_value(request.form, "stripe_key")
        operation, done = (lambda: payments_settings.connect(current_user, key)), "Stripe is connected."
    elif action == "disconnect":
        operation, done = (lambda: payments_settings.disconnect(current_user)), "Stripe was disconnected."
    else:
        values = {
            name: form_value(request.form, name) for name in ("bill_when", "no_show_fee", "late_cancel_fee")
        }
        online = request.form.get("online_payments") == "on"
        operation = lambda: payments_settings.save_options(current_user, online, **values)  # noqa: E731
        done = "Payments settings saved."
    return carry_out(
        operation, success=done, then=back, form=form, invalid=lambda: _page(form, 400), back=back
    )
