"""A profile-link session: what the cookie holds, the portal viewer it gives, and how it ends.

Using a link starts a fresh session bound to one client of this practice and to the link that
opened it. The portal asks `viewer_for_link_session` (registered with `portal.viewer`) who is
looking: appointments only until a step-up, everything a client sees for STEP_UP_MINUTES after one.
Revoking the link, or logging out (auth's `logged_out` signal), ends the session.
"""

from __future__ import annotations

import time

from flask import session

from blueprints.auth.models import User
from blueprints.auth.signals import logged_out
from blueprints.people.models import Client, PortalAccess
from blueprints.portal.service import LINK_ONLY, SELF, Permissions, is_minor, permissions_for
from blueprints.portal.viewer import Viewer, forget_viewer, register_viewer_source
from blueprints.profile_links.models import ProfileLink
from blueprints.profile_links.service import consume_link, end_link_session
from tenants.context import current_practice
from tenants.database import db
from tenants.features import is_enabled, practice_settings, practice_today

SESSION_KEY = "profile_link"
STEP_UP_MINUTES = 30


def open_link(raw_token: str) -> ProfileLink | None:
    """Use the link up and start a fresh session on its client's portal (appointments only until a
    step-up); None, and nothing changed, when the token opens nothing."""
    link = consume_link(raw_token)
    if link is None:
        return None
    session.clear()
    now = int(time.time())
    practice_id = current_practice().id
    # Which link opened this session, so that a revocation can be checked against it.
    session[SESSION_KEY] = {
        "practice_id": practice_id,
        "client_id": link.client_id,
        "link_id": link.id,
        "access_id": link.portal_access_id,  # a guardian's own link: their grant, else None
    }
    session["practice_id"] = practice_id
    session["login_at"] = now
    session["seen_at"] = now
    session.permanent = True
    return link


def viewer_for_link_session() -> Viewer | None:
    link = session.get(SESSION_KEY)
    if not link or link.get("practice_id") != current_practice().id:
        return None
    client = db.session.get(Client, link["client_id"])
    if client is None or client.status != "active" or not is_enabled("profile_links"):
        return None
    # Revoking a link (or all of a client's links) also ends the session it opened.
    opened_by = db.session.get(ProfileLink, link.get("link_id") or 0)
    if opened_by is None or opened_by.client_id != client.id or opened_by.revoked_at is not None:
        return None
    if opened_by.portal_access_id != link.get("access_id"):
        return None
    stepped_up = time.time() - link.get("stepped_up_at", 0) < STEP_UP_MINUTES * 60
    if opened_by.portal_access_id is not None:
        return _guardian_viewer(client, opened_by.portal_access_id, stepped_up)
    if is_minor(client, practice_settings(), practice_today()):
        return None  # minors use their own login (see profile_links.service.links_allowed)
    return Viewer(
        "profile_link",
        client,
        SELF if stepped_up else LINK_ONLY,
        name=client.display_name,
        stepped_up=stepped_up,
    )


def _guardian_viewer(client: Client, access_id: int, stepped_up: bool) -> Viewer | None:
    """A guardian's own link: the guardian acting for the minor, within their grant as it is today
    (re-checked on every request: a revoked grant, guardian access turned off or the minor's coming
    of age ends it), appointments only until a step-up with the guardian's own password or code."""
    access = db.session.get(PortalAccess, access_id)
    if access is None or access.client_id != client.id or access.relationship_kind != "guardian":
        return None
    permissions = permissions_for(access, client, practice_settings(), practice_today())
    user = db.session.get(User, access.user_id)
    if permissions is None or user is None or not user.is_active_account:
        return None
    return Viewer(
        "guardian",
        client,
        permissions if stepped_up else Permissions(appointments=permissions.appointments),
        user_id=user.id,
        name=user.name,
        stepped_up=stepped_up,
        via_link=True,
    )


register_viewer_source(viewer_for_link_session)


def mark_stepped_up() -> None:
    link = dict(session.get(SESSION_KEY) or {})
    if link:
        link["stepped_up_at"] = int(time.time())
        session[SESSION_KEY] = link
        forget_viewer()


@logged_out.connect
def end_on_logout(_app, session, **_extra) -> None:
    """A profile-link session has no account whose sessions could be ended, so logging out revokes
    the link that opened it: a copied cookie opens nothing afterwards."""
    link = session.get(SESSION_KEY) or {}
    if link.get("link_id") and link.get("client_id"):
        end_link_session(link["client_id"], link["link_id"])
