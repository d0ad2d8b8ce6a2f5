"""Portal addresses (subdomains): what makes one valid, and how to build a practice's URLs.

Links that leave the application (emails, redirects to another host) are built from the stored slug
and PORTICO_BASE_DOMAIN, never from the request's Host header.
"""

from __future__ import annotations

import re

from flask import current_app

MIN_LENGTH = 3
MAX_LENGTH = 40
_SHAPE = re.compile(r"^[a-z][a-z0-9-]*$")

RESERVED = frozenset(
    """
    www www1 www2 admin administrator api app apps mail email smtp imap pop pop3 mx ns ns1 ns2 dns
    static assets cdn media files uploads img images portal status help support billing public
    docs doc blog login logout signin signup register account accounts auth oauth sso id
    dashboard console root system sys internal intranet test testing staging stage dev demo-admin
    security secure ftp sftp ssh vpn webmail autodiscover autoconfig postmaster hostmaster abuse
    noreply no-reply portico localhost healthz health metrics
    """.split()
)


def normalize_subdomain(raw: str) -> str:
    return (raw or "").strip().lower()


def subdomain_problem(raw: str) -> str | None:
    """Why `raw` cannot be a portal address, or None when its shape is acceptable.

    Availability (taken or retired) is the registry's question, not this one's.
    """
    slug = normalize_subdomain(raw)
    if not slug:
        return "Choose a portal address."
    if len(slug) < MIN_LENGTH or len(slug) > MAX_LENGTH:
        return f"Use {MIN_LENGTH} to {MAX_LENGTH} characters."
    if not _SHAPE.match(slug):
        return "Use lowercase letters, digits and hyphens, starting with a letter."
    if slug.startswith(("xn-", "pg-")):
        return "That address is reserved. Please choose another."
    if slug.endswith("-"):
        return "The address cannot end with a hyphen."
    if "--" in slug:
        return "The address cannot contain two hyphens in a row."
    if slug in RESERVED:
        return "That address is reserved. Please choose another."
    return None


def practice_host(slug: str) -> str:
    settings = current_app.config["PORTICO"]
    return f"{slug}.{settings.base_host}{settings.base_port_suffix}"


def practice_url(slug: str, path: str = "/") -> str:
    settings = current_app.config["PORTICO"]
    return f"{settings.scheme}://{practice_host(slug)}{path}"
