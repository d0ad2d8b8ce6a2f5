"""Signing a practice up: provision it and create its owner, as one transaction.

`sign_up` is the one way a practice comes to be: the signup page and `portico practices create`
both call it. The registry's refusals (`tenants.registry.RegistryError`: an address that is taken,
reserved or malformed) become field problems here, at the boundary between tenants and features.
"""

from __future__ import annotations

from app.refusals import Problems
from blueprints.auth.service import HANDOFF, create_user, issue_token, password_problem
from tenants.context import PracticeRecord
from tenants.provisioning import new_practice
from tenants.registry import RegistryError


def sign_up(
    practice_name: str,
    owner_name: str,
    email: str,
    password: str,
    subdomain: str,
    *,
    hand_off: bool = True,
) -> tuple[PracticeRecord, str | None]:
    """Create the practice and its owner; returns the practice and, with `hand_off`, a one-time
    token that logs the owner in on the practice's own host.

    Refuses (`Problems`, by field) a password that breaks the rule and an address that is not, or
    just stopped being, available; nothing is created then.
    """
    problem = password_problem(password)
    if problem:
        raise Problems({"password": problem})
    try:
        with new_practice(practice_name.strip(), subdomain) as practice:
            owner = create_user(email, owner_name, password, role="owner")
            token = issue_token(owner, HANDOFF) if hand_off else None
    except RegistryError as error:
        raise Problems({"subdomain": str(error)}) from None
    return practice, token
