"""Payments on an invoice: manual ones staff record (cash, cheque, other), card payments Stripe
tells of (webhooks), refunds (a card payment's through Stripe), and the receipt each payment sends.

Amounts are parsed in the invoice's own currency (app.money) and never exceed what is owed; the
invoice row is locked while its amounts change. Receipts name the practice, the invoice number and
the amount only: nothing about the service.
"""

from __future__ import annotations

from sqlalchemy import select

from app.money import AmountError, format_amount, parse_amount
from app.refusals import Conflict, NotFound, Problems
from blueprints.audit.service import record
from blueprints.auth.models import User
from blueprints.billing.models import CARD, MANUAL_METHODS, VOID, Invoice, Payment
from blueprints.billing.operations import stripe_api
from blueprints.billing.operations.invoices import (
    check_manages_billing,
    close_open_checkouts,
    invoice_for_staff,
    locked_invoice,
    settle_status,
)
from blueprints.notifications.service import queue_email
from blueprints.people.models import PortalAccess
from tenants.addresses import practice_url
from tenants.context import current_practice
from tenants.database import db


def billing_recipients(client_id: int) -> list[str]:
    """Who hears of the client's payments: their own login(s) and guardians with the billing grant."""
    rows = db.session.execute(
        select(User.email)
        .join(PortalAccess, PortalAccess.user_id == User.id)
        .where(
            PortalAccess.client_id == client_id,
            PortalAccess.revoked_at.is_(None),
            (PortalAccess.relationship_kind == "self") | PortalAccess.can_billing,
        )
    ).all()
    return sorted({email for (email,) in rows if email})


def send_receipt(invoice: Invoice, payment: Payment) -> None:
    practice = current_practice()
    amount = format_amount(payment.amount_minor, invoice.currency)
    body = (
        f"Hello,\n\n{practice.name} received a payment of {amount} for invoice {invoice.number}. "
        f"Still owed on it: {format_amount(invoice.balance_minor, invoice.currency)}.\n\n"
        f"Your invoices and receipts (PDF) are in the portal:\n\n"
        f"{practice_url(practice.slug, f'/portal/billing/receipts/{payment.id}')}\n"
    )
    for address in billing_recipients(invoice.client_id):
        queue_email(address, f"Receipt for invoice {invoice.number}", body)


def apply_payment(
    invoice: Invoice,
    method: str,
    amount: int,
    *,
    actor: dict,
    intent_id: str | None = None,
    user_id: int | None = None,
) -> Payment:
    """Add a payment to a locked invoice, settle its status, send the receipt, audit it."""
    payment = Payment(
        invoice_id=invoice.id,
        method=method,
        amount_minor=amount,
        stripe_payment_intent_id=intent_id,
        recorded_by_user_id=user_id,
    )
    db.session.add(payment)
    invoice.paid_minor += amount
    settle_status(invoice)
    db.session.flush()
    record(
        "recorded a payment",
        client_id=invoice.client_id,
        detail=f"invoice {invoice.number}: {format_amount(amount, invoice.currency)} ({method})",
        **actor,
    )
    send_receipt(invoice, payment)
    return payment


def record_manual_payment(actor: User, invoice: Invoice, method: str, amount_text: str) -> Payment:
    check_manages_billing(actor)
    invoice = locked_invoice(invoice.id)
    if invoice.status == VOID:
        raise Conflict("This invoice is void: it cannot be paid.")
    problems = {}
    if method not in MANUAL_METHODS:
        problems["method"] = "Choose cash, cheque or other."
    try:
        amount = parse_amount(amount_text, invoice.currency)
    except AmountError as error:
        problems["amount"] = str(error)
        amount = None
    if "amount" not in problems and not amount:
        problems["amount"] = "Enter the amount received."
    elif amount and amount > invoice.balance_minor:
        owed = format_amount(invoice.balance_minor, invoice.currency)
        problems["amount"] = f"That is more than is owed on this invoice ({owed})."
    if problems:
        raise Problems(problems)
    close_open_checkouts(invoice)
    return apply_payment(invoice, method, amount, actor=actor.audit_actor, user_id=actor.id)


def refund_payment(actor: User, payment_id: int, amount_text: str) -> Payment:
    """Give money back: a card payment through Stripe (its webhook confirms the amount), a manual
    one as recorded here. Blank: everything not refunded yet."""
    check_manages_billing(actor)
    payment = db.session.get(Payment, payment_id)
    if payment is None:
        raise NotFound()
    invoice = locked_invoice(invoice_for_staff(actor, payment.invoice_id).id)
    payment = db.session.scalars(
        select(Payment)
        .where(Payment.id == payment_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    left = payment.amount_minor - payment.refunded_minor
    try:
        amount = parse_amount(amount_text, invoice.currency) if (amount_text or "").strip() else left
    except AmountError as error:
        raise Problems({"amount": str(error)}) from None
    if not amount or amount > left:
        raise Problems({"amount": f"Refund at most {format_amount(left, invoice.currency)}."})
    if payment.method == CARD:
        stripe_api.refund(payment.stripe_payment_intent_id, amount, payment.id, payment.refunded_minor)
    payment.refunded_minor += amount
    invoice.refunded_minor += amount
    record(
        "refunded a payment",
        client_id=invoice.client_id,
        detail=f"invoice {invoice.number}: {format_amount(amount, invoice.currency)} ({payment.method})",
        **actor.audit_actor,
    )
    return payment
