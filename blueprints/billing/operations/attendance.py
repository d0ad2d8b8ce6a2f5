"""What staff mark on an appointment afterwards (attended, no-show, late-cancelled), and the charge
each brings: the service's price when attended (unless the practice bills at booking), the
practice's fee for a no-show or a late cancellation (charged to a saved card when the client agreed
it could be). A mark can change only while nothing is billed for the appointment (void that first).
"""

from __future__ import annotations

from sqlalchemy import select

from app.refusals import Conflict, Problems
from blueprints.billing.models import ATTENDANCE, VOID, Invoice, InvoiceLine
from blueprints.billing.operations.cards import charge_fee_to_saved_card
from blueprints.billing.operations.invoices import billing_settings, charge_appointment
from blueprints.scheduling.models import Appointment
from blueprints.scheduling.operations.appointments import appointment_booked
from blueprints.scheduling.operations.common import audit
from tenants.database import db

FEES = {
    "no_show": ("no_show_fee", "No-show fee"),
    "late_cancelled": ("late_cancel_fee", "Late cancellation fee"),
}


def billed_lines(appointment) -> list[InvoiceLine]:
    """The appointment's lines on invoices that are not void."""
    return list(
        db.session.scalars(
            select(InvoiceLine)
            .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
            .where(InvoiceLine.appointment_id == appointment.id, Invoice.status != VOID)
        )
    )


def _charge_service(appointment) -> Invoice | None:
    service = appointment.service
    return charge_appointment(appointment, "service", service.name, service.price_minor)


def mark_attendance(actor, appointment, attendance: str):
    """Mark `appointment` (one `actor` may see: the caller looked it up that way)."""
    if attendance not in ATTENDANCE:
        raise Problems({"attendance": "Choose attended, no-show or late-cancelled."})
    # Two people marking at once: the second waits here, then sees the first one's mark.
    appointment = db.session.scalars(
        select(Appointment)
        .where(Appointment.id == appointment.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    if attendance != "late_cancelled" and appointment.status != "booked":
        raise Conflict("A cancelled appointment can only be marked late-cancelled.")
    if appointment.attendance == attendance:
        return None
    settings = billing_settings()
    billed = billed_lines(appointment)
    changes_charge = appointment.attendance is not None and any(
        line.kind != "service" or settings.bill_when == "attended" for line in billed
    )
    if changes_charge:
        raise Conflict("This appointment is billed already: void its invoice before changing the mark.")
    # Voided lines no longer hold the appointment's place: a new mark may bill it again.
    for line in db.session.scalars(select(InvoiceLine).where(InvoiceLine.appointment_id == appointment.id)):
        if line not in billed:
            line.appointment_id = None
    db.session.flush()
    appointment.attendance = attendance
    audit(actor, f"marked an appointment {ATTENDANCE[attendance].lower()}", client_id=appointment.client_id)
    invoice = None
    if attendance == "attended" and settings.bill_when == "attended":
        invoice = _charge_service(appointment)
    elif attendance in FEES:
        kind, description = FEES[attendance]
        amount = settings.no_show_fee_minor if attendance == "no_show" else settings.late_cancel_fee_minor
        invoice = charge_appointment(appointment, kind, description, amount)
        if invoice is not None:
            charge_fee_to_saved_card(invoice)
    return invoice


def _bill_at_booking(appointment, **_):
    if billing_settings().bill_when == "booking":
        _charge_service(appointment)


appointment_booked.connect(_bill_at_booking, weak=False)
