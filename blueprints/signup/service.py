"""Signing a practice up: provision it and create its owner, as one transaction.

`sign_up` is the one way a practice comes to be: the signup page and `portico practices create`
both call it. The registry's refusals (`tenants.registry.RegistryError`: an address that is taken,
reserved or malformed) become field problems here, at the boundary between tenants and features.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from flask import current_app

from app.refusals import Problems
from blueprints.auth.service import HANDOFF, create_user, issue_token, password_problem
from tenants.addresses import practice_url
from tenants.context import PracticeRecord
from tenants.provisioning import new_practice
from tenants.registry import MovedTo, RegistryError, lookup_address

_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


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


def _slug_in(address: str) -> str | None:
    """The practice address in what someone typed: "acme", "acme.<base>", "https://acme.<base>/…";
    None when it names another domain or is not an address at all."""
    text = (address or "").strip().lower()
    if "://" not in text:
        text = "//" + text
    try:
        host = urlsplit(text).hostname or ""
    except ValueError:
        return None
    base = current_app.config["PORTICO"].base_host
    host = host.rstrip(".")
    if host.endswith("." + base):
        host = host[: -len(base) - 1]
    return host if _LABEL.match(host) else None


def practice_login_url(address: str) -> str:
    """The login page of the practice at `address` (as typed on the apex page).

    An address with no practice, or a suspended or deleted one, is the same refusal, which names
    no practice: a visitor learns nothing they could not learn by opening the address itself.
    """
    slug = _slug_in(address)
    found = lookup_address(slug) if slug else None
    if isinstance(found, MovedTo):
        return practice_url(found.slug, "/login")
    if found is None:
        raise Problems(
            {
                "address": "We could not find a practice portal at that address. Check the address in an "
                "email from your practice, or ask the practice for it."
            }
        )
    return practice_url(found.slug, "/login")
