"""Billing's tables: invoices and their lines, payments, the practice's Stripe connection, the
Stripe events already applied, Checkout attempts and saved cards.

Amounts are integers in the invoice's currency's smallest unit (app.money), never floats. An invoice
keeps the currency it was issued in. Invoice numbers come from `BillingSettings.next_invoice_number`,
read FOR UPDATE (operations.invoices.next_number), and are unique in the database as well.
The Stripe key and the webhook signing secret are sealed (tenants.encryption).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from blueprints.people.models import Client
from tenants.database import TenantModel
from tenants.encryption import register_sealed_column

OPEN, PAID, VOID = "open", "paid", "void"
MANUAL_METHODS = {"cash": "Cash", "cheque": "Cheque", "other": "Other"}
CARD = "card"
LINE_KINDS = ("service", "no_show_fee", "late_cancel_fee")
# What an appointment's attendance may be (scheduling's `appointments.attendance`).
ATTENDANCE = {"attended": "Attended", "no_show": "No-show", "late_cancelled": "Late-cancelled"}


def _one_of(column: str, values, name: str) -> CheckConstraint:
    return CheckConstraint(f"{column} IN ({', '.join(repr(v) for v in values)})", name=name)


class BillingSettings(TenantModel):
    """The practice's billing: when lines are added, its fees, its invoice counter, its Stripe."""

    __tablename__ = "billing_settings"
    __table_args__ = (
        CheckConstraint("id = 1", name="single_row"),
        _one_of("bill_when", ("attended", "booking"), "bill_when"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, default=1, autoincrement=False)
    bill_when: Mapped[str] = mapped_column(String(10), default="attended", server_default="attended")
    next_invoice_number: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    no_show_fee_minor: Mapped[int | None] = mapped_column(BigInteger)
    late_cancel_fee_minor: Mapped[int | None] = mapped_column(BigInteger)
    stripe_key_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    stripe_key_hint: Mapped[str | None] = mapped_column(String(20))
    webhook_endpoint_id: Mapped[str | None] = mapped_column(String(100))
    webhook_secret_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    connected_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Invoice(TenantModel):
    __tablename__ = "invoices"
    __table_args__ = (
        _one_of("status", (OPEN, PAID, VOID), "status"),
        CheckConstraint("total_minor >= 0 AND paid_minor >= 0 AND refunded_minor >= 0", name="amounts"),
    )

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("tenant.clients.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer, unique=True)
    issued_on: Mapped[date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    total_minor: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    paid_minor: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    status: Mapped[str] = mapped_column(String(10), default=OPEN, server_default=OPEN)
    pay_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    voided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    client: Mapped[Client] = relationship()
    lines: Mapped[list[InvoiceLine]] = relationship(order_by="InvoiceLine.id", back_populates="invoice")
    payments: Mapped[list[Payment]] = relationship(order_by="Payment.id", back_populates="invoice")

    @property
    def balance_minor(self) -> int:
        """What is still owed (a refund gives money back; it does not reopen the invoice)."""
        return 0 if self.status == VOID else max(self.total_minor - self.paid_minor, 0)


class InvoiceLine(TenantModel):
    """One charge. `description` names the service: staff see it, nothing sent out does."""

    __tablename__ = "invoice_lines"
    __table_args__ = (
        _one_of("kind", LINE_KINDS, "kind"),
        # An appointment is charged once for each kind, however often it is marked.
        UniqueConstraint("appointment_id", "kind"),
    )

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("tenant.invoices.id", ondelete="CASCADE"), index=True)
    appointment_id: Mapped[int | None] = mapped_column(
        ForeignKey("tenant.appointments.id", ondelete="SET NULL")
    )
    kind: Mapped[str] = mapped_column(String(20), default="service", server_default="service")
    description: Mapped[str] = mapped_column(String(200))
    amount_minor: Mapped[int] = mapped_column(BigInteger)

    invoice: Mapped[Invoice] = relationship(back_populates="lines")


class Payment(TenantModel):
    __tablename__ = "payments"
    __table_args__ = (
        _one_of("method", (*MANUAL_METHODS, CARD), "method"),
        CheckConstraint("amount_minor > 0 AND refunded_minor >= 0", name="amounts"),
    )

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("tenant.invoices.id", ondelete="CASCADE"), index=True)
    method: Mapped[str] = mapped_column(String(10))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # A card payment's PaymentIntent: recorded once, whichever event (or page) tells of it first.
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    recorded_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("tenant.users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    invoice: Mapped[Invoice] = relationship(back_populates="payments")


class CheckoutAttempt(TenantModel):
    """A Checkout Session made for paying an invoice (attempt n of that invoice)."""

    __tablename__ = "checkout_attempts"
    __table_args__ = (UniqueConstraint("invoice_id", "attempt"),)

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("tenant.invoices.id", ondelete="CASCADE"))
    attempt: Mapped[int] = mapped_column(Integer)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    stripe_session_id: Mapped[str] = mapped_column(String(200), unique=True)
    url: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="open", server_default="open")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class StripeEvent(TenantModel):
    """A webhook event applied: inserted in the transaction of its effect, so it applies once."""

    __tablename__ = "stripe_events"

    event_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(100))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class BillingCustomer(TenantModel):
    """A client's Customer at Stripe (made for saving a card; it carries no name or email)."""

    __tablename__ = "billing_customers"

    client_id: Mapped[int] = mapped_column(
        ForeignKey("tenant.clients.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    stripe_customer_id: Mapped[str] = mapped_column(String(100), unique=True)


class SavedCard(TenantModel):
    """A card on file, saved through Checkout in setup mode, with the consent the person agreed to."""

    __tablename__ = "saved_cards"
    __table_args__ = (_one_of("status", ("pending", "active", "removed"), "status"),)

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("tenant.clients.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(10), default="pending", server_default="pending")
    setup_session_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    stripe_payment_method_id: Mapped[str | None] = mapped_column(String(100))
    brand: Mapped[str | None] = mapped_column(String(30))
    last4: Mapped[str | None] = mapped_column(String(4))
    consent_text: Mapped[str] = mapped_column(Text)
    covers_fees: Mapped[bool] = mapped_column(default=False, server_default="false")
    consented_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("tenant.users.id", ondelete="SET NULL")
    )
    consented_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


register_sealed_column(BillingSettings.__tablename__, "stripe_key_sealed")
register_sealed_column(BillingSettings.__tablename__, "webhook_secret_sealed")
