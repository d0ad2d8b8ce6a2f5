"""A card on file: saved through Checkout in setup mode (a SetupIntent for off-session use) after
the person agreed to the consent text shown (recorded word for word), removed at will; charged
off-session only for a no-show or late-cancel fee, and only when its consent covers fees. When the
bank wants the cardholder (authentication), they get a link to pay in the portal instead.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from app.money import format_amount
from app.refusals import NotAllowed, NotFound, Problems
from blueprints.audit.service import record
from blueprints.billing.models import BillingCustomer, Invoice, SavedCard
from blueprints.billing.operations import stripe_api
from blueprints.billing.operations.checkout import record_card_payment
from blueprints.billing.operations.payments import billing_recipients
from blueprints.notifications.service import queue_email
from blueprints.portal.viewer import Viewer
from tenants.addresses import practice_url
from tenants.context import current_practice
from tenants.database import db
from tenants.features import practice_settings


def consent_text(covers_fees: bool) -> str:
    name = current_practice().name
    text = (
        f"I authorise {name} to save this card with its payment processor and to charge it for amounts "
        "I owe the practice that I approve in the portal."
    )
    if covers_fees:
        text += (
            f" I also authorise {name} to charge this card, without asking me again, for a no-show or "
            "late-cancellation fee under the practice's cancellation policy."
        )
    return text + " I can remove this card in the portal at any time."


def active_card(client_id: int) -> SavedCard | None:
    return db.session.scalars(
        select(SavedCard)
        .where(SavedCard.client_id == client_id, SavedCard.status == "active")
        .order_by(SavedCard.id.desc())
    ).first()


def _customer(client_id: int) -> str:
    row = db.session.get(BillingCustomer, client_id)
    if row is None:
        row = BillingCustomer(
            client_id=client_id, stripe_customer_id=stripe_api.create_customer(client_id).id
        )
        db.session.add(row)
        db.session.flush()
    return row.stripe_customer_id


def start_saving(viewer: Viewer, agreed: bool, covers_fees: bool) -> str:
    """The Checkout (setup mode) URL for saving a card, once the consent was ticked."""
    if viewer.read_only or not viewer.permissions.billing:
        raise NotAllowed()
    if not agreed:
        raise Problems({"agree": "Tick the box to agree before saving a card."})
    card = SavedCard(
        client_id=viewer.client.id,
        consent_text=consent_text(covers_fees),
        covers_fees=covers_fees,
        consented_by_user_id=viewer.user_id,
    )
    db.session.add(card)
    db.session.flush()
    slug = current_practice().slug
    session = stripe_api.create_setup_session(
        card.id,
        _customer(viewer.client.id),
        practice_settings().currency,
        success_url=practice_url(slug, "/portal/billing?card=saved"),
        cancel_url=practice_url(slug, "/portal/billing"),
    )
    card.setup_session_id = session.id
    record(
        "agreed to save a card", client_id=viewer.client.id, detail=card.consent_text, **viewer.audit_actor
    )
    return session.url


def remove_card(viewer: Viewer, card_id: int) -> None:
    card = db.session.get(SavedCard, card_id)
    if card is None or card.client_id != viewer.client.id or not viewer.permissions.billing:
        raise NotFound()
    if viewer.read_only:
        raise NotAllowed()
    if card.status == "removed":
        return
    if card.stripe_payment_method_id:
        stripe_api.call(
            lambda: stripe_api.client_for().v1.payment_methods.detach(card.stripe_payment_method_id)
        )
    card.status, card.removed_at = "removed", datetime.now(UTC)
    record("removed a saved card", client_id=card.client_id, **viewer.audit_actor)


def apply_setup_session(session) -> None:
    """A setup-mode Checkout Session as Stripe has it now: its card becomes the client's card."""
    card = db.session.scalars(select(SavedCard).where(SavedCard.setup_session_id == session.id)).first()
    if card is None or card.status != "pending" or session.status != "complete":
        return
    setup_id = stripe_api.object_id(getattr(session, "setup_intent", None))
    if setup_id is None:
        return
    intent = stripe_api.retrieve("setup_intent", setup_id)
    if intent.status != "succeeded" or not intent.payment_method:
        return
    method_id = stripe_api.object_id(intent.payment_method)
    method = stripe_api.retrieve("payment_method", method_id)
    for older in db.session.scalars(
        select(SavedCard).where(SavedCard.client_id == card.client_id, SavedCard.status == "active")
    ):
        older.status, older.removed_at = "removed", datetime.now(UTC)
    card.status, card.stripe_payment_method_id = "active", method_id
    card.brand, card.last4 = method.card.brand, method.card.last4
    record("saved a card", actor_kind="system", actor_name="Stripe", client_id=card.client_id)


def charge_fee_to_saved_card(invoice: Invoice) -> str:
    """Charge a fee invoice to the client's card when its consent covers fees: "paid", "link" (the
    client was emailed a pay link) or "none" (no card that may be charged)."""
    card = active_card(invoice.client_id)
    customer = db.session.get(BillingCustomer, invoice.client_id)
    if card is None or not card.covers_fees or customer is None or not stripe_api.is_connected():
        return "none"
    invoice.pay_attempts += 1
    try:
        result = stripe_api.charge_off_session(
            invoice,
            invoice.pay_attempts,
            invoice.balance_minor,
            customer.stripe_customer_id,
            card.stripe_payment_method_id,
        )
        if getattr(result, "status", None) == "succeeded":
            record_card_payment(invoice.id, result.id)
            return "paid"
    except stripe_api.StripeUnavailable:
        # Stripe did not answer: the mark stands and the fee stays open (a charge that did go
        # through is recorded when its webhook arrives).
        return "later"
    practice = current_practice()
    amount = format_amount(invoice.balance_minor, invoice.currency)
    body = (
        f"Hello,\n\n{practice.name} could not charge your saved card for invoice {invoice.number} "
        f"({amount}): your bank needs you to confirm it.\n\nPay it in the portal:\n\n"
        f"{practice_url(practice.slug, '/portal/billing')}\n"
    )
    for address in billing_recipients(invoice.client_id):
        queue_email(address, f"Please confirm a payment for invoice {invoice.number}", body)
    return "link"
