"""How a practice's emails look: the HTML alternative of every email, in the practice's colours.

Every email goes out as multipart/alternative: the plain text as it was queued, and an HTML part
rendered from one email-safe template (`templates/email/message.html`: tables and inline styles)
with the accent colour as the header bar and button colour, the practice's name, and the logo as an
inline part referenced by `cid:`, never fetched from an address. The HTML says nothing the text does
not: it is the text, escaped, with its links made clickable.

The HTML is built at send time from the unsealed text and is never stored: the text holds links
with tokens, and it is kept only sealed until sent (see `service`).

`notifications` sits below `branding`, so the practice's look comes from a registered provider
(`register_email_look`); without one, or for a practice with no identity set, the default look.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage

from flask import current_app
from markupsafe import Markup, escape

from tenants.context import current_practice

TEMPLATE = "email/message.html"
# The default accent of pages and emails alike (branding reuses it; keep in step with
# app/static/css/branding.css): a calm teal, white text on it reads at 6.2:1.
DEFAULT_ACCENT = "#1d6b73"
LOGO_TYPES = {"image/png": "png", "image/jpeg": "jpg"}
_COLOUR = re.compile(r"^#[0-9a-f]{6}$")
# http(s) addresses only; what ends a sentence is not part of the address.
_LINK = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}'\""


@dataclass(frozen=True)
class EmailLook:
    """What an email shows of the practice: its name, accent colour ("#rrggbb", white text on it
    readable) and logo (PNG or JPEG bytes and their content type), or no logo."""

    name: str
    accent: str = DEFAULT_ACCENT
    logo: bytes | None = None
    logo_type: str | None = None


_provider: Callable[[], EmailLook | None] | None = None


def register_email_look(provider: Callable[[], EmailLook | None]) -> None:
    """`provider()` gives the bound practice's look (None: the default look). Branding registers it."""
    global _provider
    _provider = provider


def email_look() -> EmailLook:
    """The bound practice's look, checked: a colour that is not "#rrggbb" or a logo of another type
    is replaced by the default rather than put into the email."""
    name = current_practice().name
    look = _provider() if _provider is not None else None
    if look is None:
        return EmailLook(name=name)
    accent = look.accent if _COLOUR.match(look.accent or "") else DEFAULT_ACCENT
    has_logo = bool(look.logo) and look.logo_type in LOGO_TYPES
    return EmailLook(
        name=look.name or name,
        accent=accent,
        logo=look.logo if has_logo else None,
        logo_type=look.logo_type if has_logo else None,
    )


# ---------------------------------------------------------------------------------------------
# The text as HTML
# ---------------------------------------------------------------------------------------------


def _split_link(match: re.Match) -> tuple[str, str]:
    """The address a match stands for, and what trails it (a full stop, a closing bracket)."""
    found = match.group(0)
    address = found.rstrip(_TRAILING)
    return address, found[len(address) :]


def linked(text: str, colour: str = DEFAULT_ACCENT) -> Markup:
    """`text` escaped, with every http(s) address in it a link (in `colour`, "#rrggbb")."""
    out, last = [], 0
    for match in _LINK.finditer(text):
        address, trailing = _split_link(match)
        out.append(escape(text[last : match.start()]))
        out.append(Markup('<a href="{0}" style="color:{1};">{0}</a>').format(address, colour))
        out.append(escape(trailing))
        last = match.end()
    out.append(escape(text[last:]))
    return Markup("").join(out)


def blocks(text: str, colour: str = DEFAULT_ACCENT) -> list[dict]:
    """The text as paragraphs for the template: a paragraph that is one address alone becomes a
    button ({"button": address}); any other is lines of linked text ({"lines": [...]})."""
    result = []
    for paragraph in re.split(r"\n\s*\n", text.replace("\r\n", "\n").strip()):
        alone = _LINK.fullmatch(paragraph.strip())
        if alone is not None and not _split_link(alone)[1]:
            result.append({"button": alone.group(0)})
        elif paragraph.strip():
            result.append({"lines": [linked(line, colour) for line in paragraph.split("\n")]})
    return result


def render_html(text: str, subject: str, look: EmailLook, logo_cid: str | None) -> str:
    """The HTML alternative of an email whose plain text is `text` (`logo_cid`: the logo part's
    Content-ID without its angle brackets, or None for no logo)."""
    # The bare Jinja environment: no request, and no page context processors, at send time.
    template = current_app.jinja_env.get_template(TEMPLATE)
    return template.render(subject=subject, look=look, logo_cid=logo_cid, blocks=blocks(text, look.accent))


def add_html_alternative(
    message: EmailMessage, text: str, subject: str, domain: str, look: EmailLook | None = None
) -> None:
    """Make `message` (its plain text already set) multipart/alternative with the HTML part, and
    the logo inline in a multipart/related beside the HTML. Call before adding attachments.
    `look`: instead of the practice's own (discreet emails show none of it)."""
    look = look or email_look()
    cid = f"<logo.{uuid.uuid4().hex}@{domain}>" if look.logo else None
    message.add_alternative(render_html(text, subject, look, cid[1:-1] if cid else None), subtype="html")
    if look.logo:
        html_part = message.get_payload()[-1]
        html_part.add_related(
            look.logo,
            maintype="image",
            subtype=look.logo_type.split("/")[1],
            cid=cid,
            disposition="inline",
            filename=f"logo.{LOGO_TYPES[look.logo_type]}",
        )
