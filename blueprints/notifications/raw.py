"""Emails of a batch (the reminders of a run) written straight to their wire form.

`build_message` makes an `EmailMessage`, whose header objects are parsed when set and refolded when
sent: for a batch of thousands that is most of the cost of an email. `raw_message` writes the same
email (the headers of `service.message_headers`, the plain text, the HTML alternative of
`look.render_html` and the inline logo) as bytes: headers encoded once (RFC 2047 where they are not
ASCII), every part base64 (the text exactly as queued), so no boundary can occur in a body. An email it does
not write (an attachment, an address that is not ASCII) is built by `build_message` and flattened.
`app.mail.deliver_batch` sends either over the batch's one connection.
"""

from __future__ import annotations

import base64
import uuid
from email.generator import BytesGenerator
from email.header import Header
from email.policy import SMTP
from email.utils import formataddr
from io import BytesIO

from flask import current_app

from app.mail import RawEmail
from blueprints.notifications.look import LOGO_TYPES, EmailLook, email_look, render_html
from blueprints.notifications.models import OutboxEmail
from blueprints.notifications.service import _unseal, build_message, message_headers


def _ascii(text: str) -> bool:
    return text.isascii()


def _header(name: str, value) -> str:
    if isinstance(value, tuple):  # (display name, address)
        return f"{name}: {formataddr(value, charset='utf-8')}"
    value = " ".join(str(value).split())
    if _ascii(value):
        return f"{name}: {value}"
    return f"{name}: {Header(value, 'utf-8', header_name=name).encode(linesep=chr(10))}"


def _b64(data: bytes) -> str:
    return base64.encodebytes(data).decode("ascii")


def _text_part(subtype: str, text: str) -> str:
    return f'Content-Type: text/{subtype}; charset="utf-8"\nContent-Transfer-Encoding: base64\n\n' + _b64(
        text.replace("\r\n", "\n").encode("utf-8")
    )


def _multipart(subtype: str, parts: list[str]) -> str:
    boundary = f"=_{uuid.uuid4().hex}"  # "=_" never occurs in base64
    body = "".join(f"--{boundary}\n{part}\n" for part in parts)
    return f'Content-Type: multipart/{subtype}; boundary="{boundary}"\n\n{body}--{boundary}--\n'


def _writable(email: OutboxEmail) -> bool:
    return email.attachment_sealed is None and _ascii(email.to_address)


def raw_message(email: OutboxEmail, look: EmailLook | None = None) -> RawEmail:
    """The email in its wire form (`look`: the practice's, read once by the batch)."""
    sender, headers, look = message_headers(email, look)
    if not _writable(email) or not _ascii(sender):
        return _flattened(email, sender, look)
    look = look or email_look()
    domain = current_app.config["PORTICO"].base_host
    text = _unseal(email, "body_sealed")
    subject = dict(headers)["Subject"]
    cid = f"logo.{uuid.uuid4().hex}@{domain}" if look.logo else None
    html = _text_part("html", render_html(text, subject, look, cid))
    if look.logo:
        kind = look.logo_type.split("/")[1]
        logo = (
            f"Content-Type: image/{kind}\n"
            f'Content-Disposition: inline; filename="logo.{LOGO_TYPES[look.logo_type]}"\n'
            f"Content-ID: <{cid}>\n"
            "Content-Transfer-Encoding: base64\n\n" + _b64(look.logo)
        )
        html = _multipart("related", [html, logo])
    lines = [_header(name, value) for name, value in headers]
    body = _multipart("alternative", [_text_part("plain", text), html])
    wire = "\n".join(lines) + "\nMIME-Version: 1.0\n" + body
    return RawEmail(sender, [email.to_address], wire.replace("\n", "\r\n").encode("ascii"))


def _flattened(email: OutboxEmail, sender: str, look: EmailLook | None) -> RawEmail:
    message = build_message(email, look=look)
    out = BytesIO()
    BytesGenerator(out, policy=SMTP).flatten(message)
    return RawEmail(sender, [email.to_address], out.getvalue())
