"""Queueing and delivering practice emails.

`queue_email` writes the outbox row and defers its delivery job in the caller's transaction; the
content stays in the practice schema and the job carries only ids.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formataddr, make_msgid

from flask import current_app
from sqlalchemy import func

from app import jobs
from app.mail import deliver
from blueprints.notifications.models import OutboxEmail
from tenants.context import current_practice
from tenants.database import db

SEND_EMAIL_TASK = "notifications.send_email"


def queue_email(
    to_address: str, subject: str, body_text: str, attachment: tuple[str, str, str] | None = None
) -> OutboxEmail:
    """Queue one email; `attachment` is (filename, content type, text), e.g. a calendar invite."""
    email = OutboxEmail(to_address=to_address, subject=subject, body_text=body_text)
    if attachment is not None:
        email.attachment_filename, email.attachment_content_type, email.attachment_text = attachment
    db.session.add(email)
    db.session.flush()
    jobs.defer(SEND_EMAIL_TASK, email_id=email.id)
    return email


def build_message(email: OutboxEmail) -> EmailMessage:
    settings = current_app.config["PORTICO"]
    practice = current_practice()
    message = EmailMessage()
    sender_name, sender_address = _split_sender(settings.mail_from)
    display_name = " ".join((practice.name or sender_name).split())  # no line breaks in a header
    message["From"] = formataddr((display_name, sender_address))
    message["To"] = email.to_address
    message["Subject"] = " ".join(email.subject.split())
    message["Message-ID"] = make_msgid(domain=settings.base_host)
    message["X-Portico-Practice"] = str(practice.id)
    message.set_content(email.body_text)
    if email.attachment_text is not None:
        maintype, _, rest = (email.attachment_content_type or "text/plain").partition("/")
        subtype, *params = [part.strip() for part in rest.split(";")]
        message.add_attachment(
            email.attachment_text,
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
    """Send one queued email (idempotent: an email already sent is not sent twice)."""
    email = db.session.get(OutboxEmail, email_id, with_for_update=True)
    if email is None or email.sent_at is not None:
        return
    settings = current_app.config["PORTICO"]
    email.attempts += 1
    try:
        deliver(build_message(email), settings.smtp_url, settings.ensure_data_dir())
    except Exception as exc:
        email.last_error = f"{type(exc).__name__}: {exc}"[:1000]
        db.session.commit()
        raise
    email.sent_at = func.now()
    email.last_error = None
    db.session.commit()
