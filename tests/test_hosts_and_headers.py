"""Host resolution (fail closed) and the security headers every response carries."""

from __future__ import annotations

import pytest


def test_unknown_practice_is_a_404_that_names_no_practice(make_practice, visit):
    practice = make_practice(name="Secretive Practice")
    response = visit("no-such-practice.localhost").get("/")
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert "Page not found" in page
    assert practice.slug not in page and "Secretive Practice" not in page


@pytest.mark.parametrize(
    "host",
    ["evil.example.com", "localhost.evil.com", "xlocalhost", "10.0.0.1", "192.168.1.5:5000", "[fe80::1]"],
)
def test_a_host_outside_the_installation_is_a_400(visit, host):
    assert visit(host).get("/").status_code == 400


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.1:5000", "127.1.2.3:8000", "[::1]:5000", "[::1]"])
def test_a_loopback_address_in_development_redirects_to_the_apex(visit, host):
    # The test installation's apex is `localhost` (development): where `portico run` people type.
    response = visit(host).get("/signup?from=bookmark")
    assert response.status_code == 302
    assert response.headers["Location"] == "http://localhost/signup?from=bookmark"
    assert visit(host).get("/").headers["Location"] == "http://localhost/"


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.1:5000", "[::1]:5000"])
def test_a_loopback_address_is_a_400_outside_development(app, visit, monkeypatch, host):
    monkeypatch.setattr(app.config["PORTICO"], "base_domain", "portal.example.com")
    assert visit(host).get("/").status_code == 400


def test_nested_subdomains_are_not_practices(make_practice, visit):
    practice = make_practice()
    assert visit(f"www.{practice.host}").get("/").status_code == 404


def test_security_headers_on_every_response(make_practice, visit):
    practice = make_practice()
    for visitor, path in (
        (visit("localhost"), "/signup"),
        (visit(practice), "/login"),
        (visit(practice), "/x"),
    ):
        headers = visitor.get(path).headers
        csp = headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp
        assert "frame-ancestors 'none'" in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"
        assert "Strict-Transport-Security" not in headers  # plain http
    https_headers = visit(practice, scheme="https").get("/login").headers
    assert https_headers["Strict-Transport-Security"].startswith("max-age=")


def test_pages_carry_no_inline_script(make_practice, visit):
    practice = make_practice()
    for visitor, path in (
        (visit("localhost"), "/signup"),
        (visit("localhost"), "/"),
        (visit(practice), "/login"),
    ):
        page = visitor.get(path).get_data(as_text=True)
        assert "<script>" not in page and "onclick=" not in page and "style=" not in page
