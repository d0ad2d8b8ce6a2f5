"""`POST /webhooks/stripe` on a practice's host (and on its former addresses: the middleware answers
webhook paths there instead of redirecting, since Stripe does not follow redirects). No CSRF token
(Stripe signs the raw body instead); a bad signature is 400 and changes nothing."""

from __future__ import annotations

from flask import jsonify, request

from app.extensions import csrf
from app.web import carry_out
from blueprints.billing import bp
from blueprints.billing.operations import webhooks


@bp.post("/webhooks/stripe")
@csrf.exempt
def stripe_webhook():
    payload = request.get_data(cache=False)
    signature = request.headers.get("Stripe-Signature")
    return carry_out(lambda: webhooks.receive(payload, signature), then=lambda result: jsonify(result=result))
