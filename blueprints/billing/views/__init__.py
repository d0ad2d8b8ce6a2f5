"""Billing's pages by subject: `invoices` (staff), `payments` (portal), `cards` (saved card),
`webhooks` (Stripe), `settings` (the practice's Stripe connection and fees)."""

from flask import abort
from flask_wtf import FlaskForm

from tenants.features import practice_settings


class ActionForm(FlaskForm):
    """A button's form: the CSRF token only."""


def currency() -> str:
    return practice_settings().currency


def form_value(form_data, name: str) -> str:
    value = form_data.get(name, "")
    if len(value) > 200:
        abort(400)
    return value
