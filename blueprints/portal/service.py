"""Who may see and do what in a client's portal: plain rules over plain values, and the records a
login may open today (`accessible_records`).

A login reaches a client record through a PortalAccess row: as that client ("self") or as a
guardian. Guardian access needs the practice's guardian feature, a minor (by date of birth and the
practice's age of majority) and an unrevoked grant; it ends the day the minor comes of age. A
guardian sees the minor's own messages only when allowed: by default only below the teen age.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from blueprints.people.models import Client, PortalAccess
from blueprints.people.operations.access import age_on
from tenants.database import db
from tenants.features import PracticeSettings, practice_settings, practice_today


@dataclass(frozen=True)
class Permissions:
    appointments: bool = False
    forms: bool = False
    documents: bool = False
    own_messages: bool = False  # the record's own thread (for a minor: their private one)
    guardian_messages: bool = False  # the guardians' thread about a minor
    billing: bool = False
    minor_uploads: bool = False  # for a guardian: the files the minor uploaded themselves

    @property
    def messages(self) -> bool:
        return self.own_messages or self.guardian_messages


SELF = Permissions(appointments=True, forms=True, documents=True, own_messages=True, billing=True)
# A profile-link session before step-up: appointments only.
LINK_ONLY = Permissions(appointments=True)


def is_minor(client: Client, settings: PracticeSettings, today: date) -> bool:
    age = age_on(client.date_of_birth, today)
    return age is not None and age < settings.age_of_majority


def guardian_sees_minor_messages(
    access: PortalAccess, client: Client, settings: PracticeSettings, today: date
):
    if access.minor_messages == "allow":
        return True
    if access.minor_messages == "deny":
        return False
    age = age_on(client.date_of_birth, today)
    return age is not None and age < settings.teen_age


def permissions_for(
    access: PortalAccess, client: Client, settings: PracticeSettings, today: date
) -> Permissions | None:
    """What this grant allows today, or None when it allows nothing at all."""
    if access.revoked_at is not None or client.status != "active":
        return None
    if access.relationship_kind == "self":
        return SELF
    if not settings.guardian_access_enabled or not is_minor(client, settings, today):
        return None
    return Permissions(
        appointments=access.can_appointments,
        forms=access.can_forms,
        documents=access.can_documents,
        own_messages=guardian_sees_minor_messages(access, client, settings, today),
        guardian_messages=access.can_messages,
        billing=access.can_billing,
        minor_uploads=access.can_see_minor_uploads,
    )


def accessible_records(user) -> list[tuple[PortalAccess, Client, Permissions]]:
    """Every client record `user` may open today, with what they may do there."""
    settings, today = practice_settings(), practice_today()
    rows = db.session.execute(
        select(PortalAccess, Client)
        .join(Client, Client.id == PortalAccess.client_id)
        .where(PortalAccess.user_id == user.id)
        .order_by(Client.first_name, Client.id)
    ).all()
    result = []
    for access, client in rows:
        permissions = permissions_for(access, client, settings, today)
        if permissions is not None:
            result.append((access, client, permissions))
    return result
