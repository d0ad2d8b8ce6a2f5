"""The portal's billing: outstanding invoices and history of the record being looked at, paying one
through Stripe Checkout, receipts as PDF. Only with "Online payments" on and a Stripe account
connected (else 404 and gone from navigation; the records stay), and only for the record's own side
or a guardian with the billing grant (else 404)."""

from __future__ import annotations

from functools import wraps

from flask import Response, abort, current_app, flash, redirect, render_template, request

from app.nav import register_nav
from app.security import content_security_policy
from app.web import carry_out
from blueprints.billing import bp
from blueprints.billing.models import OPEN, Invoice, Payment
from blueprints.billing.operations import cards, checkout
from blueprints.billing.operations.invoices import client_invoices
from blueprints.billing.views import ActionForm
from blueprints.onboarding.operations.pdf import html_to_pdf
from blueprints.portal.viewer import current_viewer, portal_page
from tenants.database import db
from tenants.features import practice_zone


def _in_nav() -> bool:
    if not checkout.portal_billing_on():
        return False
    viewer = current_viewer()
    return viewer is not None and viewer.permissions.billing


register_nav("portal", "Billing", "billing.portal_billing", _in_nav, order=48)

# Pressing Pay (or Save a card) posts here and is redirected to Stripe's Checkout: the page's
# form-action must allow that origin too (a redirect after a form post is held to it).
CHECKOUT_ORIGIN = "https://checkout.stripe.com"
LEAVES_FOR_CHECKOUT = ("billing.portal_billing",)


def checkout_origin() -> str:
    """Stripe's Checkout, or where the configured API base (a local fake in tests) serves it."""
    base = current_app.config.get("STRIPE_API_BASE")
    return base.rstrip("/") if base else CHECKOUT_ORIGIN


@bp.after_request
def allow_checkout(response):
    if request.endpoint in LEAVES_FOR_CHECKOUT:
        settings = current_app.config["PORTICO"]
        response.headers["Content-Security-Policy"] = content_security_policy(settings, (checkout_origin(),))
    return response


def billing_open(view):
    """404 unless online payments are on and connected, and the viewer holds the billing grant."""

    @wraps(view)
    @portal_page(feature="online_payments", step_up=True)
    def wrapper(*args, **kwargs):
        if not checkout.portal_billing_on() or not current_viewer().permissions.billing:
            abort(404)
        return view(*args, **kwargs)

    return wrapper


@bp.get("/portal/billing")
@billing_open
def portal_billing():
    viewer = current_viewer()
    listed = client_invoices(viewer.client)
    if request.args.get("paid"):
        flash("Thank you: your payment is being confirmed and will show here shortly.", "success")
    return render_template(
        "billing/portal.html",
        viewer=viewer,
        outstanding=[i for i in listed if i.status == OPEN and i.balance_minor > 0],
        history=[i for i in listed if not (i.status == OPEN and i.balance_minor > 0)],
        card=cards.active_card(viewer.client.id),
        consent=cards.consent_text(False),
        consent_fees=cards.consent_text(True),
        form=ActionForm(),
        zone=practice_zone(),
    )


@bp.post("/portal/billing/invoices/<int:invoice_id>/pay")
@billing_open
def pay(invoice_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    viewer = current_viewer()
    return carry_out(lambda: checkout.start_payment(viewer, invoice_id), then=lambda url: redirect(url, 303))


@bp.get("/portal/billing/receipts/<int:payment_id>")
@billing_open
def receipt(payment_id: int):
    viewer = current_viewer()
    payment = db.session.get(Payment, payment_id)
    if payment is None or payment.invoice.client_id != viewer.client.id:
        abort(404)
    invoice: Invoice = payment.invoice
    html = render_template("billing/receipt.html", payment=payment, invoice=invoice, zone=practice_zone())
    response = Response(html_to_pdf(html), mimetype="application/pdf")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="receipt-{invoice.number}-{payment.id}.pdf"'
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response
