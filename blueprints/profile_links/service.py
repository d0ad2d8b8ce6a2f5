"""Rules and operations of profile links: passwordless `/l/<token>` links into one client's portal.
(The step-up a profile-link session needs for messages, documents and forms is `profile_links.step_up`;
the session itself is `profile_links.sessions`.)

A link's token has 256 random bits and is stored only as its SHA-256; it is bound to one client of one
practice (the row lives in that practice's schema, so another practice's token is simply not found),
expires after the practice's `profile_link_days`, can be revoked, and is used up by its first exchange
for a session. Sending, opening and revoking links write their own audit lines.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, or_, select, update

from app.refusals import NotFound, Refusal
from app.tokens import new_token, token_hash
from blueprints.audit.service import record
from blueprints.auth.models import User
from blueprints.notifications.service import queue_email
from blueprints.people.models import Client, PortalAccess
from blueprints.portal.service import is_minor, permissions_for
from blueprints.profile_links.models import ProfileLink
from tenants.addresses import practice_url
from tenants.context import current_practice
from tenants.database import db
from tenants.features import is_enabled, practice_settings, practice_today

# secrets.token_urlsafe(32): 43 characters of the URL-safe base64 alphabet.
_TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{43}$")
SELF_SERVICE_LINKS_PER_HOUR = 3  # "email me a new link" answers for one client at most this often


def _now() -> datetime:
    return datetime.now(UTC)


def link_path(raw_token: str) -> str:
    return f"/l/{raw_token}"


def create_link(
    client: Client, created_by: User | None = None, flush: bool = True, access_id: int | None = None
) -> str:
    """A new link for `client`; returns the raw token (never stored). `flush=False`: the caller
    flushes (a batch of links in one INSERT). `access_id`: a guardian's grant for the minor `client`:
    the link is the guardian's own (see `guardian_link_allowed`)."""
    raw = new_token()  # 256 random bits
    db.session.add(
        ProfileLink(
            client_id=client.id,
            portal_access_id=access_id,
            token_hash=token_hash(raw),
            created_by_user_id=created_by.id if created_by is not None else None,
            expires_at=_now() + timedelta(days=practice_settings().profile_link_days),
        )
    )
    if flush:
        db.session.flush()
    return raw


def profile_link_url(
    client: Client, created_by: User | None = None, flush: bool = True, access_id: int | None = None
) -> str:
    """Create a link for `client` (a guardian's own with `access_id`) and return its absolute address
    (for automated emails)."""
    return practice_url(current_practice().slug, link_path(create_link(client, created_by, flush, access_id)))


def _live_link_filter():
    return (
        ProfileLink.used_at.is_(None),
        ProfileLink.revoked_at.is_(None),
        ProfileLink.expires_at > func.now(),
        ProfileLink.client_id.in_(select(Client.id).where(Client.status == "active")),
        # A guardian's link dies with their grant (the session re-checks all of it on each request).
        or_(
            ProfileLink.portal_access_id.is_(None),
            ProfileLink.portal_access_id.in_(
                select(PortalAccess.id).where(
                    PortalAccess.revoked_at.is_(None), PortalAccess.relationship_kind == "guardian"
                )
            ),
        ),
    )


def well_formed(raw_token: str | None) -> bool:
    return bool(raw_token) and bool(_TOKEN_SHAPE.match(raw_token))


def find_live_link(raw_token: str | None) -> ProfileLink | None:
    """The live link with this token (not expired, revoked or used; client active), or None."""
    if not well_formed(raw_token):
        return None
    return db.session.scalars(
        select(ProfileLink).where(ProfileLink.token_hash == token_hash(raw_token), *_live_link_filter())
    ).first()


def consume_link(raw_token: str | None) -> ProfileLink | None:
    """Use a link up and return it, or None. Atomic: of two racing uses, exactly one wins.
    The audit line says the client opened it."""
    if not well_formed(raw_token):
        return None
    link_id = db.session.execute(
        update(ProfileLink)
        .where(ProfileLink.token_hash == token_hash(raw_token), *_live_link_filter())
        .values(used_at=func.now())
        .returning(ProfileLink.id)
        .execution_options(synchronize_session=False)
    ).scalar()
    if link_id is None:
        return None
    link = db.session.get(ProfileLink, link_id, populate_existing=True)
    guardian = link.portal_access.user if link.portal_access is not None else None
    record(
        "opened a profile link",
        actor_kind="guardian" if guardian is not None else "profile_link",
        actor_user_id=guardian.id if guardian is not None else None,
        actor_name=guardian.name if guardian is not None else link.client.display_name,
        client_id=link.client_id,
    )
    return link


def live_links(client_id: int) -> list[ProfileLink]:
    return list(
        db.session.scalars(
            select(ProfileLink)
            .where(ProfileLink.client_id == client_id, *_live_link_filter())
            .order_by(ProfileLink.created_at.desc(), ProfileLink.id.desc())
        )
    )


def revoke_link(staff: User, client: Client, link_id: int) -> None:
    """Staff revoke one live link of `client` (NotFound when it has no such live link)."""
    revoked = db.session.execute(
        update(ProfileLink)
        .where(ProfileLink.id == link_id, ProfileLink.client_id == client.id, *_live_link_filter())
        .values(revoked_at=func.now())
        .returning(ProfileLink.id)
        .execution_options(synchronize_session=False)
    ).scalar()
    if revoked is None:
        raise NotFound()
    record("revoked profile links", client_id=client.id, detail="one link", **staff.audit_actor)


def end_link_session(client_id: int, link_id: int) -> None:
    """Logging out of a profile-link session: its link (used already) is revoked, so a copy of the
    session cookie opens nothing afterwards."""
    db.session.execute(
        update(ProfileLink)
        .where(ProfileLink.id == link_id, ProfileLink.client_id == client_id)
        .where(ProfileLink.revoked_at.is_(None))
        .values(revoked_at=func.now())
        .execution_options(synchronize_session=False)
    )


def revoke_all(staff: User, client: Client) -> int:
    """Staff revoke every link of `client` not revoked yet; returns how many.

    Used links are marked too: a session opened by one carries the link's id (`link_id`), so the
    portal can end such sessions when their link is revoked.
    """
    rows = db.session.execute(
        update(ProfileLink)
        .where(ProfileLink.client_id == client.id, ProfileLink.revoked_at.is_(None))
        .values(revoked_at=func.now())
        .returning(ProfileLink.id)
        .execution_options(synchronize_session=False)
    ).all()
    record(
        "revoked profile links", client_id=client.id, detail=f"all links ({len(rows)})", **staff.audit_actor
    )
    return len(rows)


def link_email(client: Client, url: str) -> tuple[str, str]:
    """Subject and body of an email that carries a profile link."""
    practice = current_practice()
    days = practice_settings().profile_link_days
    return (
        f"Your link to the {practice.name} portal",
        f"Hello {client.display_name},\n\n"
        f"{practice.name} sent you a link to your client portal. Open it to see and manage your "
        f"appointments:\n\n{url}\n\n"
        f"The link works once and expires in {days} days. Please do not forward this email.\n"
        "If you did not expect it, you can ignore it.\n",
    )


def links_allowed(client: Client) -> bool:
    """Minors get no profile links: a minor's address on file is often a parent's, and a link opens
    the record as the minor. Minors and guardians use their own logins instead."""
    return client.status == "active" and not is_minor(client, practice_settings(), practice_today())


def guardian_link_allowed(client: Client, access: PortalAccess) -> bool:
    """A guardian gets their own link for a minor while their grant holds today (unrevoked, guardian
    access on, the minor not of age) and their login is active."""
    if access.relationship_kind != "guardian" or access.client_id != client.id:
        return False
    if permissions_for(access, client, practice_settings(), practice_today()) is None:
        return False
    user = db.session.get(User, access.user_id)
    return user is not None and user.is_active_account


def send_link(staff: User, client: Client) -> None:
    """Email `client` a fresh link (staff's "Email a profile link")."""
    if client.status != "active":
        raise Refusal("Archived clients cannot be sent a profile link.")
    if not links_allowed(client):
        raise Refusal(
            "Minors are not sent profile links: invite the minor or a guardian to the portal instead."
        )
    if not (client.email or "").strip():
        raise Refusal("This client has no email address on file. Add one to the record first.")
    subject, body = link_email(client, profile_link_url(client, created_by=staff))
    queue_email(client.email.strip(), subject, body)
    record("sent a profile link", client_id=client.id, **staff.audit_actor)


def request_new_link(email: str) -> list[Client]:
    """ "Email me a new link": email a fresh link to each active client whose address on file is `email`.

    The caller answers the same whatever this returns (the clients that were sent a link).
    """
    address = (email or "").strip().lower()
    if not address or not is_enabled("profile_links"):
        return []
    clients = db.session.scalars(
        select(Client)
        .where(func.lower(Client.email) == address, Client.status == "active")
        .order_by(Client.id)
    ).all()
    hour_ago = _now() - timedelta(hours=1)
    sent = []
    for client in clients:
        if not links_allowed(client):
            continue
        recent = db.session.scalar(
            select(func.count(ProfileLink.id)).where(
                ProfileLink.client_id == client.id, ProfileLink.created_at > hour_ago
            )
        )
        if recent >= SELF_SERVICE_LINKS_PER_HOUR:
            continue
        subject, body = link_email(client, profile_link_url(client))
        queue_email(client.email.strip(), subject, body)
        sent.append(client)
    return sent
