"""Delivering one email: over SMTP when SMTP_URL is set, otherwise to a file in the data directory.

SMTP_URL forms: smtp://host:port (plain), smtp://user:pass@host:port?starttls=1, smtps://host:465.
Only the job queue calls this; requests queue emails, they never send them.
"""

from __future__ import annotations

import logging
import smtplib
import time
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

log = logging.getLogger("portico.mail")


@dataclass(frozen=True)
class RawEmail:
    """An email already in its wire form (CRLF line ends), with its envelope: a batch writes its
    emails once instead of building and refolding an `EmailMessage` for each."""

    sender: str
    recipients: list[str]
    data: bytes

    def __bytes__(self) -> bytes:
        return self.data


def deliver(message: EmailMessage, smtp_url: str | None, data_dir: Path) -> str:
    """Send `message`; returns where it went (for the log)."""
    return deliver_batch([message], smtp_url, data_dir)[0] or "sent"


def _send(client: smtplib.SMTP, message: EmailMessage | RawEmail) -> None:
    if isinstance(message, RawEmail):
        client.sendmail(message.sender, message.recipients, message.data)
    else:
        client.send_message(message)


def deliver_batch(messages: list[EmailMessage | RawEmail], smtp_url: str | None, data_dir: Path) -> list:
    """Send `messages` over one SMTP connection. Returns, per message, where it went or the error
    that stopped it (an exception object); a failure to connect raises."""
    if not smtp_url:
        return [_to_file(message, data_dir) for message in messages]
    url = urlsplit(smtp_url)
    query = parse_qs(url.query)
    host, port = url.hostname or "localhost", url.port
    if url.scheme == "smtps":
        client = smtplib.SMTP_SSL(host, port or 465, timeout=30)
    else:
        client = smtplib.SMTP(host, port or 25, timeout=30)
    results: list = []
    with client:
        if url.scheme == "smtp" and query.get("starttls", ["0"])[0] in ("1", "true", "yes"):
            client.starttls()
        if url.username:
            client.login(unquote(url.username), unquote(url.password or ""))
        for message in messages:
            try:
                _send(client, message)
                results.append(f"{host}:{port or 25}")
            except (smtplib.SMTPServerDisconnected, OSError) as error:
                if len(messages) == 1:
                    raise
                # The connection is gone mid-batch: what was sent stays sent (handing it back would
                # send it twice); the rest come back as failed, for their own retries.
                results.extend([error] * (len(messages) - len(results)))
                return results
            except smtplib.SMTPException as error:  # this message refused; the others still go
                if len(messages) == 1:
                    raise
                results.append(error)
    return results


def _to_file(message: EmailMessage | RawEmail, data_dir: Path) -> str:
    mail_dir = data_dir / "mail"
    mail_dir.mkdir(parents=True, exist_ok=True)
    path = mail_dir / f"{time.strftime('%Y%m%d-%H%M%S')}-{time.monotonic_ns()}.eml"
    path.write_bytes(bytes(message))
    log.info("no SMTP_URL set: email written to %s", path)
    return str(path)
