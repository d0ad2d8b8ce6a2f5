"""Delivering one email: over SMTP when SMTP_URL is set, otherwise to a file in the data directory.

SMTP_URL forms: smtp://host:port (plain), smtp://user:pass@host:port?starttls=1, smtps://host:465.
Only the job queue calls this; requests queue emails, they never send them.
"""

from __future__ import annotations

import logging
import smtplib
import time
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

log = logging.getLogger("portico.mail")


def deliver(message: EmailMessage, smtp_url: str | None, data_dir: Path) -> str:
    """Send `message`; returns where it went (for the log)."""
    if not smtp_url:
        mail_dir = data_dir / "mail"
        mail_dir.mkdir(parents=True, exist_ok=True)
        path = mail_dir / f"{time.strftime('%Y%m%d-%H%M%S')}-{time.monotonic_ns()}.eml"
        path.write_bytes(bytes(message))
        log.info("no SMTP_URL set: email written to %s", path)
        return str(path)
    url = urlsplit(smtp_url)
    query = parse_qs(url.query)
    host, port = url.hostname or "localhost", url.port
    if url.scheme == "smtps":
        client = smtplib.SMTP_SSL(host, port or 465, timeout=30)
    else:
        client = smtplib.SMTP(host, port or 25, timeout=30)
    with client:
        if url.scheme == "smtp" and query.get("starttls", ["0"])[0] in ("1", "true", "yes"):
            client.starttls()
        if url.username:
            client.login(unquote(url.username), unquote(url.password or ""))
        client.send_message(message)
    return f"{host}:{port or 25}"
