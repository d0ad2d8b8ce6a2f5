"""Billing (expand only): invoices, their lines, payments, Checkout attempts, applied Stripe events,
saved cards and Stripe customers, the practice's billing settings; `appointments.attendance` (what
staff marked: attended, no-show, late-cancelled) and the "Online payments" toggle.

Revision ID: t0021
Revises: t0024
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "t0021"
down_revision = "t0024"
branch_labels = None
depends_on = None

NOW = sa.text("now()")


def _fk(table, column, target, ondelete):
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], ondelete=ondelete, name=f"fk_{table}_{column}_{target}"
    )


def upgrade() -> None:
    op.add_column("appointments", sa.Column("attendance", sa.String(length=20), nullable=True))
    op.add_column(
        "practice_settings",
        sa.Column("online_payments_enabled", sa.Boolean(), server_default="false", nullable=False),
    )
    op.create_table(
        "billing_settings",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("bill_when", sa.String(length=10), server_default="attended", nullable=False),
        sa.Column("next_invoice_number", sa.Integer(), server_default="1", nullable=False),
        sa.Column("no_show_fee_minor", sa.BigInteger(), nullable=True),
        sa.Column("late_cancel_fee_minor", sa.BigInteger(), nullable=True),
        sa.Column("stripe_key_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("stripe_key_hint", sa.String(length=20), nullable=True),
        sa.Column("webhook_endpoint_id", sa.String(length=100), nullable=True),
        sa.Column("webhook_secret_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("connected_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("id = 1", name="single_row"),
        sa.CheckConstraint("bill_when IN ('attended', 'booking')", name="bill_when"),
        sa.PrimaryKeyConstraint("id", name="pk_billing_settings"),
    )
    op.create_table(
        "invoices",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("client_id", sa.BigInteger(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("total_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("paid_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("refunded_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("status", sa.String(length=10), server_default="open", nullable=False),
        sa.Column("pay_attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('open', 'paid', 'void')", name="status"),
        sa.CheckConstraint(
            "total_minor >= 0 AND paid_minor >= 0 AND refunded_minor >= 0", name="amounts"
        ),
        _fk("invoices", "client_id", "clients", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_invoices"),
        sa.UniqueConstraint("number", name="uq_invoices_number"),
    )
    op.create_index("ix_invoices_client_id", "invoices", ["client_id"])
    op.create_table(
        "invoice_lines",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("invoice_id", sa.BigInteger(), nullable=False),
        sa.Column("appointment_id", sa.BigInteger(), nullable=True),
        sa.Column("kind", sa.String(length=20), server_default="service", nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('service', 'no_show_fee', 'late_cancel_fee')", name="kind"
        ),
        _fk("invoice_lines", "invoice_id", "invoices", "CASCADE"),
        _fk("invoice_lines", "appointment_id", "appointments", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_invoice_lines"),
        sa.UniqueConstraint("appointment_id", "kind", name="uq_invoice_lines_appointment_id_kind"),
    )
    op.create_index("ix_invoice_lines_invoice_id", "invoice_lines", ["invoice_id"])
    op.create_table(
        "payments",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("invoice_id", sa.BigInteger(), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("refunded_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("stripe_payment_intent_id", sa.String(length=100), nullable=True),
        sa.Column("recorded_by_user_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.CheckConstraint("method IN ('cash', 'cheque', 'other', 'card')", name="method"),
        sa.CheckConstraint("amount_minor > 0 AND refunded_minor >= 0", name="amounts"),
        _fk("payments", "invoice_id", "invoices", "CASCADE"),
        _fk("payments", "recorded_by_user_id", "users", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_payments"),
        sa.UniqueConstraint("stripe_payment_intent_id", name="uq_payments_stripe_payment_intent_id"),
    )
    op.create_index("ix_payments_invoice_id", "payments", ["invoice_id"])
    op.create_table(
        "checkout_attempts",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("invoice_id", sa.BigInteger(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("stripe_session_id", sa.String(length=200), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), server_default="open", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        _fk("checkout_attempts", "invoice_id", "invoices", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_checkout_attempts"),
        sa.UniqueConstraint("invoice_id", "attempt", name="uq_checkout_attempts_invoice_id_attempt"),
        sa.UniqueConstraint("stripe_session_id", name="uq_checkout_attempts_stripe_session_id"),
    )
    op.create_table(
        "stripe_events",
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.PrimaryKeyConstraint("event_id", name="pk_stripe_events"),
    )
    op.create_table(
        "billing_customers",
        sa.Column("client_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("stripe_customer_id", sa.String(length=100), nullable=False),
        _fk("billing_customers", "client_id", "clients", "CASCADE"),
        sa.PrimaryKeyConstraint("client_id", name="pk_billing_customers"),
        sa.UniqueConstraint("stripe_customer_id", name="uq_billing_customers_stripe_customer_id"),
    )
    op.create_table(
        "saved_cards",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("client_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=10), server_default="pending", nullable=False),
        sa.Column("setup_session_id", sa.String(length=200), nullable=True),
        sa.Column("stripe_payment_method_id", sa.String(length=100), nullable=True),
        sa.Column("brand", sa.String(length=30), nullable=True),
        sa.Column("last4", sa.String(length=4), nullable=True),
        sa.Column("consent_text", sa.Text(), nullable=False),
        sa.Column("covers_fees", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("consented_by_user_id", sa.BigInteger(), nullable=True),
        sa.Column("consented_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('pending', 'active', 'removed')", name="status"),
        _fk("saved_cards", "client_id", "clients", "CASCADE"),
        _fk("saved_cards", "consented_by_user_id", "users", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_saved_cards"),
        sa.UniqueConstraint("setup_session_id", name="uq_saved_cards_setup_session_id"),
    )
    op.create_index("ix_saved_cards_client_id", "saved_cards", ["client_id"])


def downgrade() -> None:
    for table in (
        "saved_cards",
        "billing_customers",
        "stripe_events",
        "checkout_attempts",
        "payments",
        "invoice_lines",
        "invoices",
        "billing_settings",
    ):
        op.drop_table(table)
    op.drop_column("practice_settings", "online_payments_enabled")
    op.drop_column("appointments", "attendance")
