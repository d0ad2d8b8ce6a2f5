"""The practice's identity in its emails: registered with `notifications` (which sits below
branding) as the provider of the email look, so every email the bound practice sends carries its
accent colour and its logo, read from its own schema at send time (never cached across practices)."""

from __future__ import annotations

from sqlalchemy import select

from blueprints.branding import colour
from blueprints.branding.models import PracticeIdentity
from blueprints.notifications.look import EmailLook, register_email_look
from tenants.context import current_practice
from tenants.database import db


def email_look() -> EmailLook:
    """The bound practice's name, accent (the default colour until one is chosen) and logo."""
    name = current_practice().name
    row = db.session.execute(
        select(
            PracticeIdentity.accent_colour, PracticeIdentity.logo, PracticeIdentity.logo_content_type
        ).where(PracticeIdentity.id == 1)
    ).first()
    if row is None:
        return EmailLook(name=name, accent=colour.DEFAULT_ACCENT)
    has_logo = row.logo is not None and row.logo_content_type is not None
    return EmailLook(
        name=name,
        accent=row.accent_colour or colour.DEFAULT_ACCENT,
        logo=row.logo if has_logo else None,
        logo_type=row.logo_content_type if has_logo else None,
    )


register_email_look(email_look)
