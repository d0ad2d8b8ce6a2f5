"""Host -> practice, once per request, failing closed.

The apex host serves signup and platform pages; `<slug>.<apex>` serves that practice; an unknown,
suspended or deleted slug is a 404 that names nothing; a retired slug redirects to the practice's
new address (webhook paths are answered there instead); any other Host is a 400, except that in
development (apex `localhost`) a loopback address such as 127.0.0.1:5000 redirects to the apex.
The practice stays bound until the request's teardown, after the session (and with it the
practice's transaction) has been closed.
"""

from __future__ import annotations

import ipaddress
from functools import wraps
from urllib.parse import urlsplit

from flask import Blueprint, Flask, abort, g, redirect, request

from tenants.addresses import practice_url
from tenants.context import bound_practice, reset_bound_practice, set_bound_practice
from tenants.database import db
from tenants.registry import MovedTo, lookup_address

ANY_HOST_PATHS = ("/healthz",)
# Answered, not redirected, on a practice's former addresses: payment providers post webhooks to the
# address they were given and do not follow redirects.
ANSWERED_ON_FORMER_ADDRESSES = ("/webhooks/",)


def _host_name() -> str:
    return request.host.lower().rsplit(":", 1)[0] if request.host else ""


def _is_loopback_address() -> bool:
    """Whether the Host header is a loopback IP literal (127.0.0.1, [::1]), with or without a port."""
    try:
        host = urlsplit("//" + (request.host or "")).hostname or ""
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def resolve_request_practice():
    # Set unconditionally first, so nothing from an earlier request on this thread can survive.
    g._portico_practice_token = set_bound_practice(None)
    g.is_apex = False
    if request.path in ANY_HOST_PATHS:
        return None
    settings = request.environ.get("portico.settings")
    base = settings.base_host
    host = _host_name()
    if host == base:
        g.is_apex = True
        return None
    if not host.endswith("." + base):
        if base == "localhost" and _is_loopback_address():
            # Development: http://127.0.0.1:5000/ is where people type; the apex is localhost. The
            # target comes from the settings, never from the request's Host.
            return redirect(f"{settings.scheme}://{settings.base_domain}{request.full_path.rstrip('?')}")
        abort(400)
    slug = host[: -len(base) - 1]
    if "." in slug or not slug:
        abort(404)
    found = lookup_address(slug)
    if isinstance(found, MovedTo) and request.path.startswith(ANSWERED_ON_FORMER_ADDRESSES):
        found = lookup_address(found.slug)
    if isinstance(found, MovedTo):
        return redirect(practice_url(found.slug, request.full_path.rstrip("?")), code=301)
    if found is None:
        abort(404)
    set_bound_practice(found)
    return None


def release_request_practice(exc=None) -> None:
    db.session.remove()  # ends the practice's transaction: SET LOCAL role and search_path go with it
    token = g.pop("_portico_practice_token", None)
    if token is not None:
        reset_bound_practice(token)


def install_tenant_middleware(app: Flask) -> None:
    settings = app.config["PORTICO"]

    @app.before_request
    def _resolve():
        request.environ["portico.settings"] = settings
        return resolve_request_practice()

    app.teardown_request(release_request_practice)


def apex_only(blueprint: Blueprint) -> Blueprint:
    """Every route of `blueprint` answers 404 on practice hosts."""

    @blueprint.before_request
    def _apex_only():
        if not g.get("is_apex"):
            abort(404)

    return blueprint


def practice_only(blueprint: Blueprint) -> Blueprint:
    """Every route of `blueprint` answers 404 unless a practice is bound."""

    @blueprint.before_request
    def _practice_only():
        if bound_practice() is None:
            abort(404)

    return blueprint


def practice_required(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        if bound_practice() is None:
            abort(404)
        return view(*args, **kwargs)

    return wrapper
