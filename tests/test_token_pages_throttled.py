"""Pages that an emailed link opens are throttled per address and practice (issue 8, "Tokens and timing").

Before: 300 wrong guesses from one address at `/l/<token>`, `/reset-password/<token>` or
`/activate/<token>` all got 404/410. Now the page allows `TOKEN_PAGE_LIMIT` (GET and POST together)
and answers 429 after that, to that address at that practice only.
"""

from __future__ import annotations

import secrets

import pytest
from limits import parse_many

from app.web import TOKEN_PAGE_LIMIT
from tenants.database import db
from tenants.features import practice_settings

PER_MINUTE = min(item.amount for item in parse_many(TOKEN_PAGE_LIMIT))

# path of a token page -> the answer to a token nobody issued
PAGES = {
    "reset": ("/reset-password/{}", 410),
    "activate": ("/activate/{}", 410),
    "profile link": ("/l/{}", 404),
    "staff unsubscribe": ("/u/{}", 404),
}


def test_the_limit_lets_a_person_through():
    assert PER_MINUTE >= 20  # a link followed, a password mistyped a few times: never a 429


@pytest.fixture
def practice_with_portal(make_practice, in_practice):
    def make():
        practice = make_practice()
        with in_practice(practice):
            practice_settings().portal_enabled = True  # profile links live in the portal
            db.session.commit()
        return practice

    return make


def guess(visitor, pattern: str, method: str = "GET", address: str = "127.0.0.1"):
    """One made-up token, from `address`; a POST carries a valid CSRF token (from the login page),
    as a determined guesser's would: a POST without one is refused before the page looks at the token."""
    path = pattern.format(secrets.token_urlsafe(32))
    environ = {"REMOTE_ADDR": address}
    if method == "GET":
        return visitor.client.get(path, base_url=visitor.base_url, environ_base=environ)
    if not hasattr(visitor, "csrf"):
        visitor.csrf = visitor.csrf_token("/login")
    data = {
        "csrf_token": visitor.csrf,
        "password": "a-long-enough-password",
        "confirm": "a-long-enough-password",
    }
    return visitor.client.post(path, base_url=visitor.base_url, environ_base=environ, data=data)


@pytest.mark.parametrize("page", PAGES)
def test_wrong_guesses_from_one_address_are_throttled(page, practice_with_portal, visit):
    pattern, unknown = PAGES[page]
    practice = practice_with_portal()
    visitor = visit(practice)
    # GET and POST of the page share one count (a few POSTs: the password forms have stricter limits).
    methods = ["POST"] * 4 + ["GET"] * (PER_MINUTE - 4)
    statuses = [guess(visitor, pattern, method).status_code for method in methods]
    assert statuses == [unknown] * PER_MINUTE
    throttled = guess(visitor, pattern)
    assert throttled.status_code == 429
    assert "Too many attempts" in throttled.get_data(as_text=True)
    assert guess(visitor, pattern, "POST").status_code == 429
    assert guess(visitor, pattern).status_code == 429

    # Another address at the same practice is not throttled by it ...
    assert guess(visit(practice), pattern, address="10.8.0.2").status_code == unknown
    # ... nor the same address at another practice.
    other = practice_with_portal()
    assert guess(visit(other), pattern).status_code == unknown


def test_each_kind_of_link_has_its_own_count(practice_with_portal, visit):
    practice = practice_with_portal()
    visitor = visit(practice)
    for _ in range(PER_MINUTE + 1):
        guess(visitor, PAGES["reset"][0])
    assert guess(visitor, PAGES["reset"][0]).status_code == 429
    assert guess(visitor, PAGES["activate"][0]).status_code == 410
    assert guess(visitor, PAGES["profile link"][0]).status_code == 404


def test_a_real_reset_link_still_works_after_some_mistakes(make_practice, visit, mailbox, run_jobs):
    """A person who mistypes their new password a few times on the page still gets through."""
    import re

    practice = make_practice()
    visitor = visit(practice)
    visitor.post("/forgot-password", {"email": practice.owner_email})
    run_jobs()
    [message] = mailbox.to(practice.owner_email)
    path = re.search(r"/reset-password/[A-Za-z0-9_-]+", mailbox.body(message)).group(0)
    for _ in range(3):
        short = visitor.post(path, {"password": "short", "confirm": "short"})
        assert short.status_code == 400
    done = visitor.post(path, {"password": "a-brand-new-password", "confirm": "a-brand-new-password"})
    assert done.status_code == 302 and done.headers["Location"] == "/login"
