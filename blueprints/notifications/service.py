"""Queueing and delivering practice emails.

`queue_email` writes the outbox row (body sealed) and defers its delivery job in the caller's
transaction; the job carries only ids. Delivery is at least once: each try is recorded and committed
before SMTP is spoken to, so a try whose outcome is unknown (a worker killed mid-send, a timeout
after DATA) is tried again, with the same Message-ID. Once delivered, the body is dropped.

The message is built at send time: the plain text as queued, its HTML alternative in the practice's
look (`look`), and the attachment. Nothing of it but the sealed text is ever stored.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from blinker import Namespace
from flask import current_app
from sqlalchemy import func, select, update

from app import jobs
from app.mail import deliver
from app.refusals import Conflict, NotFound
from blueprints.audit.service import record
from blueprints.notifications.automated import message_settings
from blueprints.notifications.look import EmailLook, add_html_alternative
from blueprints.notifications.models import OutboxEmail
from tenants.context import current_practice
from tenants.database import db
from tenants.encryption import seal_text, unseal_text
from tenants.features import practice_settings

SEND_EMAIL_TASK = "notifications.send_email"
# Sent with the OutboxEmail given up on, inside the practice; receivers add to the session (committed).
email_undelivered = Namespace().signal("email-undelivered")
# With the default 5 s base, 12 tries span about 1.5 to 3 hours (tests make the base tiny).
MAIL_TRIES = 12


def queue_email(
    to_address: str,
    subject: str,
    body_text: str,
    attachment: tuple[str, str, str] | None = None,
    *,
    discreet: bool = False,
    kind: str | None = None,
) -> OutboxEmail:
    """Queue one email; `attachment` is (filename, content type, text), e.g. a calendar invite.
    `discreet`: sent under the neutral sender name, without the practice's look or Reply-To."""
    email = OutboxEmail(
        to_address=to_address, subject=subject, message_id=_new_message_id(), discreet=discreet, kind=kind
    )
    if attachment is not None:
        email.attachment_filename, email.attachment_content_type, attachment_text = attachment
    db.session.add(email)
    db.session.flush()  # the sealed columns are bound to the row's id
    email.body_sealed = _seal(email, "body_sealed", body_text)
    if attachment is not None:
        email.attachment_sealed = _seal(email, "attachment_sealed", attachment_text)
    jobs.defer(SEND_EMAIL_TASK, email_id=email.id)
    return email


def queue_email_batch(items: list[dict], tried: bool = False) -> list[OutboxEmail]:
    """Queue many emails for the caller to deliver itself (a batch over one SMTP connection), in one
    INSERT: their ids are drawn first, since each sealed body is bound to its row's id. Each item has
    the keyword arguments of `queue_email` (to_address, subject, body_text, attachment, discreet,
    kind). `tried`: the caller delivers them right after committing, so the try is on record."""
    if not items:
        return []
    ids = db.session.scalars(
        select(func.nextval(func.pg_get_serial_sequence(OutboxEmail.__tablename__, "id"))).select_from(
            func.generate_series(1, len(items))
        )
    ).all()
    emails = []
    for email_id, item in zip(ids, items, strict=True):
        email = OutboxEmail(
            id=email_id,
            to_address=item["to_address"],
            subject=item["subject"],
            message_id=_new_message_id(),
            discreet=item.get("discreet", False),
            kind=item.get("kind"),
            attempts=1 if tried else 0,
            last_attempt_at=datetime.now(UTC) if tried else None,
        )
        email.body_sealed = _seal(email, "body_sealed", item["body_text"])
        if item.get("attachment") is not None:
            email.attachment_filename, email.attachment_content_type, text = item["attachment"]
            email.attachment_sealed = _seal(email, "attachment_sealed", text)
        emails.append(email)
    db.session.add_all(emails)
    db.session.flush()
    return emails


_kind_headers: dict[str, Callable[[OutboxEmail], dict[str, str]]] = {}


def register_headers(kind: str, headers: Callable[[OutboxEmail], dict[str, str]]) -> None:
    """Extra headers of the emails queued as `kind`, worked out when each is built (a higher
    package's List-Unsubscribe, for example)."""
    _kind_headers[kind] = headers


def _new_message_id() -> str:
    return f"<{uuid.uuid4().hex}@{current_app.config['PORTICO'].base_host}>"


def _seal(email: OutboxEmail, column: str, text: str) -> bytes:
    return seal_text(text, table=OutboxEmail.__tablename__, row_id=email.id, column=column)


def _unseal(email: OutboxEmail, column: str) -> str:
    return unseal_text(
        getattr(email, column), table=OutboxEmail.__tablename__, row_id=email.id, column=column
    )


def message_headers(email: OutboxEmail, look: EmailLook | None = None):
    """(sender address, [(header, value)...], look) of the email as it goes out: the one place its
    headers are decided (`build_message` and the batch builder `notifications.raw` share it)."""
    settings = current_app.config["PORTICO"]
    practice = current_practice()
    sender_name, sender_address = _split_sender(settings.mail_from)
    if email.discreet:  # nothing of the practice: neither its name, nor its look, nor its address
        display_name = " ".join(message_settings().discreet_sender.split())
        look = EmailLook(name=display_name)
    else:
        display_name = " ".join((practice.name or sender_name).split())  # no line breaks in a header
    headers = [
        ("From", (display_name, sender_address)),
        ("To", email.to_address),
        ("Subject", " ".join(email.subject.split())),
        ("Date", format_datetime(email.created_at)),
        ("Message-ID", email.message_id),
    ]
    contact = practice_settings().contact_email
    if contact and not email.discreet:
        headers.append(("Reply-To", (display_name, contact.strip())))
    if email.kind in _kind_headers:
        headers += list(_kind_headers[email.kind](email).items())
    return sender_address, headers, look


def build_message(email: OutboxEmail, look: EmailLook | None = None) -> EmailMessage:
    """The email as it goes out (`look`: the practice's, read once by a batch sender)."""
    settings = current_app.config["PORTICO"]
    message = EmailMessage()
    _, headers, look = message_headers(email, look)
    for name, value in headers:  # (name, address) pairs are addresses with a display name
        message[name] = formataddr(value) if isinstance(value, tuple) else value
    text = _unseal(email, "body_sealed")
    message.set_content(text)
    add_html_alternative(message, text, message["Subject"], settings.base_host, look=look)
    if email.attachment_sealed is not None:
        maintype, _, rest = (email.attachment_content_type or "text/plain").partition("/")
        subtype, *params = [part.strip() for part in rest.split(";")]
        message.add_attachment(
            _unseal(email, "attachment_sealed"),
            subtype=subtype,
            filename=email.attachment_filename,
            params=dict(param.split("=", 1) for param in params if "=" in param),
        )
    return message


def _split_sender(mail_from: str) -> tuple[str, str]:
    if "<" in mail_from:
        name, address = mail_from.split("<", 1)
        return name.strip(), address.rstrip(">").strip()
    return "", mail_from.strip()


def deliver_outbox_email(email_id: int) -> None:
    """One try at sending a queued email (an email already sent or given up on is left alone)."""
    email = db.session.get(OutboxEmail, email_id, with_for_update=True)
    if email is None or email.state != "queued":
        db.session.rollback()
        return
    _seal_legacy_text(email)
    email.message_id = email.message_id or _new_message_id()
    email.attempts += 1
    email.last_attempt_at = func.now()
    db.session.flush()
    message = build_message(email)
    db.session.commit()  # the try is on record, and no lock or transaction is held while SMTP talks
    settings = current_app.config["PORTICO"]
    try:
        deliver(message, settings.smtp_url, settings.ensure_data_dir())
    except Exception as error:
        _update(email_id, last_error=_describe(error))
        raise
    _update(
        email_id,
        sent_at=func.now(),
        last_error=None,
        body_sealed=None,
        attachment_sealed=None,
        body_text=None,
        attachment_text=None,
    )


def _seal_legacy_text(email: OutboxEmail) -> None:
    """Rows queued before bodies were sealed: seal their plain text now, on their first try."""
    for plain, sealed in (("body_text", "body_sealed"), ("attachment_text", "attachment_sealed")):
        text = getattr(email, plain)
        if text is not None:
            if getattr(email, sealed) is None:
                setattr(email, sealed, _seal(email, sealed, text))
            setattr(email, plain, None)


def give_up(error: Exception, email_id: int) -> None:
    """The last try failed: show the email as undelivered (staff can retry it from /outbox), and
    announce it (`email_undelivered`: staff notifications tell the practice's managers)."""
    _update(email_id, failed_at=func.now(), last_error=_describe(error), only_unsent=True)
    email = db.session.get(OutboxEmail, email_id)
    if email is not None and email.state == "undelivered":
        email_undelivered.send(email)
        db.session.commit()


def _update(email_id: int, only_unsent: bool = False, **values) -> None:
    statement = update(OutboxEmail).where(OutboxEmail.id == email_id).values(**values)
    if only_unsent:
        statement = statement.where(OutboxEmail.sent_at.is_(None))
    db.session.execute(statement)
    db.session.commit()


def _describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"[:1000]


# ---------------------------------------------------------------------------------------------
# Staff: what did not go out, and trying it again
# ---------------------------------------------------------------------------------------------


def unsent_emails() -> list[OutboxEmail]:
    """Emails not delivered yet that were tried at least once or given up on, newest first."""
    return list(
        db.session.scalars(
            select(OutboxEmail)
            .where(OutboxEmail.sent_at.is_(None), OutboxEmail.attempts > 0)
            .order_by(OutboxEmail.failed_at.is_(None), OutboxEmail.created_at.desc(), OutboxEmail.id.desc())
            .limit(200)
        )
    )


def retry_email(email_id: int, actor) -> OutboxEmail:
    """Queue an undelivered email again (a fresh series of tries)."""
    email = db.session.get(OutboxEmail, email_id, with_for_update=True)
    if email is None:
        raise NotFound("There is no such email.")
    if email.state != "undelivered":
        raise Conflict(
            "This email was delivered in the meantime."
            if email.state == "sent"
            else "This email is still being tried."
        )
    email.failed_at = None
    jobs.defer(SEND_EMAIL_TASK, email_id=email.id)
    record(
        "email retried",
        actor_kind="staff",
        actor_user_id=actor.id,
        actor_name=actor.name,
        detail=f"email #{email.id} to {email.to_address}",
    )
    return email
