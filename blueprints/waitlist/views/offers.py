"""An offer's page, `/portal/offers/<token>`: the time held and Confirm / Decline. The link itself is
the key (256 random bits, stored hashed), like a profile link: no login is needed to answer, and the
page names only the time, the clinician and the practice. Unknown tokens are 404; an offer that
ended is 410; someone else was first: 409 "Just taken"."""

from __future__ import annotations

from flask import abort, render_template, request

from app.errors import render_error
from app.refusals import Refusal
from app.web import carry_out, token_page_limit
from blueprints.waitlist import bp
from blueprints.waitlist.forms import ActionForm
from blueprints.waitlist.operations import offers as rules
from tenants.features import feature_required, practice_zone


@bp.route("/portal/offers/<token>", methods=["GET", "POST"])
@feature_required("waitlist")
@token_page_limit("waitlist-offer")
def offer(token: str):
    form = ActionForm()
    try:
        found = rules.find_offer(token)
    except Refusal as refusal:
        return render_error(refusal.status, refusal.message)
    zone = practice_zone(found.entry.client.time_zone).key
    state = rules.offer_state(found, rules.now_utc())
    if request.method == "POST":
        if not form.validate_on_submit() or form.answer.data not in ("confirm", "decline"):
            abort(400)
        answer = rules.confirm_offer if form.answer.data == "confirm" else rules.decline_offer
        return carry_out(
            lambda: answer(token),
            then=lambda result: render_template(
                "waitlist/offer.html", offer=found, state=found.status, zone=zone, form=form, just_done=True
            ),
        )
    status = {"open": 200, "accepted": 200, "taken": 409}.get(state, 410)
    return render_template("waitlist/offer.html", offer=found, state=state, zone=zone, form=form), status


@bp.after_request
def no_referrer_on_the_offer_page(response):
    if request.endpoint == "waitlist.offer":
        response.headers["Referrer-Policy"] = "no-referrer"
    return response
