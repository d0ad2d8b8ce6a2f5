"""Rules of the practice's identity: who may change the logo and the accent colour, what is
accepted, and what the pages are given to show it.

Owners and admins change it; every change is checked in full before anything is stored, raises
the row's `version` and writes its audit line. Pages read it once per request (`current_identity`).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from flask import g
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from app.refusals import NotAllowed, Problems
from app.roles import MANAGES_PRACTICE
from blueprints.audit.service import record
from blueprints.auth.models import User
from blueprints.branding import colour
from blueprints.branding.image import clean_logo
from blueprints.branding.models import PracticeIdentity
from tenants.context import current_practice
from tenants.database import db

BRANDING_ROLES = MANAGES_PRACTICE
BAD_COLOUR = "Enter the colour as # and six hex digits, like #1f5f8b."
# Colours that pass both checks, offered as a starting point.
SUGGESTED = {
    "Harbour blue": "#1f5f8b",
    "Deep teal": "#0f6466",
    "Forest": "#2e6b3a",
    "Plum": "#6f3a7a",
    "Berry": "#9b2c57",
    "Slate": "#3d4f63",
}


@dataclass(frozen=True)
class Look:
    """What a page needs to show the practice's identity."""

    version: int
    has_logo: bool
    accent: str | None  # None: the default look


def current_identity() -> PracticeIdentity | None:
    """The bound practice's identity row (None until something was set), read once per request."""
    practice = current_practice()
    cached = g.get("_portico_identity")
    if cached is None or cached[0] != practice.id:
        cached = (practice.id, db.session.get(PracticeIdentity, 1))
        g._portico_identity = cached
    return cached[1]


def current_look() -> Look:
    row = current_identity()
    if row is None:
        return Look(version=0, has_logo=False, accent=None)
    return Look(version=row.version, has_logo=row.has_logo, accent=row.accent_colour)


def logo() -> tuple[bytes, str, int] | None:
    """The logo's bytes, content type and version, or None when the practice has none."""
    row = db.session.execute(
        select(PracticeIdentity.logo, PracticeIdentity.logo_content_type, PracticeIdentity.version).where(
            PracticeIdentity.id == 1
        )
    ).first()
    if row is None or row.logo is None or row.logo_content_type is None:
        return None
    return row.logo, row.logo_content_type, row.version


def theme_css(look: Look) -> str:
    """The practice's colours as CSS custom properties (the site CSS uses them)."""
    accent = look.accent or colour.DEFAULT_ACCENT
    return (
        ":root {\n"
        f"  --portico-accent: {accent};\n"
        f"  --portico-accent-contrast: {colour.WHITE};\n"
        f"  --portico-accent-hover: {colour.darker(accent)};\n"
        "}\n"
    )


def swatch(accent: str) -> str:
    """A preview of `accent` as an image address (an SVG in a data: URL, which the CSP allows):
    a button with white text on the colour, and a link in the colour on the page background."""
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="320" height="64" viewBox="0 0 320 64">'
        f'<rect width="320" height="64" fill="{colour.PAGE_BACKGROUND}"/>'
        f'<rect x="8" y="12" width="168" height="40" rx="6" fill="{accent}"/>'
        '<text x="92" y="37" text-anchor="middle" font-family="system-ui, sans-serif" font-size="15" '
        f'fill="{colour.WHITE}">Book an appointment</text>'
        '<text x="196" y="37" font-family="system-ui, sans-serif" font-size="15" text-decoration="underline" '
        f'fill="{accent}">A link</text></svg>'
    )
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def chip(accent: str) -> str:
    """A small square of `accent` as an image address (for the list of suggested colours)."""
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="24" height="24" viewBox="0 0 24 24">'
        f'<rect width="24" height="24" rx="4" fill="{accent}"/></svg>'
    )
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def ratios(accent: str) -> dict[str, str]:
    return {
        "on_accent": colour.shown(colour.contrast(accent, colour.WHITE)),
        "on_page": colour.shown(colour.contrast(accent, colour.PAGE_BACKGROUND)),
    }


def checked_accent(value: str | None) -> str:
    """`value` as "#rrggbb" when it may be the accent colour; a `Problems` for "accent" otherwise."""
    parsed = colour.parse_hex(value)
    if parsed is None:
        raise Problems({"accent": BAD_COLOUR})
    problem = colour.accent_problem(parsed)
    if problem:
        raise Problems({"accent": problem})
    return parsed


# --- Changes --------------------------------------------------------------------------------------


def _allowed(staff: User) -> None:
    if not staff.is_staff or staff.role not in BRANDING_ROLES:
        raise NotAllowed()


def _row_for_update() -> PracticeIdentity:
    db.session.execute(insert(PracticeIdentity).values(id=1).on_conflict_do_nothing())
    row = db.session.scalars(
        select(PracticeIdentity)
        .where(PracticeIdentity.id == 1)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    g.pop("_portico_identity", None)
    return row


def _changed(staff: User, row: PracticeIdentity, action: str, detail: str | None = None) -> None:
    row.version = (row.version or 0) + 1
    db.session.flush()
    record(action, detail=detail, **staff.audit_actor)


def set_logo(staff: User, data: bytes) -> PracticeIdentity:
    """Store the uploaded logo (re-encoded; see `image.clean_logo`) in place of any earlier one."""
    _allowed(staff)
    cleaned, content_type = clean_logo(data)
    row = _row_for_update()
    row.logo, row.logo_content_type = cleaned, content_type
    _changed(staff, row, "changed practice logo", detail=f"{content_type}, {len(cleaned)} bytes")
    return row


def remove_logo(staff: User) -> bool:
    _allowed(staff)
    row = _row_for_update()
    if not row.has_logo:
        return False
    row.logo, row.logo_content_type = None, None
    _changed(staff, row, "removed practice logo")
    return True


def set_accent(staff: User, value: str | None) -> str | None:
    """Make `value` the accent colour (checked first); None or "" goes back to the default.
    Returns the colour now in use (None: the default)."""
    _allowed(staff)
    accent = checked_accent(value) if (value or "").strip() else None
    row = _row_for_update()
    if row.accent_colour == accent:
        return accent
    row.accent_colour = accent
    _changed(staff, row, "changed accent colour", detail=accent or "default")
    return accent
