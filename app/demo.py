"""`portico demo`: a ready-to-try practice, with one printed line per login."""

from __future__ import annotations

from dataclasses import dataclass

from blueprints.auth.service import change_password, create_user, find_user_by_email
from tenants.addresses import practice_url
from tenants.context import practice_scope
from tenants.database import db
from tenants.features import practice_settings
from tenants.provisioning import new_practice
from tenants.registry import lookup_address

DEMO_SLUG = "demo"
DEMO_NAME = "Harbor Family Therapy"


@dataclass(frozen=True)
class DemoLogin:
    role: str
    email: str
    password: str
    name: str


DEMO_LOGINS = (DemoLogin("owner", "owner@harbor.example.com", "demo-owner-pass", "Olivia Owner"),)


def create_demo() -> list[str]:
    """Create (or refresh) the demo practice; returns one line per login."""
    practice = lookup_address(DEMO_SLUG)
    if practice is None or not hasattr(practice, "schema_name"):
        owner = DEMO_LOGINS[0]
        with new_practice(DEMO_NAME, DEMO_SLUG):
            create_user(owner.email, owner.name, owner.password, role="owner")
            practice_settings().portal_enabled = True
        practice = lookup_address(DEMO_SLUG)
    with practice_scope(practice):
        for login in DEMO_LOGINS:
            user = find_user_by_email(login.email) or create_user(
                login.email, login.name, login.password, role=login.role
            )
            change_password(user, login.password)  # the printed password always works
        db.session.commit()
    url = practice_url(DEMO_SLUG, "")
    return [f"{login.role}  {url}  {login.email}  {login.password}" for login in DEMO_LOGINS]
