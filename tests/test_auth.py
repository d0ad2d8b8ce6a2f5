"""Staff login, logout, sessions and forgotten passwords, over HTTP."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from blueprints.auth import sessions
from blueprints.auth.models import OneTimeToken, User
from tenants.database import db


def is_logged_in(visitor) -> bool:
    return "Log out" in visitor.get("/").get_data(as_text=True)


def test_login_and_logout(make_practice, visit):
    practice = make_practice()
    owner = visit(practice)
    response = owner.login(practice.owner_email)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert is_logged_in(owner)
    response = owner.post("/logout", form_page="/")
    assert response.status_code == 302
    assert not is_logged_in(owner)


def test_wrong_password_and_unknown_email_answer_alike(make_practice, visit):
    practice = make_practice()
    wrong_password = visit(practice).login(practice.owner_email, "not-the-password")
    unknown = visit(practice).login("nobody@example.com", "not-the-password")
    assert wrong_password.status_code == unknown.status_code == 400
    message = "That email and password do not match an account here."
    assert message in wrong_password.get_data(as_text=True)
    assert message in unknown.get_data(as_text=True)


def test_login_email_is_case_insensitive(make_practice, visit):
    practice = make_practice()
    owner = visit(practice)
    assert owner.login(practice.owner_email.upper()).status_code == 302


def test_staff_of_one_practice_cannot_log_in_at_another(make_practice, visit):
    a, b = make_practice(), make_practice()
    assert visit(b).login(a.owner_email).status_code == 400


def test_session_changes_at_login(make_practice, visit):
    practice = make_practice()
    owner = visit(practice)
    owner.get("/login")
    before = owner.session_cookie().value
    owner.login(practice.owner_email)
    after = owner.session_cookie().value
    assert before != after
    assert sessions.load_user  # the loader is the one installed


def test_logout_ends_every_session_of_the_user(app, make_practice, visit):
    practice = make_practice()
    laptop, phone = visit(practice), visit(practice)
    laptop.login(practice.owner_email)
    phone.login(practice.owner_email)
    replay = laptop.session_cookie().value
    laptop.post("/logout", form_page="/")
    assert not is_logged_in(phone)

    attacker = visit(practice)
    attacker.client.set_cookie(app.config["SESSION_COOKIE_NAME"], replay, domain=practice.host)
    assert not is_logged_in(attacker)


def test_cookie_attributes(app, make_practice, visit):
    practice = make_practice()
    owner = visit(practice)
    response = owner.login(practice.owner_email)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Domain=" not in cookie  # host-only
    assert "Secure" not in cookie  # plain http in development

    secure = visit(practice, scheme="https")
    secure.app.config["SESSION_COOKIE_SECURE"] = True
    try:
        # Over https, Flask-WTF also checks that the form came from this host (Referer).
        response = secure.post(
            "/login",
            {"email": practice.owner_email, "password": "correct-horse-battery"},
            headers={"Referer": f"https://{practice.host}/login"},
        )
        cookie = response.headers["Set-Cookie"]
    finally:
        secure.app.config["SESSION_COOKIE_SECURE"] = False
    assert "Secure" in cookie


def test_idle_timeout_and_absolute_lifetime(make_practice, visit, monkeypatch):
    practice = make_practice()
    owner = visit(practice)
    owner.login(practice.owner_email)
    assert is_logged_in(owner)
    real_now = sessions._now

    monkeypatch.setattr(sessions, "_now", lambda: real_now() + 31 * 60)  # idle for 31 minutes
    page = owner.get("/").get_data(as_text=True)
    assert "signed out after a period of inactivity" in page
    assert "Log out" not in page

    monkeypatch.setattr(sessions, "_now", real_now)
    owner.login(practice.owner_email)
    # Active every 20 minutes, but past the 12-hour absolute lifetime in the end.
    for step in range(1, 38):
        monkeypatch.setattr(sessions, "_now", lambda step=step: real_now() + step * 20 * 60)
        logged_in = is_logged_in(owner)
        if step * 20 < 12 * 60:
            assert logged_in, f"signed out too early, at {step * 20} minutes"
        elif step * 20 > 12 * 60:
            assert not logged_in
            break


@pytest.mark.parametrize(
    "target, expected",
    [
        ("/settings", "/settings"),
        ("https://evil.example.com/", "/"),
        ("//evil.example.com/", "/"),
        ("/\\evil.example.com", "/"),
        ("http:/evil.example.com", "/"),
    ],
)
def test_next_only_goes_to_a_path_on_this_host(make_practice, visit, target, expected):
    practice = make_practice()
    owner = visit(practice)
    credentials = {"email": practice.owner_email, "password": "correct-horse-battery"}
    response = owner.post("/login", {**credentials, "next": target})
    assert response.headers["Location"] == expected


def test_login_is_rate_limited(make_practice, visit):
    practice = make_practice()
    visitor = visit(practice)
    statuses = [visitor.login(practice.owner_email, "wrong-password-x").status_code for _ in range(11)]
    assert statuses[:10] == [400] * 10
    assert statuses[10] == 429
    assert "Too many attempts" in visitor.login(practice.owner_email).get_data(as_text=True)
    # Another practice's visitors from the same address are not throttled by it.
    other = make_practice()
    assert visit(other).login(other.owner_email).status_code == 302


def test_forms_need_a_csrf_token(make_practice, visit):
    practice = make_practice()
    visitor = visit(practice)
    response = visitor.post(
        "/login", {"email": practice.owner_email, "password": "correct-horse-battery"}, form_page=False
    )
    assert response.status_code == 400
    assert "This form has expired" in response.get_data(as_text=True)


RESET_LINK = re.compile(r"http://[^/\s]+/reset-password/[A-Za-z0-9_-]+")


def test_password_reset_by_email(make_practice, visit, mailbox, run_jobs):
    practice = make_practice(name="Reset Practice")
    visitor = visit(practice)
    response = visitor.post("/forgot-password", {"email": practice.owner_email})
    assert "If an account here uses that address" in response.get_data(as_text=True)
    run_jobs()
    [message] = mailbox.to(practice.owner_email)
    assert message["Subject"] == "Reset your Reset Practice password"
    link = RESET_LINK.search(mailbox.body(message)).group(0)
    assert link.startswith(f"http://{practice.host}/reset-password/")
    path = link.split(practice.host, 1)[1]

    form = visitor.get(path)
    assert form.status_code == 200 and form.headers["Referrer-Policy"] == "no-referrer"
    response = visitor.post(path, {"password": "brand-new-password", "confirm": "brand-new-password"})
    assert response.status_code == 302

    assert visit(practice).login(practice.owner_email).status_code == 400  # old password gone
    assert visit(practice).login(practice.owner_email, "brand-new-password").status_code == 302
    # The link is single use.
    assert visitor.get(path).status_code == 410


def test_password_reset_answers_alike_for_unknown_addresses(make_practice, visit, mailbox, run_jobs):
    practice = make_practice()
    known = visit(practice).post("/forgot-password", {"email": practice.owner_email})
    unknown = visit(practice).post("/forgot-password", {"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 200
    assert known.get_data(as_text=True).replace(practice.owner_email, "") == unknown.get_data(
        as_text=True
    ).replace("nobody@example.com", "")
    run_jobs()
    assert mailbox.to("nobody@example.com") == []


def test_password_reset_ends_existing_sessions(make_practice, visit, in_practice):
    practice = make_practice()
    laptop = visit(practice)
    laptop.login(practice.owner_email)
    with in_practice(practice):
        from blueprints.auth.service import PASSWORD_RESET, issue_token

        user = db.session.scalars(select(User)).one()
        token = issue_token(user, PASSWORD_RESET)
        db.session.commit()
    other = visit(practice)
    other.post(f"/reset-password/{token}", {"password": "another-new-pass", "confirm": "another-new-pass"})
    assert not is_logged_in(laptop)


def test_forged_expired_and_other_practice_reset_tokens(make_practice, visit, in_practice):
    a, b = make_practice(), make_practice()
    assert visit(a).get("/reset-password/forged-token-value").status_code == 410
    with in_practice(b):
        from blueprints.auth.service import PASSWORD_RESET, issue_token

        token_b = issue_token(db.session.scalars(select(User)).one(), PASSWORD_RESET)
        db.session.commit()
    assert visit(a).get(f"/reset-password/{token_b}").status_code == 410
    response = visit(a).post(
        f"/reset-password/{token_b}",
        {"password": "takeover-password", "confirm": "takeover-password"},
        form_page="/login",
    )
    assert response.status_code == 410
    with in_practice(b):
        db.session.execute(OneTimeToken.__table__.update().values(expires_at=OneTimeToken.created_at))
        db.session.commit()
    assert visit(b).get(f"/reset-password/{token_b}").status_code == 410
    assert visit(b).login(b.owner_email).status_code == 302  # password unchanged


def test_passwords_are_stored_as_argon2id_at_production_cost(app):
    from blueprints.auth.service import hash_password

    with app.app_context():
        app.config["PASSWORD_HASH_PROFILE"] = "OWASP"
        try:
            stored = hash_password("a-long-enough-password")
        finally:
            app.config["PASSWORD_HASH_PROFILE"] = "CHEAPEST"
    assert stored.startswith("$argon2id$v=19$m=47104,t=1,p=1$")
