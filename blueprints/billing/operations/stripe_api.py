"""Every call Portico makes to Stripe goes through here, with the practice's own restricted key.

No health information leaves through these calls: line items say "Professional services", metadata
holds opaque ids only (the practice's id, its local invoice, client and attempt ids), customers carry no name
or email, and the statement descriptor is the account's own (only a suffix is set). Every create
carries an Idempotency-Key derived from what it is for (invoice and attempt), so a retried request
makes nothing twice. `STRIPE_API_BASE` in the app's config points the library elsewhere (the tests'
local fake); unset, it talks to api.stripe.com.
"""

from __future__ import annotations

import stripe
from flask import current_app

from app.refusals import Refusal
from blueprints.billing.models import BillingSettings
from blueprints.billing.operations.invoices import billing_settings
from tenants.context import current_practice
from tenants.encryption import unseal_text

LINE_ITEM_NAME = "Professional services"
STATEMENT_SUFFIX = "SERVICES"
WEBHOOK_EVENTS = [
    "checkout.session.completed",
    "checkout.session.expired",
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "charge.refunded",
]


class StripeUnavailable(Refusal):
    """Stripe refused or did not answer: nothing was changed here (502)."""

    status = 502

    def __init__(self, message: str = "The payment service did not answer. Nothing was changed: try again."):
        super().__init__(message)


def _key() -> str | None:
    settings = billing_settings()
    if settings.stripe_key_sealed is None:
        return None
    return unseal_text(
        settings.stripe_key_sealed, table=BillingSettings.__tablename__, row_id=1, column="stripe_key_sealed"
    )


def is_connected() -> bool:
    settings = billing_settings()
    return settings.stripe_key_sealed is not None and settings.webhook_secret_sealed is not None


def webhook_secret() -> str | None:
    settings = billing_settings()
    if settings.webhook_secret_sealed is None:
        return None
    return unseal_text(
        settings.webhook_secret_sealed,
        table=BillingSettings.__tablename__,
        row_id=1,
        column="webhook_secret_sealed",
    )


def client_for(key: str | None = None) -> stripe.StripeClient:
    key = key or _key()
    if not key:
        raise StripeUnavailable("Online payments are not set up at this practice.")
    base = current_app.config.get("STRIPE_API_BASE")
    return stripe.StripeClient(key, base_addresses={"api": base} if base else None, max_network_retries=2)


def call(make_request):
    """Run one request to Stripe; its failure is a refusal (nothing here changes), never a 500."""
    try:
        return make_request()
    except stripe.StripeError as error:
        current_app.logger.warning("stripe request failed: %s", type(error).__name__)
        raise StripeUnavailable() from None


def idempotency_key(*parts) -> str:
    """Per practice and per thing made: the same invoice and attempt always give the same key."""
    return "portico-" + "-".join(str(part) for part in (current_practice().id, *parts))


def create_webhook_endpoint(key: str, url: str):
    return call(
        lambda: client_for(key).v1.webhook_endpoints.create(
            params={
                "url": url,
                "enabled_events": WEBHOOK_EVENTS,
                "metadata": {"portico_practice": str(current_practice().id)},
            },
            options={"idempotency_key": idempotency_key("webhook", url)},
        )
    )


def delete_webhook_endpoint(key: str, endpoint_id: str) -> None:
    try:
        client_for(key).v1.webhook_endpoints.delete(endpoint_id)
    except stripe.StripeError:
        current_app.logger.warning("could not delete the old Stripe webhook endpoint")


def payment_metadata(invoice, attempt: int) -> dict:
    """What a payment carries: the invoice's id is practice-local, so the practice's id goes with it
    (practices sharing one Stripe account each receive every event of that account)."""
    return {
        "portico_invoice": str(invoice.id),
        "portico_attempt": str(attempt),
        "portico_practice": str(current_practice().id),
    }


def is_ours(obj, invoice) -> bool:
    """Whether a PaymentIntent was made here for `invoice` (this practice, this invoice)."""
    found = metadata(obj)
    return found.get("portico_invoice") == str(invoice.id) and found.get("portico_practice") == str(
        current_practice().id
    )


def create_payment_session(
    invoice, attempt: int, amount: int, success_url: str, cancel_url: str, customer=None, expires_at=None
):
    metadata = payment_metadata(invoice, attempt)
    params = {
        "mode": "payment",
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": invoice.currency.lower(),
                    "unit_amount": amount,
                    "product_data": {"name": LINE_ITEM_NAME},
                },
            }
        ],
        "metadata": metadata,
        "client_reference_id": f"invoice-{invoice.id}",
        "payment_intent_data": {"metadata": metadata, "statement_descriptor_suffix": STATEMENT_SUFFIX},
        "success_url": success_url,
        "cancel_url": cancel_url,
    }
    if expires_at is not None:
        params["expires_at"] = int(expires_at.timestamp())
    if customer:
        params["customer"] = customer
    key = idempotency_key("invoice", invoice.id, "attempt", attempt)

    def create(key: str):
        return client_for().v1.checkout.sessions.create(params=params, options={"idempotency_key": key})

    def create_once():
        try:
            return create(key)
        except stripe.IdempotencyError:
            # The key was used with other parameters (its expiry, or the amount, when the request
            # that made it was rolled back here): a session of its own for this request.
            return create(f"{key}-{params.get('expires_at', amount)}")

    return call(create_once)


def expire_session(session_id: str) -> None:
    """Close a Checkout Session so nobody can pay on it any more. One that is no longer open
    (expired already, or completed: its payment arrives by webhook) is left as it is."""
    try:
        client_for().v1.checkout.sessions.expire(session_id)
    except stripe.InvalidRequestError:
        session = retrieve("checkout.session", session_id)
        if session.status == "open":
            raise StripeUnavailable() from None
    except stripe.StripeError:
        raise StripeUnavailable() from None


def create_setup_session(card_id: int, customer: str, currency: str, success_url: str, cancel_url: str):
    metadata = {"portico_card": str(card_id)}
    return call(
        lambda: client_for().v1.checkout.sessions.create(
            params={
                "mode": "setup",
                "customer": customer,
                "currency": currency.lower(),
                "setup_intent_data": {"metadata": metadata},
                "metadata": metadata,
                "success_url": success_url,
                "cancel_url": cancel_url,
            },
            options={"idempotency_key": idempotency_key("card", card_id)},
        )
    )


def create_customer(client_id: int):
    return call(
        lambda: client_for().v1.customers.create(
            params={"metadata": {"portico_client": str(client_id)}},
            options={"idempotency_key": idempotency_key("customer", client_id)},
        )
    )


def charge_off_session(invoice, attempt: int, amount: int, customer: str, payment_method: str):
    """An off-session PaymentIntent; a card that needs its holder answers with an error we return."""
    metadata = payment_metadata(invoice, attempt)
    try:
        return client_for().v1.payment_intents.create(
            params={
                "amount": amount,
                "currency": invoice.currency.lower(),
                "customer": customer,
                "payment_method": payment_method,
                "off_session": True,
                "confirm": True,
                "metadata": metadata,
                "statement_descriptor_suffix": STATEMENT_SUFFIX,
            },
            options={"idempotency_key": idempotency_key("invoice", invoice.id, "attempt", attempt)},
        )
    except stripe.CardError as error:
        return error
    except stripe.StripeError:
        raise StripeUnavailable() from None


def refund(payment_intent_id: str, amount: int, payment_id: int, refunded_before: int):
    return call(
        lambda: client_for().v1.refunds.create(
            params={"payment_intent": payment_intent_id, "amount": amount},
            options={"idempotency_key": idempotency_key("refund", payment_id, refunded_before)},
        )
    )


def metadata(obj) -> dict:
    """An object's metadata as a plain dict (a StripeObject is not a dict)."""
    found = getattr(obj, "metadata", None)
    return found.to_dict() if hasattr(found, "to_dict") else dict(found or {})


def object_id(value) -> str | None:
    """An expandable field's id, whether Stripe sent the id or the object."""
    return value if isinstance(value, str) or value is None else getattr(value, "id", None)


def retrieve(kind: str, object_id: str, expand: list[str] | None = None):
    """Re-read an object from Stripe (a webhook's payload is never trusted for what it says)."""
    services = client_for().v1
    service = {
        "checkout.session": services.checkout.sessions,
        "payment_intent": services.payment_intents,
        "payment_method": services.payment_methods,
        "setup_intent": services.setup_intents,
        "charge": services.charges,
    }[kind]
    params = {"expand": expand} if expand else None
    return call(lambda: service.retrieve(object_id, params=params))
