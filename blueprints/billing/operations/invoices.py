"""Invoices: one per charge (an appointment's service, a no-show or late-cancel fee), numbered per
practice without gaps or repeats, in the practice's currency at the time it was issued.

The number comes from the single `billing_settings` row read FOR UPDATE: two invoices made at once
wait for each other there, and a unique constraint on `invoices.number` backs that up. An
appointment is charged at most once per kind (a unique constraint on the line). A voided invoice
cannot be paid; an invoice with money on it cannot be voided (refund first).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from app.refusals import Conflict, NotAllowed, NotFound
from app.roles import SEES_ALL_CLIENTS
from blueprints.audit.service import record
from blueprints.auth.models import User
from blueprints.billing.models import OPEN, PAID, VOID, BillingSettings, CheckoutAttempt, Invoice, InvoiceLine
from blueprints.people.models import Client
from blueprints.people.operations.access import client_for_staff, visible_clients
from tenants.database import db
from tenants.features import practice_settings, practice_today

# Who keeps the books: records payments, voids, refunds, sees every invoice.
MANAGES_BILLING = SEES_ALL_CLIENTS


def billing_settings() -> BillingSettings:
    row = db.session.get(BillingSettings, 1)
    if row is None:
        db.session.execute(insert(BillingSettings).values(id=1).on_conflict_do_nothing())
        row = db.session.get(BillingSettings, 1)
    return row


def next_number() -> int:
    """The next invoice number, taken under a row lock held until the caller's transaction ends."""
    billing_settings()
    row = db.session.scalars(
        select(BillingSettings)
        .where(BillingSettings.id == 1)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    number = row.next_invoice_number
    row.next_invoice_number = number + 1
    return number


def issue_invoice(client: Client, lines: list[tuple[str, str, int, int | None]]) -> Invoice:
    """A new open invoice for `client` with `lines` of (kind, description, amount, appointment id)."""
    invoice = Invoice(
        client_id=client.id,
        number=next_number(),
        issued_on=practice_today(),
        currency=practice_settings().currency,
        total_minor=sum(amount for _, _, amount, _ in lines),
    )
    db.session.add(invoice)
    db.session.flush()
    for kind, description, amount, appointment_id in lines:
        db.session.add(
            InvoiceLine(
                invoice_id=invoice.id,
                kind=kind,
                description=description[:200],
                amount_minor=amount,
                appointment_id=appointment_id,
            )
        )
    if invoice.total_minor == 0:
        invoice.status = PAID
    db.session.flush()
    return invoice


def charge_appointment(appointment, kind: str, description: str, amount: int | None) -> Invoice | None:
    """Invoice `appointment` for `kind` once (None when it has no amount or is charged already)."""
    if amount is None:
        return None
    existing = db.session.scalar(
        select(InvoiceLine.id).where(InvoiceLine.appointment_id == appointment.id, InvoiceLine.kind == kind)
    )
    if existing is not None:
        return None
    invoice = issue_invoice(appointment.client, [(kind, description, amount, appointment.id)])
    record(
        "issued an invoice",
        actor_kind="system",
        client_id=appointment.client_id,
        detail=f"invoice {invoice.number}",
    )
    return invoice


def visible_invoices(staff: User):
    """Invoices of the clients `staff` may see, newest first."""
    clients = visible_clients(staff).with_only_columns(Client.id)
    return (
        select(Invoice)
        .where(Invoice.client_id.in_(clients.scalar_subquery()))
        .order_by(Invoice.number.desc())
    )


def find_invoice_for_staff(staff: User, invoice_id: int) -> Invoice | None:
    """The invoice if `staff` may see its client, else None (another practice's id finds nothing)."""
    invoice = db.session.get(Invoice, invoice_id)
    if invoice is None or client_for_staff(staff, invoice.client_id) is None:
        return None
    return invoice


def invoice_for_staff(staff: User, invoice_id: int) -> Invoice:
    invoice = find_invoice_for_staff(staff, invoice_id)
    if invoice is None:
        raise NotFound()
    return invoice


def client_invoices(client: Client) -> list[Invoice]:
    return list(
        db.session.scalars(
            select(Invoice).where(Invoice.client_id == client.id).order_by(Invoice.number.desc())
        )
    )


def check_manages_billing(actor: User) -> None:
    if actor.role not in MANAGES_BILLING:
        raise NotAllowed("Only the practice's owner, admins and schedulers keep the books.")


def locked_invoice(invoice_id: int) -> Invoice:
    """The invoice re-read under a row lock (payments, voids and webhooks wait for each other)."""
    invoice = db.session.scalars(
        select(Invoice)
        .where(Invoice.id == invoice_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if invoice is None:
        raise NotFound()
    return invoice


def close_open_checkouts(invoice: Invoice) -> None:
    """Expire the invoice's Checkout Sessions still open at Stripe: once it is voided or (partly)
    paid by hand, a page opened before must not take the old amount (paid twice, or a void invoice
    paid). Stripe not answering refuses the change (nothing here changed)."""
    from blueprints.billing.operations import stripe_api  # imports this module

    for attempt in db.session.scalars(
        select(CheckoutAttempt).where(
            CheckoutAttempt.invoice_id == invoice.id, CheckoutAttempt.status == "open"
        )
    ):
        if stripe_api.is_connected():  # disconnected: nothing here can reach it (the books go on)
            stripe_api.expire_session(attempt.stripe_session_id)
        attempt.status = "expired"


def void_invoice(actor: User, invoice: Invoice) -> Invoice:
    check_manages_billing(actor)
    invoice = locked_invoice(invoice.id)
    if invoice.status == VOID:
        raise Conflict("This invoice is void already.")
    if invoice.paid_minor - invoice.refunded_minor > 0:
        raise Conflict("Money was paid on this invoice: refund the payments before voiding it.")
    close_open_checkouts(invoice)
    invoice.status, invoice.voided_at = VOID, datetime.now(UTC)
    record(
        "voided an invoice",
        client_id=invoice.client_id,
        detail=f"invoice {invoice.number}",
        **actor.audit_actor,
    )
    return invoice


def settle_status(invoice: Invoice) -> None:
    """Open or paid from the amounts (a void invoice stays void; refunds do not reopen it)."""
    if invoice.status != VOID:
        invoice.status = PAID if invoice.paid_minor >= invoice.total_minor else OPEN
