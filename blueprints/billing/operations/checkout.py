"""Paying an invoice online: a Stripe Checkout Session (mode payment) for what is owed, and the
card payment it becomes once Stripe says so (webhooks, or the return page re-reading the session).

The client side pays only invoices of the record it is looking at (another client's or practice's
id: not found); a void or paid invoice is not paid again (409). Each try is attempt n of the
invoice, and the Idempotency-Key is derived from the invoice and n, so a repeated request makes the
same session. An open session of the last hour for the same amount is reused.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.refusals import Conflict, NotAllowed, NotFound
from blueprints.billing.models import CARD, OPEN, VOID, CheckoutAttempt, Invoice, Payment
from blueprints.billing.operations import stripe_api
from blueprints.billing.operations.invoices import locked_invoice
from blueprints.billing.operations.payments import apply_payment
from blueprints.portal.viewer import Viewer
from tenants.addresses import practice_url
from tenants.context import current_practice
from tenants.database import db
from tenants.features import is_enabled

# A session expires when it stops being reused (Stripe's default is 24 hours): otherwise pressing Pay
# after the reuse window leaves two payable sessions for one balance. Stripe's minimum is 30 minutes;
# a new one is made a little before the old one ends, so nobody is sent to a page about to close.
SESSION_LIFETIME = timedelta(hours=1)
REUSE_FOR = SESSION_LIFETIME - timedelta(minutes=10)
SYSTEM = {"actor_kind": "system", "actor_name": "Stripe"}


def portal_billing_on() -> bool:
    return is_enabled("online_payments") and stripe_api.is_connected()


def invoice_for_viewer(viewer: Viewer, invoice_id: int) -> Invoice:
    """An invoice of the viewer's record (with the billing grant), else not found."""
    invoice = db.session.get(Invoice, invoice_id)
    if invoice is None or invoice.client_id != viewer.client.id or not viewer.permissions.billing:
        raise NotFound()
    return invoice


def start_payment(viewer: Viewer, invoice_id: int) -> str:
    """The Checkout URL to send the viewer to for paying what is owed on the invoice."""
    invoice = invoice_for_viewer(viewer, invoice_id)
    if viewer.read_only:
        raise NotAllowed("A preview cannot pay.")
    invoice = locked_invoice(invoice.id)
    if invoice.status == VOID:
        raise Conflict("This invoice was voided: there is nothing to pay.")
    if invoice.status != OPEN or invoice.balance_minor <= 0:
        raise Conflict("This invoice is paid already.")
    amount = invoice.balance_minor
    recent = db.session.scalars(
        select(CheckoutAttempt)
        .where(
            CheckoutAttempt.invoice_id == invoice.id,
            CheckoutAttempt.status == "open",
            CheckoutAttempt.amount_minor == amount,
            CheckoutAttempt.created_at > datetime.now(UTC) - REUSE_FOR,
        )
        .order_by(CheckoutAttempt.attempt.desc())
    ).first()
    if recent is not None:
        return recent.url
    attempt = invoice.pay_attempts + 1
    invoice.pay_attempts = attempt
    slug = current_practice().slug
    session = stripe_api.create_payment_session(
        invoice,
        attempt,
        amount,
        success_url=practice_url(slug, f"/portal/billing?paid={invoice.id}"),
        cancel_url=practice_url(slug, "/portal/billing"),
        expires_at=datetime.now(UTC) + SESSION_LIFETIME,
    )
    db.session.add(
        CheckoutAttempt(
            invoice_id=invoice.id,
            attempt=attempt,
            amount_minor=amount,
            stripe_session_id=session.id,
            url=session.url,
        )
    )
    db.session.flush()
    return session.url


def record_card_payment(invoice_id: int, intent_id: str) -> Payment | None:
    """Record the PaymentIntent `intent_id` on the invoice once, as Stripe has it now (amount
    received, refunded so far): whichever event tells of it first, in whatever order."""
    invoice = db.session.get(Invoice, invoice_id)
    if invoice is None:
        return None
    invoice = locked_invoice(invoice.id)
    intent = stripe_api.retrieve("payment_intent", intent_id, expand=["latest_charge"])
    if intent.status != "succeeded" or (intent.currency or "").upper() != invoice.currency:
        return None
    if not stripe_api.is_ours(intent, invoice):
        return None  # another practice's (same Stripe account, same local invoice id), or forged
    payment = db.session.scalars(select(Payment).where(Payment.stripe_payment_intent_id == intent_id)).first()
    if payment is None:
        payment = apply_payment(invoice, CARD, intent.amount_received, actor=SYSTEM, intent_id=intent_id)
    charge = intent.latest_charge
    refunded = (
        getattr(charge, "amount_refunded", 0) if charge is not None and not isinstance(charge, str) else 0
    )
    sync_refunded(invoice, payment, refunded)
    return payment


def sync_refunded(invoice: Invoice, payment: Payment, refunded: int) -> None:
    """Refunds only grow: the larger of what we know and what Stripe says."""
    if refunded > payment.refunded_minor:
        invoice.refunded_minor += refunded - payment.refunded_minor
        payment.refunded_minor = refunded


def apply_session(session) -> None:
    """A payment-mode Checkout Session as Stripe has it now."""
    attempt = db.session.scalars(
        select(CheckoutAttempt).where(CheckoutAttempt.stripe_session_id == session.id)
    ).first()
    if attempt is None:
        return
    if session.status == "complete" and session.payment_status == "paid" and session.payment_intent:
        intent_id = (
            session.payment_intent if isinstance(session.payment_intent, str) else session.payment_intent.id
        )
        record_card_payment(attempt.invoice_id, intent_id)
        attempt.status = "complete"
    elif session.status == "expired" and attempt.status == "open":
        attempt.status = "expired"
