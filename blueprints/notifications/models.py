"""The outbox: every email a practice sends, kept in the practice's own schema.

The body and the attachment (reset links, profile links, codes) are sealed (tenants/encryption)
until the email is delivered, then dropped; subject, recipient, times, attempts and Message-ID stay.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Integer,
    LargeBinary,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from tenants.database import TenantModel
from tenants.encryption import register_sealed_column


class OutboxEmail(TenantModel):
    __tablename__ = "outbox_emails"

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    # Given at queue time and kept for every try: a resent duplicate carries the same Message-ID.
    message_id: Mapped[str | None] = mapped_column(String(250))
    body_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    # Set when the last try failed: the email is shown as undelivered until someone retries it.
    failed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # One optional text attachment (calendar invites).
    attachment_filename: Mapped[str | None] = mapped_column(String(100))
    attachment_content_type: Mapped[str | None] = mapped_column(String(100))
    attachment_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Plain text of emails queued before t0007: sealed by their first try, dropped in a later release.
    body_text: Mapped[str | None] = mapped_column(Text)
    attachment_text: Mapped[str | None] = mapped_column(Text)
    # Discreet emails go out under the neutral sender name, without the practice's look or Reply-To.
    discreet: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # What queued it, for batch senders ("reminder"); None for everything else.
    kind: Mapped[str | None] = mapped_column(String(30))

    @property
    def state(self) -> str:
        if self.sent_at is not None:
            return "sent"
        return "undelivered" if self.failed_at is not None else "queued"


for _column in ("body_sealed", "attachment_sealed"):
    register_sealed_column(OutboxEmail.__tablename__, _column)


class MessageSettings(TenantModel):
    """How a practice's automated client messages read and when they go (one row)."""

    __tablename__ = "message_settings"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, default=1, autoincrement=False)
    # Event key -> on/off, over the defaults of the event registry (`automated.EVENTS`).
    events: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    # Message kind -> {"subject": ..., "body": ...}, over the built-in templates.
    templates: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    show_clinician: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    show_service: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    discreet_mode: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    discreet_sender: Mapped[str] = mapped_column(
        String(60), default="Appointments", server_default="Appointments"
    )
    # Minutes before the start, comma separated ("1440,120": a day and two hours before).
    reminder_offsets: Mapped[str] = mapped_column(String(60), default="1440,120", server_default="1440,120")
    followup_days: Mapped[int] = mapped_column(Integer, default=14, server_default="14")
    # "email", or "sms" (to clients who gave a mobile number and opted in; email for the others).
    reminder_channel: Mapped[str] = mapped_column(String(10), default="email", server_default="email")
    # Message kind -> sent as a text instead of an email to an adult client who agreed to texts
    # (reminders go by `reminder_channel`).
    sms_kinds: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")


class ClientNotice(TenantModel):
    """One automated message to a client's side, held until `due_at`.

    Messages about one appointment collapse into one held row: a later change moves `due_at` on and
    the job sends what the appointment is when it fires (`told_*`: what the client knew before the
    first held change, so an undone change sends nothing).
    """

    __tablename__ = "client_notices"

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    event: Mapped[str] = mapped_column(String(40))
    by_kind: Mapped[str] = mapped_column(String(10), default="staff")
    client_id: Mapped[int] = mapped_column(ForeignKey("tenant.clients.id", ondelete="CASCADE"), index=True)
    appointment_id: Mapped[int | None] = mapped_column(
        ForeignKey("tenant.appointments.id", ondelete="CASCADE"), index=True
    )
    told_status: Mapped[str | None] = mapped_column(String(20))
    told_starts_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Extra words for the message that are not clinical (the request kind of a decision).
    detail: Mapped[str | None] = mapped_column(String(300))
    state: Mapped[str] = mapped_column(String(12), default="held", server_default="held")
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ReminderSent(TenantModel):
    """A reminder claimed for (appointment, offset, start): inserting it first is what makes a reminder
    go out at most once, whatever the restarts, retries or workers; a moved appointment has a new
    start, so it gets reminders for its new time."""

    __tablename__ = "reminders_sent"

    appointment_id: Mapped[int] = mapped_column(
        ForeignKey("tenant.appointments.id", ondelete="CASCADE"), primary_key=True
    )
    offset_minutes: Mapped[int] = mapped_column(Integer, primary_key=True)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class SmsSettings(TenantModel):
    """The practice's own SMS provider account (one row); the auth token is sealed."""

    __tablename__ = "sms_settings"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, default=1, autoincrement=False)
    provider: Mapped[str] = mapped_column(String(20), default="twilio", server_default="twilio")
    account_sid: Mapped[str | None] = mapped_column(String(64))
    auth_token_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    from_number: Mapped[str | None] = mapped_column(String(20))  # E.164


class SmsMessage(TenantModel):
    """One text message to a client's opted-in number; its text is sealed until sent, then dropped."""

    __tablename__ = "sms_messages"

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    client_id: Mapped[int | None] = mapped_column(
        ForeignKey("tenant.clients.id", ondelete="SET NULL"), index=True
    )
    to_number: Mapped[str] = mapped_column(String(20))
    body_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    # queued, sent (accepted by the provider), delivered, undelivered, failed
    status: Mapped[str] = mapped_column(String(20), default="queued", server_default="queued")
    provider_sid: Mapped[str | None] = mapped_column(String(64), index=True)
    error_code: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


register_sealed_column(SmsSettings.__tablename__, "auth_token_sealed")
register_sealed_column(SmsMessage.__tablename__, "body_sealed")
