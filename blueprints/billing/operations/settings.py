"""The practice's payments settings: its Stripe account (a restricted key, sealed; the webhook
endpoint Portico creates with it and the endpoint's signing secret, sealed), the "Online payments"
toggle (only with an account connected), when services are billed, and the fees."""

from __future__ import annotations

from datetime import UTC, datetime

from app.money import AmountError, parse_amount
from app.refusals import NotAllowed, Problems
from app.roles import MANAGES_PRACTICE
from blueprints.audit.service import record
from blueprints.billing.models import BillingSettings
from blueprints.billing.operations import stripe_api
from blueprints.billing.operations.invoices import billing_settings
from tenants.addresses import practice_url
from tenants.context import current_practice
from tenants.encryption import seal_text
from tenants.features import practice_settings

KEY_PREFIXES = ("rk_live_", "rk_test_")


def webhook_url() -> str:
    return practice_url(current_practice().slug, "/webhooks/stripe")


def _seal(value: str, column: str) -> bytes:
    return seal_text(value, table=BillingSettings.__tablename__, row_id=1, column=column)


def connect(actor, key: str) -> None:
    """Save a restricted key and create this practice's webhook endpoint with it."""
    if actor.role not in MANAGES_PRACTICE:
        raise NotAllowed()
    key = (key or "").strip()
    if not key.startswith(KEY_PREFIXES) or len(key) > 255 or not key.replace("_", "").isalnum():
        raise Problems(
            {"stripe_key": "Paste a restricted key: it starts with rk_live_ (or rk_test_ to try it out)."}
        )
    settings = billing_settings()
    old_key = stripe_api._key()
    endpoint = stripe_api.create_webhook_endpoint(key, webhook_url())
    if old_key and settings.webhook_endpoint_id and settings.webhook_endpoint_id != endpoint.id:
        stripe_api.delete_webhook_endpoint(old_key, settings.webhook_endpoint_id)
    settings.stripe_key_sealed = _seal(key, "stripe_key_sealed")
    settings.stripe_key_hint = key[:8] + "…" + key[-4:]
    settings.webhook_endpoint_id = endpoint.id
    settings.webhook_secret_sealed = _seal(endpoint.secret, "webhook_secret_sealed")
    settings.connected_at = datetime.now(UTC)
    record("connected a Stripe account", **actor.audit_actor)


def disconnect(actor) -> None:
    if actor.role not in MANAGES_PRACTICE:
        raise NotAllowed()
    settings = billing_settings()
    key = stripe_api._key()
    if key and settings.webhook_endpoint_id:
        stripe_api.delete_webhook_endpoint(key, settings.webhook_endpoint_id)
    settings.stripe_key_sealed = settings.webhook_secret_sealed = None
    settings.stripe_key_hint = settings.webhook_endpoint_id = settings.connected_at = None
    practice_settings().online_payments_enabled = False
    record("disconnected the Stripe account", **actor.audit_actor)


def _fee(text: str, field: str, currency: str, problems: dict) -> int | None:
    try:
        return parse_amount(text, currency, noun="fee")
    except AmountError as error:
        problems[field] = str(error)
        return None


def save_options(actor, online: bool, bill_when: str, no_show_fee: str, late_cancel_fee: str) -> None:
    if actor.role not in MANAGES_PRACTICE:
        raise NotAllowed()
    problems: dict[str, str] = {}
    currency = practice_settings().currency
    no_show = _fee(no_show_fee, "no_show_fee", currency, problems)
    late = _fee(late_cancel_fee, "late_cancel_fee", currency, problems)
    if bill_when not in ("attended", "booking"):
        problems["bill_when"] = "Choose when services are billed."
    if online and not stripe_api.is_connected():
        problems["online_payments"] = "Connect a Stripe account first."
    if problems:
        raise Problems(problems)
    settings = billing_settings()
    settings.bill_when, settings.no_show_fee_minor, settings.late_cancel_fee_minor = bill_when, no_show, late
    practice_settings().online_payments_enabled = online
    record("changed payments settings", **actor.audit_actor)
