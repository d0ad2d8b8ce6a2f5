"""Who is looking at the client portal in this request, at which client record, with what rights.

Three ways in, one answer (`current_viewer()`):
- staff "Preview as client": a test client's portal, read-only, the staff login untouched;
- a client-side login (adult, family member, guardian, minor): the record picked in the session,
  re-checked against its PortalAccess grant on every request, so a revoked grant or a minor's
  coming of age ends access at once;
- a way in that another feature registers (`register_viewer_source`): profile links register their
  session (one client record, appointments only until a step-up), so this module knows nothing of
  them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from flask import abort, g, redirect, request, session, url_for
from flask_login import current_user

from app.roles import SEES_ALL_CLIENTS
from blueprints.people.models import Client
from blueprints.portal.service import SELF, Permissions, accessible_records  # (scheduling imports it here)
from tenants.database import db
from tenants.features import is_enabled

PREVIEW_ROLES = SEES_ALL_CLIENTS
PREVIEW_KEY = "preview_client_id"


@dataclass(frozen=True)
class Viewer:
    kind: str  # "client", "guardian", "profile_link", "preview"
    client: Client
    permissions: Permissions
    user_id: int | None = None
    name: str = ""
    stepped_up: bool = True
    # A guardian who came in by their own profile link (no login session: `current_user` is anonymous).
    via_link: bool = False

    @property
    def needs_step_up(self) -> bool:
        """A profile-link session (the client's, or a guardian's own) that has not stepped up yet."""
        return (self.kind == "profile_link" or self.via_link) and not self.stepped_up

    @property
    def read_only(self) -> bool:
        return self.kind == "preview"

    @property
    def audit_actor(self) -> dict:
        return {"actor_kind": self.kind, "actor_user_id": self.user_id, "actor_name": self.name}


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


def _viewer_for_preview() -> Viewer | None:
    client_id = session.get(PREVIEW_KEY)
    if client_id is None or not current_user.is_authenticated or not current_user.is_staff:
        return None
    if current_user.role not in PREVIEW_ROLES:
        return None  # the staff member's role changed since the preview started
    client = db.session.get(Client, client_id)
    if client is None or not client.is_test:
        return None
    return Viewer("preview", client, SELF, user_id=current_user.id, name=current_user.name)


_sources: list[Callable[[], Viewer | None]] = [_viewer_for_preview, _viewer_for_login]


def register_viewer_source(source: Callable[[], Viewer | None]) -> None:
    """Add a way into the portal: `source()` gives this request's Viewer or None. Sources are
    asked in the order they were registered, after a preview and a login."""
    if source not in _sources:
        _sources.append(source)


def current_viewer() -> Viewer | None:
    """Nobody is looking at a client portal while the practice has it closed."""
    if "_portico_viewer" not in g:
        g._portico_viewer = _find_viewer() if is_enabled("portal") else None
    return g._portico_viewer


def _find_viewer() -> Viewer | None:
    for source in _sources:
        viewer = source()
        if viewer is not None:
            return viewer
    return None


def forget_viewer() -> None:
    """The session changed during this request (a step-up, a preview): work the viewer out again."""
    g.pop("_portico_viewer", None)


def begin_preview(client: Client) -> None:
    """This staff session now previews the portal of `client` (a test client)."""
    session[PREVIEW_KEY] = client.id
    forget_viewer()


def end_preview() -> None:
    session.pop(PREVIEW_KEY, None)
    forget_viewer()


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
            if step_up and viewer.needs_step_up:
                return redirect(url_for("profile_links.step_up", next=request.full_path.rstrip("?")))
            if permission and not getattr(viewer.permissions, permission):
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorate
