"""Grants on a client's record: guardians of minors (adding one, what they may see and do),
revoking any grant (a guardian's or the client's own login), and how each grant looks on the record.

The rules that apply a guardian's permissions in the portal live in `portal.service`.
"""

from __future__ import annotations

from sqlalchemy import select

from app.refusals import Problems
from blueprints.auth.models import User
from blueprints.auth.service import AccountError
from blueprints.people.models import GUARDIAN_PERMISSIONS, MINOR_MESSAGES_CHOICES, Client, PortalAccess
from blueprints.people.operations.access import (
    access_row,
    audit,
    check_may_grant,
    grant_access,
    is_minor,
    revoke_access,
)
from blueprints.people.operations.invites import portal_login, send_portal_email
from tenants.context import current_practice
from tenants.database import db
from tenants.features import practice_settings

GUARDIAN_PERMISSION_LABELS = {
    "appointments": "appointments",
    "forms": "complete forms",
    "documents": "documents",
    "messages": "messages on the minor's behalf",
    "billing": "billing",
}
# The permissions staff can set and see (billing came back with payments; off unless ticked).
OFFERED_PERMISSIONS = ("appointments", "forms", "documents", "messages", "billing")


def grants_for_client(client: Client, relationship: str | None = None) -> list[PortalAccess]:
    query = (
        select(PortalAccess)
        .join(User, User.id == PortalAccess.user_id)
        .where(PortalAccess.client_id == client.id)
        .order_by(PortalAccess.revoked_at.is_not(None), User.name, PortalAccess.id)
    )
    if relationship:
        query = query.where(PortalAccess.relationship_kind == relationship)
    return list(db.session.scalars(query))


def access_for_client(client: Client, access_id: int, relationship: str) -> PortalAccess | None:
    """The grant `access_id` on this client's record (of that kind), else None (callers 404)."""
    access = db.session.get(PortalAccess, access_id)
    if access is None or access.client_id != client.id or access.relationship_kind != relationship:
        return None
    return access


def _guardian_permissions(permissions: dict) -> dict:
    """The values a guardian form sets: the offered permissions and the minor's-messages rule (any
    other permission in `permissions` is ignored, so its column keeps its value)."""
    values = {f"can_{name}": bool(permissions.get(f"can_{name}")) for name in OFFERED_PERMISSIONS}
    minor_messages = permissions.get("minor_messages") or "default"
    if minor_messages not in MINOR_MESSAGES_CHOICES:
        raise Problems({"minor_messages": "Choose whether the guardian may see the minor's own messages."})
    values["minor_messages"] = minor_messages
    values["can_see_minor_uploads"] = bool(permissions.get("can_see_minor_uploads"))
    return values


def guardian_allows(access: PortalAccess) -> list[str]:
    """What the record shows the guardian may do (the offered permissions that are on)."""
    offered = [name for name in OFFERED_PERMISSIONS if getattr(access, f"can_{name}")]
    return [GUARDIAN_PERMISSION_LABELS[name] for name in offered]


def _describe(access: PortalAccess) -> str:
    """The audit line's account of a grant as stored (every permission column, offered or not)."""
    allowed = [name for name in GUARDIAN_PERMISSIONS if getattr(access, f"can_{name}")]
    own_uploads = "yes" if access.can_see_minor_uploads else "no"
    return (
        f"may: {', '.join(allowed) or 'nothing'}; minor's own messages: {access.minor_messages}; "
        f"minor's own uploads: {own_uploads}"
    )


def add_guardian(actor: User, minor: Client, name: str, email: str, permissions: dict) -> PortalAccess:
    """Let a guardian (new or existing login) act for `minor`, within `permissions`, and email them."""
    check_may_grant(actor)
    if minor.status != "active":
        raise AccountError("This record is archived. Unarchive it before adding a guardian.")
    if minor.date_of_birth is None:
        raise AccountError(
            f"{minor.display_name} has no date of birth on file. Guardians can be added for minors only."
        )
    if not is_minor(minor):
        raise AccountError(
            f"{minor.display_name} is not a minor (age of majority: {practice_settings().age_of_majority}), "
            "so a guardian cannot be added."
        )
    if not (name or "").strip():
        raise AccountError("Enter the guardian's name.")
    values = _guardian_permissions(permissions)
    user = portal_login(email, name)
    existing = access_row(user, minor)
    if existing is not None and existing.relationship_kind == "self":
        raise AccountError(f"{user.email} is {minor.display_name}'s own login and cannot be a guardian too.")
    if existing is not None and existing.revoked_at is None:
        raise AccountError(f"{user.name} is already a guardian of {minor.display_name}.")
    access = grant_access(user, minor, "guardian", **values)
    audit(actor, "granted guardian access", minor, detail=f"{user.email}; {_describe(access)}")
    practice = current_practice().name
    send_portal_email(
        actor,
        minor,
        user,
        invite=(
            f"You are invited to the {practice} portal",
            f"{practice} invites you to its secure client portal as a guardian of {minor.display_name}.",
        ),
        added=(
            f"A minor was added to your {practice} portal",
            f"{practice} added {minor.display_name} to your portal account: you can now act for them "
            "as their guardian. After you log in, choose whose portal to open.",
        ),
    )
    return access


def update_guardian(actor: User, access: PortalAccess, permissions: dict) -> None:
    check_may_grant(actor)
    values = _guardian_permissions(permissions)
    for name, value in values.items():
        setattr(access, name, value)
    db.session.flush()
    audit(actor, "changed guardian access", access.client, detail=f"{access.user.email}; {_describe(access)}")


def revoke(actor: User, access: PortalAccess) -> None:
    """End a grant at once (the portal re-checks grants on every request)."""
    check_may_grant(actor)
    if access.revoked_at is not None:
        return
    revoke_access(access)
    kind = "guardian access" if access.relationship_kind == "guardian" else "portal access"
    audit(actor, f"revoked {kind}", access.client, detail=access.user.email)


def own_login_state(client: Client, grants: list[PortalAccess]) -> str | None:
    """The state of the live 'self' grant of the login that uses the client's email, if any."""
    for access in grants:
        same_email = (access.user.email or "").lower() == (client.email or "").strip().lower()
        if access.relationship_kind == "self" and access.revoked_at is None and same_email:
            return access_state(access)
    return None


def access_state(access: PortalAccess) -> str:
    """How a grant looks on the client's record: revoked, ended (came of age), invited or active."""
    if access.revoked_at is not None:
        return "revoked"
    if access.relationship_kind == "guardian" and not is_minor(access.client):
        return "ended"
    if access.user.password_hash is None:
        return "invited"
    return "active"
