"""Stripe's events: verified on the raw body with the practice's signing secret, recorded by event
id in the transaction that applies them (a repeated delivery finds its id taken and changes
nothing), and never trusted for what they say: the object is re-read from Stripe and applied as it
is now, so events arriving out of order reach the same end.
"""

from __future__ import annotations

import stripe
from sqlalchemy.dialects.postgresql import insert

from app.refusals import NotFound, Refusal
from blueprints.billing.models import Payment, StripeEvent
from blueprints.billing.operations import stripe_api
from blueprints.billing.operations.cards import apply_setup_session
from blueprints.billing.operations.checkout import apply_session, record_card_payment, sync_refunded
from blueprints.billing.operations.invoices import locked_invoice
from tenants.database import db


class BadSignature(Refusal):
    status = 400


def receive(payload: bytes, signature: str | None) -> str:
    """Verify, record and apply one delivery: "applied", "duplicate" or "ignored"."""
    secret = stripe_api.webhook_secret()
    if secret is None:
        raise NotFound()
    try:
        event = stripe.Webhook.construct_event(payload, signature or "", secret)
    except (ValueError, stripe.SignatureVerificationError):
        raise BadSignature("The signature does not match.") from None
    taken = db.session.execute(
        insert(StripeEvent)
        .values(event_id=event.id, event_type=event.type)
        .on_conflict_do_nothing()
        .returning(StripeEvent.event_id)
    ).first()
    if taken is None:
        return "duplicate"
    return "applied" if apply(event.type, event.data.object) else "ignored"


def apply(kind: str, sent) -> bool:
    if kind.startswith("checkout.session."):
        session = stripe_api.retrieve("checkout.session", sent.id)
        (apply_setup_session if session.mode == "setup" else apply_session)(session)
        return True
    if kind == "payment_intent.succeeded":
        invoice_id = stripe_api.metadata(sent).get("portico_invoice")
        if invoice_id and invoice_id.isdigit():
            record_card_payment(int(invoice_id), sent.id)
            return True
        return False
    if kind == "charge.refunded":
        charge = stripe_api.retrieve("charge", sent.id)
        intent_id = (
            charge.payment_intent
            if isinstance(charge.payment_intent, str)
            else getattr(charge.payment_intent, "id", None)
        )
        payment = (
            db.session.query(Payment).filter_by(stripe_payment_intent_id=intent_id).first()
            if intent_id
            else None
        )
        if payment is None:
            return False  # recorded later, with its refunds, when its payment event arrives
        # Under the invoice's lock, re-read (a staff refund of another payment on the same invoice
        # may be committing: its amount must not be overwritten by a stale total).
        invoice = locked_invoice(payment.invoice_id)
        db.session.refresh(payment, with_for_update=True)
        sync_refunded(invoice, payment, charge.amount_refunded)
        return True
    return False
