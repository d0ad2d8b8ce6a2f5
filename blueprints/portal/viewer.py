"""Who is looking at the client portal in this request, at which client record, with what rights.

Three ways in, one answer (`current_viewer()`):
- a client-side login (adult, family member, guardian, minor): the record picked in the session,
  re-checked against its PortalAccess grant on every request, so a revoked grant or a minor's
  coming of age ends access at once;
- a profile-link session: one client record, appointments only until a step-up;
- staff "Preview as client": a test client's portal, read-only, the staff login untouched.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import wraps

from flask import abort, g, redirect, request, session, url_for
from flask_login import current_user
from sqlalchemy import select

from app.roles import SEES_ALL_CLIENTS
from blueprints.people.models import Client, PortalAccess
from blueprints.portal.service import LINK_ONLY, SELF, Permissions, is_minor, permissions_for
from tenants.context import current_practice
from tenants.database import db
from tenants.features import is_enabled, practice_settings, practice_today

STEP_UP_MINUTES = 30
PREVIEW_ROLES = SEES_ALL_CLIENTS


@dataclass(frozen=True)
class Viewer:
    kind: str  # "client", "guardian", "profile_link", "preview"
    client: Client
    permissions: Permissions
    user_id: int | None = None
    name: str = ""
    stepped_up: bool = True

    @property
    def read_only(self) -> bool:
        return self.kind == "preview"

    @property
    def audit_actor(self) -> dict:
        return {"actor_kind": self.kind, "actor_user_id": self.user_id, "actor_name": self.name}


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


def _viewer_for_login() -> Viewer | None:
    if not current_user.is_authenticated or current_user.is_staff:
        return None
    client_id = session.get("active_client_id")
    if client_id is None:
        return None
    for access, client, permissions in accessible_records(current_user):
        if client.id == client_id:
            kind = "client" if access.relationship_kind == "self" else "guardian"
            return Viewer(kind, client, permissions, user_id=current_user.id, name=current_user.name)
    session.pop("active_client_id", None)  # that access has ended
    return None


def _viewer_for_profile_link() -> Viewer | None:
    link = session.get("profile_link")
    if not link or link.get("practice_id") != current_practice().id:
        return None
    client = db.session.get(Client, link["client_id"])
    if client is None or client.status != "active" or not is_enabled("profile_links"):
        return None
    from blueprints.profile_links.models import ProfileLink  # (that package's routes import this module)

    if is_minor(client, practice_settings(), practice_today()):
        return None  # minors use their own login (see profile_links.service.links_allowed)
    # Revoking a link (or all of a client's links) also ends the session it opened.
    opened_by = db.session.get(ProfileLink, link.get("link_id") or 0)
    if opened_by is None or opened_by.client_id != client.id or opened_by.revoked_at is not None:
        return None
    stepped_up = time.time() - link.get("stepped_up_at", 0) < STEP_UP_MINUTES * 60
    return Viewer(
        "profile_link",
        client,
        SELF if stepped_up else LINK_ONLY,
        name=client.display_name,
        stepped_up=stepped_up,
    )


def _viewer_for_preview() -> Viewer | None:
    client_id = session.get("preview_client_id")
    if client_id is None or not current_user.is_authenticated or not current_user.is_staff:
        return None
    if current_user.role not in PREVIEW_ROLES:
        return None  # the staff member's role changed since the preview started
    client = db.session.get(Client, client_id)
    if client is None or not client.is_test:
        return None
    return Viewer("preview", client, SELF, user_id=current_user.id, name=current_user.name)


def current_viewer() -> Viewer | None:
    """Nobody is looking at a client portal while the practice has it closed."""
    if "_portico_viewer" not in g:
        g._portico_viewer = (
            (_viewer_for_preview() or _viewer_for_login() or _viewer_for_profile_link())
            if is_enabled("portal")
            else None
        )
    return g._portico_viewer


def start_profile_link_session(client: Client) -> None:
    """A fresh session that opens `client`'s portal with appointments only (no step-up yet)."""
    session.clear()
    now = int(time.time())
    session["profile_link"] = {"practice_id": current_practice().id, "client_id": client.id}
    session["practice_id"] = current_practice().id
    session["login_at"] = now
    session["seen_at"] = now
    session.permanent = True


def mark_stepped_up() -> None:
    link = dict(session.get("profile_link") or {})
    if link:
        link["stepped_up_at"] = int(time.time())
        session["profile_link"] = link
        g.pop("_portico_viewer", None)


def portal_page(permission: str | None = None, feature: str = "portal", step_up: bool = False):
    """Guard a client-portal view.

    404 when the feature is off (or the portal is); to login when nobody is looking; to the
    step-up page for a profile-link session that has not stepped up; 403 when the viewer's grant
    does not include `permission`.
    """

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not is_enabled("portal") or not is_enabled(feature):
                abort(404)
            viewer = current_viewer()
            if viewer is None:
                if current_user.is_authenticated and not current_user.is_staff:
                    return redirect(url_for("portal.choose"))
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            if step_up and viewer.kind == "profile_link" and not viewer.stepped_up:
                return redirect(url_for("profile_links.step_up", next=request.full_path.rstrip("?")))
            if permission and not getattr(viewer.permissions, permission):
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorate
