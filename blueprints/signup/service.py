"""Signing a practice up: provision it and create its owner, as one transaction."""

from __future__ import annotations

from blueprints.auth.service import HANDOFF, create_user, issue_token
from tenants.context import PracticeRecord
from tenants.provisioning import new_practice


def sign_up(
    practice_name: str, owner_name: str, email: str, password: str, subdomain: str
) -> tuple[PracticeRecord, str]:
    """Create the practice and its owner; returns the practice and a one-time login hand-off token.

    Raises `tenants.registry.RegistryError` when the address is (or just became) unavailable.
    """
    with new_practice(practice_name.strip(), subdomain) as practice:
        owner = create_user(email, owner_name, password, role="owner")
        token = issue_token(owner, HANDOFF)
    return practice, token
