"""Staff's billing pages: every invoice (`/billing`), a client's (`/clients/<id>/billing`) with
manual payments, voids and refunds, and the attendance mark on an appointment's page."""

from __future__ import annotations

from flask import abort, redirect, render_template, request, url_for
from flask_login import current_user

from app.money import format_amount
from app.nav import register_nav, staff_in
from app.web import carry_out, staff_required
from blueprints.billing import bp
from blueprints.billing.models import ATTENDANCE, MANUAL_METHODS, Invoice
from blueprints.billing.operations import attendance, invoices, payments
from blueprints.billing.views import ActionForm, form_value
from blueprints.people.views.clients import client_or_404
from blueprints.scheduling.operations.visibility import appointment_for_staff
from tenants.database import db
from tenants.features import practice_zone

register_nav("staff", "Billing", "billing.index", staff_in(*invoices.MANAGES_BILLING), order=60)


@bp.app_template_filter("money")
def money(amount, currency):
    return format_amount(amount, currency)


@bp.get("/billing")
@staff_required(*invoices.MANAGES_BILLING)
def index():
    status = request.args.get("status", "open")
    query = invoices.visible_invoices(current_user)
    if status in ("open", "paid", "void"):
        query = query.where(Invoice.status == status)
    listed = list(db.session.scalars(query.limit(500)))
    return render_template("billing/staff_index.html", invoices=listed, status=status)


def _client_page(client, status: int = 200, form=None):
    return render_template(
        "billing/staff_client.html",
        client=client,
        invoices=invoices.client_invoices(client),
        methods=MANUAL_METHODS,
        form=form or ActionForm(),
        may_keep_books=current_user.role in invoices.MANAGES_BILLING,
        zone=practice_zone(),
    ), status


@bp.get("/clients/<int:client_id>/billing")
@staff_required()
def client_billing(client_id: int):
    return _client_page(client_or_404(client_id))


def _invoice_action(invoice_id: int, operation, success: str):
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    invoice = invoices.find_invoice_for_staff(current_user, invoice_id)
    if invoice is None:
        abort(404)
    client = invoice.client
    back = url_for("billing.client_billing", client_id=client.id)
    return carry_out(
        lambda: operation(invoice),
        success=success,
        then=back,
        form=form,
        invalid=lambda: _client_page(client, 400, form),
        back=back,
    )


@bp.post("/billing/invoices/<int:invoice_id>/payments")
@staff_required()
def record_payment(invoice_id: int):
    method, amount = form_value(request.form, "method"), form_value(request.form, "amount")
    return _invoice_action(
        invoice_id,
        lambda invoice: payments.record_manual_payment(current_user, invoice, method, amount),
        "The payment was recorded.",
    )


@bp.post("/billing/invoices/<int:invoice_id>/void")
@staff_required()
def void(invoice_id: int):
    return _invoice_action(
        invoice_id, lambda invoice: invoices.void_invoice(current_user, invoice), "The invoice was voided."
    )


@bp.post("/billing/payments/<int:payment_id>/refund")
@staff_required()
def refund(payment_id: int):
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    amount = form_value(request.form, "amount")
    return carry_out(
        lambda: payments.refund_payment(current_user, payment_id, amount),
        success="The refund was made.",
        then=lambda payment: redirect(url_for("billing.client_billing", client_id=payment.invoice.client_id)),
        back=url_for("billing.index"),
    )


@bp.post("/calendar/appointments/<int:appointment_id>/attendance")
@staff_required()
def mark_attendance(appointment_id: int):
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    appointment = appointment_for_staff(current_user, appointment_id)
    if appointment is None:
        abort(404)
    value = form_value(request.form, "attendance")
    back = url_for("scheduling.appointment", appointment_id=appointment_id)
    return carry_out(
        lambda: attendance.mark_attendance(current_user, appointment, value),
        success=f"Marked {ATTENDANCE.get(value, '').lower()}.",
        then=back,
        back=back,
    )


def attendance_panel(appointment) -> dict | None:
    """What `billing/_attendance.html` shows on an appointment's page (staff only)."""
    if not current_user.is_authenticated or not current_user.is_staff:
        return None
    lines = attendance.billed_lines(appointment)
    return {"choices": ATTENDANCE, "current": appointment.attendance, "lines": lines, "form": ActionForm()}


@bp.app_context_processor
def billing_helpers():
    return {"attendance_panel": attendance_panel}
