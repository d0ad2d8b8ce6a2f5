"""Behind a proxy that terminates TLS, the session cookie is Secure when the request came over https
(X-Forwarded-Proto from a trusted proxy, PORTICO_TRUSTED_PROXIES); an untrusted header changes nothing."""

from __future__ import annotations

from dataclasses import replace

import pytest

from app import create_app
from tenants.database import db


@pytest.fixture
def proxied_app(app):
    """The same installation (plain-http base domain), behind one trusted proxy."""
    proxied = create_app(replace(app.config["PORTICO"], trusted_proxies=1))
    proxied.config.update(TESTING=True)
    yield proxied
    with proxied.app_context():
        for engine in db.engines.values():
            engine.dispose()


def session_cookie(flask_app, headers: dict) -> str:
    response = flask_app.test_client().get("/signup", base_url="http://localhost", headers=headers)
    assert response.status_code == 200
    name = flask_app.config["SESSION_COOKIE_NAME"]
    (cookie,) = [c for c in response.headers.getlist("Set-Cookie") if c.startswith(f"{name}=")]
    return cookie


def test_https_through_a_trusted_proxy_makes_the_session_cookie_secure(proxied_app):
    cookie = session_cookie(proxied_app, {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"})
    assert "; Secure" in cookie and "; HttpOnly" in cookie


def test_plain_http_through_the_proxy_stays_as_it_was(proxied_app):
    assert "; Secure" not in session_cookie(proxied_app, {"X-Forwarded-Proto": "http"})


def test_without_a_trusted_proxy_the_header_is_ignored(app):
    assert app.config["PORTICO"].trusted_proxies == 0
    assert "; Secure" not in session_cookie(app, {"X-Forwarded-Proto": "https"})
