"""Text messages: the provider interface (Twilio first), the practice's own account (its auth token
sealed), clients' opt-in and STOP, the SMS outbox and the provider's callbacks.

A text goes only to a client who gave a mobile number (kept in E.164, parsed with `phonenumbers`)
and opted in, and never after they sent STOP (the inbound webhook) or the provider answered that the
number opted out (Twilio error 21610). A text says as little as the discreet email: no practice
words, no service, no clinician; the time and a portal link. Its text is sealed until it is handed
to the provider, then dropped. Webhooks are believed only with a valid signature over the public URL
the request came to (`request.url`, which the proxy settings make the public one).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import phonenumbers
from flask import current_app
from sqlalchemy import select, update
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client as TwilioClient

from app import jobs
from app.refusals import Problems
from blueprints.audit.service import record
from blueprints.notifications.models import SmsMessage, SmsSettings
from blueprints.people.models import Client
from tenants.database import db
from tenants.encryption import seal_text, unseal_text

SEND_SMS_TASK = "automations.send_sms"
SMS_TRIES = 6
OPTED_OUT_ERROR = 21610  # Twilio: "Attempt to send to unsubscribed recipient"
STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
START_WORDS = {"START", "UNSTOP", "YES"}


class OptedOut(Exception):
    """The provider refused: the number opted out."""


@dataclass
class TwilioProvider:
    account_sid: str
    auth_token: str
    from_number: str
    base_url: str | None = None

    def _client(self):
        client = TwilioClient(self.account_sid, self.auth_token)
        if self.base_url:  # the tests' local fake of the API
            client.api.base_url = self.base_url
        return client

    def send(self, to: str, body: str, status_callback: str | None) -> str:
        options = {"status_callback": status_callback} if status_callback else {}
        try:
            return self._client().messages.create(to=to, from_=self.from_number, body=body, **options).sid
        except TwilioRestException as error:
            if error.code == OPTED_OUT_ERROR:
                raise OptedOut(str(error.code)) from None
            raise

    def valid_signature(self, url: str, params: dict, signature: str) -> bool:
        return bool(signature) and RequestValidator(self.auth_token).validate(url, params, signature)


def sms_settings() -> SmsSettings:
    row = db.session.get(SmsSettings, 1)
    if row is None:
        row = SmsSettings(id=1)
        db.session.add(row)
        db.session.flush()
    return row


def provider() -> TwilioProvider | None:
    """The practice's provider, or None while it has not configured one."""
    settings = sms_settings()
    if not (settings.account_sid and settings.auth_token_sealed and settings.from_number):
        return None
    token = unseal_text(
        settings.auth_token_sealed, table=SmsSettings.__tablename__, row_id=1, column="auth_token_sealed"
    )
    return TwilioProvider(
        settings.account_sid, token, settings.from_number, current_app.config["PORTICO"].twilio_base_url
    )


def e164(text: str | None, region: str = "US") -> str | None:
    """`text` as an E.164 mobile-capable number, or None when it is not a valid number."""
    try:
        number = phonenumbers.parse((text or "").strip(), region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def configure(actor, account_sid: str, auth_token: str, from_number: str) -> SmsSettings:
    """Save the practice's Twilio account (a blank token keeps the one saved)."""
    settings = sms_settings()
    problems = {}
    account_sid = (account_sid or "").strip()
    if not (account_sid.startswith("AC") and len(account_sid) == 34 and account_sid.isalnum()):
        problems["account_sid"] = "A Twilio Account SID is “AC” followed by 32 letters and digits."
    number = e164(from_number)
    if number is None:
        problems["from_number"] = "Give the sending number with its country code, like +1 415 555 0100."
    if not (auth_token or "").strip() and settings.auth_token_sealed is None:
        problems["auth_token"] = "Give the account's auth token."
    if problems:
        raise Problems(problems)
    settings.account_sid, settings.from_number = account_sid, number
    if (auth_token or "").strip():
        settings.auth_token_sealed = seal_text(
            auth_token.strip(), table=SmsSettings.__tablename__, row_id=1, column="auth_token_sealed"
        )
    record("changed text message settings", **actor.audit_actor)
    return settings


def opt_in(client: Client, number_text: str, actor: dict) -> str:
    """The client agrees to texts at this mobile number; returns it in E.164."""
    number = e164(number_text)
    if number is None:
        raise Problems({"number": "Give a mobile number with its country code, like +1 415 555 0100."})
    client.sms_number, client.sms_opt_in_at, client.sms_opted_out_at = number, datetime.now(UTC), None
    record("agreed to text messages", client_id=client.id, **actor)
    return number


def opt_out(client: Client, actor: dict) -> None:
    client.sms_opted_out_at = datetime.now(UTC)
    record("stopped text messages", client_id=client.id, **actor)


def can_text(client: Client) -> bool:
    return bool(client.sms_number and client.sms_opt_in_at and client.sms_opted_out_at is None)


def mark_number_opted_out(number: str) -> int:
    """Every client with this number stops getting texts (STOP, or the provider's 21610)."""
    rows = db.session.execute(
        update(Client)
        .where(Client.sms_number == number, Client.sms_opted_out_at.is_(None))
        .values(sms_opted_out_at=datetime.now(UTC))
        .returning(Client.id)
        .execution_options(synchronize_session=False)
    ).all()
    for (client_id,) in rows:
        record("stopped text messages", client_id=client_id, actor_kind="client", actor_name="STOP by text")
    return len(rows)


def queue_sms(client: Client, body: str) -> SmsMessage | None:
    """Queue a text to an opted-in client (None when they cannot be texted or SMS is not set up)."""
    if not can_text(client) or provider() is None:
        return None
    message = SmsMessage(client_id=client.id, to_number=client.sms_number)
    db.session.add(message)
    db.session.flush()
    message.body_sealed = seal_text(
        body, table=SmsMessage.__tablename__, row_id=message.id, column="body_sealed"
    )
    jobs.defer(SEND_SMS_TASK, sms_id=message.id)
    return message


def deliver_sms(sms_id: int, status_callback: str | None) -> None:
    """One try at handing a queued text to the provider (a text already handed over is left alone)."""
    message = db.session.get(SmsMessage, sms_id, with_for_update=True)
    if message is None or message.status != "queued" or message.body_sealed is None:
        db.session.rollback()
        return
    client = db.session.get(Client, message.client_id) if message.client_id else None
    sender = provider()
    if client is None or not can_text(client) or sender is None:
        message.status, message.body_sealed = "failed", None
        db.session.commit()
        return
    body = unseal_text(
        message.body_sealed, table=SmsMessage.__tablename__, row_id=message.id, column="body_sealed"
    )
    try:
        sid = sender.send(message.to_number, body, status_callback)
    except OptedOut:
        message.status, message.error_code, message.body_sealed = "failed", str(OPTED_OUT_ERROR), None
        mark_number_opted_out(message.to_number)
        db.session.commit()
        return
    message.status, message.provider_sid, message.sent_at, message.body_sealed = (
        "sent",
        sid,
        datetime.now(UTC),
        None,
    )
    db.session.commit()


def apply_status(params: dict) -> None:
    """A delivery status callback (verified by the caller): record it; 21610 marks the number out."""
    message = db.session.scalars(
        select(SmsMessage).where(SmsMessage.provider_sid == params.get("MessageSid"))
    ).first()
    if message is None:
        return
    status = (params.get("MessageStatus") or "").lower()
    if status in ("sent", "delivered", "undelivered", "failed"):
        message.status = status
    if params.get("ErrorCode"):
        message.error_code = str(params["ErrorCode"])[:20]
        if message.error_code == str(OPTED_OUT_ERROR):
            mark_number_opted_out(message.to_number)


def apply_inbound(params: dict) -> str | None:
    """An inbound text (verified by the caller): STOP and its synonyms opt the number out; START
    opts it back in for clients who had opted in. Returns what was done."""
    number = e164(params.get("From"))
    word = (params.get("Body") or "").strip().upper()
    if number is None:
        return None
    if word in STOP_WORDS:
        mark_number_opted_out(number)
        return "stopped"
    if word in START_WORDS:
        db.session.execute(
            update(Client)
            .where(Client.sms_number == number, Client.sms_opt_in_at.is_not(None))
            .values(sms_opted_out_at=None)
            .execution_options(synchronize_session=False)
        )
        return "started"
    return None
