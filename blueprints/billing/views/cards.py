"""The portal's saved card: save one through Checkout (setup mode) after agreeing to the consent
text, or remove it."""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for

from app.web import carry_out
from blueprints.billing import bp
from blueprints.billing.operations import cards
from blueprints.billing.views import ActionForm
from blueprints.billing.views.payments import billing_open
from blueprints.portal.viewer import current_viewer


@bp.post("/portal/billing/card")
@billing_open
def save_card():
    if not ActionForm().validate_on_submit():
        abort(400)
    viewer = current_viewer()
    agreed, fees = request.form.get("agree") == "yes", request.form.get("fees") == "yes"
    return carry_out(
        lambda: cards.start_saving(viewer, agreed, fees),
        then=lambda url: redirect(url, 303),
        back=url_for("billing.portal_billing"),
    )


@bp.post("/portal/billing/cards/<int:card_id>/remove")
@billing_open
def remove_card(card_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    viewer = current_viewer()
    return carry_out(lambda: cards.remove_card(viewer, card_id), then=_removed)


def _removed(_):
    flash("The card was removed.", "success")
    return redirect(url_for("billing.portal_billing"))
