"""Billing: invoices, payments (manual and by card through Stripe), a saved card, refunds, fees.

`models` holds the tables; `operations/<subject>.py` the rules (invoices, payments, attendance,
stripe_api, checkout, cards, webhooks, settings); `views/<subject>.py` the pages: `invoices` (staff's
billing pages, attendance on an appointment), `payments` (the portal's billing), `cards`,
`webhooks` (Stripe's events), `settings` (the practice's Stripe connection). Nothing about a
client's care is ever sent to Stripe (see operations.stripe_api).
"""

from flask import Blueprint

from tenants.middleware import practice_only

bp = practice_only(Blueprint("billing", __name__))

from blueprints.billing import models  # noqa: E402,F401
from blueprints.billing.operations import attendance  # noqa: E402,F401
from blueprints.billing.views import cards, invoices, payments, settings, webhooks  # noqa: E402,F401
