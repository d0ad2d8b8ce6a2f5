"""Staff two-factor authentication (TOTP and recovery codes) and the practice's rule requiring it."""

from __future__ import annotations

import base64
import re
import time

import pyotp
import pytest
from sqlalchemy import select

from blueprints.audit.models import AuditEvent
from blueprints.auth import two_factor
from blueprints.auth.models import RecoveryCode
from blueprints.auth.service import find_user_by_email
from tenants.database import db
from tenants.features import practice_settings
from tests.test_settings import save_settings


class Clock:
    """The clock codes are checked against, moved by the test (each step is 30 seconds)."""

    def __init__(self):
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, steps: int = 3) -> None:
        self.now += steps * two_factor.TOTP_PERIOD


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(two_factor, "totp_now", clock)
    return clock


def is_logged_in(visitor) -> bool:
    return "Log out" in visitor.get("/").get_data(as_text=True)


def code(secret: str, clock: Clock, offset_steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(clock.now + offset_steps * two_factor.TOTP_PERIOD)


def enable_totp(visitor, clock: Clock) -> tuple[str, list[str]]:
    """Set up two-factor through the security page; returns (secret, recovery codes)."""
    visitor.post("/account/security/totp/start", form_page="/account/security")
    page = visitor.get("/account/security").get_data(as_text=True)
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)
    response = visitor.post(
        "/account/security/totp/enable", {"code": code(secret, clock)}, form_page="/account/security"
    )
    assert response.status_code == 200
    codes = re.findall(r'class="col recovery-code">([a-z0-9-]+)<', response.get_data(as_text=True))
    clock.advance()
    return secret, codes


def login_with_code(visitor, email: str, second_factor: str):
    first = visitor.login(email)
    assert first.status_code == 302 and first.headers["Location"] == "/login/verify"
    return visitor.post("/login/verify", {"code": second_factor})


def set_rule(in_practice, practice, required: bool = True):
    with in_practice(practice):
        practice_settings().require_staff_mfa = required
        practice_settings().portal_enabled = True
        db.session.commit()


def test_setting_up_two_factor_checks_a_first_code(make_practice, visit, in_practice, clock):
    practice = make_practice(name="Secure Practice")
    owner = visit(practice)
    owner.login(practice.owner_email)
    page = owner.get("/account/security").get_data(as_text=True)
    assert "Set up two-factor authentication" in page and ">Security</a>" in page

    owner.post("/account/security/totp/start", form_page="/account/security")
    page = owner.get("/account/security").get_data(as_text=True)
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)
    assert len(secret) == 32
    uri = re.search(r'id="totp-uri">([^<]+)<', page).group(1)
    assert uri.startswith("otpauth://totp/Secure%20Practice:") and f"secret={secret}" in uri
    image = re.search(r'src="data:image/svg\+xml;base64,([^"]+)"', page).group(1)
    assert 'id="totp-qr"' in page and b"<svg" in base64.b64decode(image)

    wrong = owner.post("/account/security/totp/enable", {"code": "000000"}, form_page="/account/security")
    assert wrong.status_code == 400 and "That code is not right." in wrong.get_data(as_text=True)
    with in_practice(practice):
        assert find_user_by_email(practice.owner_email).totp_enabled_at is None
    assert visit(practice).login(practice.owner_email).headers["Location"] == "/"  # still one step

    right = owner.post(
        "/account/security/totp/enable", {"code": code(secret, clock)}, form_page="/account/security"
    )
    assert right.status_code == 200
    codes = re.findall(r'class="col recovery-code">([a-z0-9-]+)<', right.get_data(as_text=True))
    assert len(codes) == 10 and len(set(codes)) == 10
    with in_practice(practice):
        user = find_user_by_email(practice.owner_email)
        assert user.totp_enabled_at is not None
        stored = db.session.scalars(select(RecoveryCode.code_hash)).all()
        assert len(stored) == 10 and not any(c.replace("-", "") in stored for c in codes)  # hashed
    page = owner.get("/account/security").get_data(as_text=True)
    assert 'id="unused-codes">10<' in page and 'class="col recovery-code"' not in page  # shown once
    assert [e.action for e in _events(in_practice, practice) if "two-factor" in e.action] == [
        "two-factor turned on"
    ]


def _events(in_practice, practice):
    with in_practice(practice):
        found = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        db.session.expunge_all()
        return found


def test_login_asks_for_the_code_after_the_password(make_practice, visit, in_practice, clock):
    practice = make_practice()
    owner = visit(practice)
    owner.login(practice.owner_email)
    secret, _ = enable_totp(owner, clock)

    laptop = visit(practice)
    response = laptop.login(practice.owner_email)
    assert response.status_code == 302 and response.headers["Location"] == "/login/verify"
    assert not is_logged_in(laptop)  # the password alone logs nobody in
    assert laptop.get("/settings").status_code == 302

    wrong = laptop.post("/login/verify", {"code": "123456"})
    assert wrong.status_code == 400 and "That code is not right." in wrong.get_data(as_text=True)
    assert laptop.post("/login/verify", {"code": "not a code"}).status_code == 400
    assert not is_logged_in(laptop)

    response = laptop.post("/login/verify", {"code": code(secret, clock)})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert is_logged_in(laptop)
    assert laptop.get("/settings").status_code == 200
    actions = [(e.action, e.detail) for e in _events(in_practice, practice)][-3:]
    assert actions == [
        ("login failed", "wrong two-factor code"),
        ("login failed", "wrong two-factor code"),
        ("logged in", "with a two-factor code"),
    ]


def test_next_survives_the_code_step(make_practice, visit, clock):
    practice = make_practice()
    owner = visit(practice)
    owner.login(practice.owner_email)
    secret, _ = enable_totp(owner, clock)
    visitor = visit(practice)
    visitor.post(
        "/login", {"email": practice.owner_email, "password": "correct-horse-battery", "next": "/audit"}
    )
    response = visitor.post("/login/verify", {"code": code(secret, clock)}, form_page="/login/verify")
    assert response.headers["Location"] == "/audit"


def test_a_code_cannot_be_used_twice(make_practice, visit, clock):
    practice = make_practice()
    owner = visit(practice)
    owner.login(practice.owner_email)
    secret, _ = enable_totp(owner, clock)
    used = code(secret, clock)
    assert login_with_code(visit(practice), practice.owner_email, used).status_code == 302

    replay = login_with_code(visit(practice), practice.owner_email, used)
    assert replay.status_code == 400 and "already used" in replay.get_data(as_text=True)
    # An older code still inside the drift window is spent too once a newer one was used.
    newer = code(secret, clock, offset_steps=1)
    assert login_with_code(visit(practice), practice.owner_email, newer).status_code == 302
    older = login_with_code(visit(practice), practice.owner_email, code(secret, clock))
    assert older.status_code == 400
    clock.advance()
    assert login_with_code(visit(practice), practice.owner_email, code(secret, clock)).status_code == 302


def test_codes_from_too_long_ago_are_refused(make_practice, visit, clock):
    practice = make_practice()
    owner = visit(practice)
    owner.login(practice.owner_email)
    secret, _ = enable_totp(owner, clock)
    stale = code(secret, clock, offset_steps=-3)
    assert login_with_code(visit(practice), practice.owner_email, stale).status_code == 400


def test_a_recovery_code_works_once(make_practice, visit, in_practice, clock):
    practice = make_practice()
    owner = visit(practice)
    owner.login(practice.owner_email)
    _, codes = enable_totp(owner, clock)

    phone_lost = visit(practice)
    response = login_with_code(phone_lost, practice.owner_email, codes[3].upper().replace("-", " "))
    assert response.status_code == 302 and is_logged_in(phone_lost)
    assert 'id="unused-codes">9<' in phone_lost.get("/account/security").get_data(as_text=True)

    again = login_with_code(visit(practice), practice.owner_email, codes[3])
    assert again.status_code == 400
    assert login_with_code(visit(practice), practice.owner_email, codes[4]).status_code == 302
    assert login_with_code(visit(practice), practice.owner_email, "aaaaa-bbbbb").status_code == 400


def test_new_recovery_codes_replace_the_old_ones(make_practice, visit, clock):
    practice = make_practice()
    owner = visit(practice)
    owner.login(practice.owner_email)
    _, old_codes = enable_totp(owner, clock)
    response = owner.post("/account/security/recovery-codes", form_page="/account/security")
    new_codes = re.findall(r'class="col recovery-code">([a-z0-9-]+)<', response.get_data(as_text=True))
    assert len(new_codes) == 10 and not set(new_codes) & set(old_codes)
    assert login_with_code(visit(practice), practice.owner_email, old_codes[0]).status_code == 400
    assert login_with_code(visit(practice), practice.owner_email, new_codes[0]).status_code == 302


def test_the_code_step_is_rate_limited(make_practice, visit, clock):
    practice = make_practice()
    owner = visit(practice)
    owner.login(practice.owner_email)
    enable_totp(owner, clock)
    visitor = visit(practice)
    visitor.login(practice.owner_email)
    token = visitor.csrf_token("/login/verify")
    statuses = [
        visitor.post("/login/verify", {"code": "000000", "csrf_token": token}).status_code for _ in range(11)
    ]
    assert statuses[:10] == [400] * 10 and statuses[10] == 429


def test_wrong_codes_are_counted_per_account_across_addresses(make_practice, visit, clock):
    practice = make_practice()
    owner = visit(practice)
    owner.login(practice.owner_email)
    secret, _ = enable_totp(owner, clock)
    for number in range(10):
        address = {"REMOTE_ADDR": f"10.0.0.{number + 1}"}
        visitor = visit(practice)
        credentials = {"email": practice.owner_email, "password": "correct-horse-battery"}
        assert visitor.post("/login", credentials, environ_base=address).status_code == 302
        assert visitor.post("/login/verify", {"code": "000000"}, environ_base=address).status_code == 400
    last = visit(practice)
    response = login_with_code(last, practice.owner_email, code(secret, clock))
    assert response.status_code == 429 and not is_logged_in(last)


def test_the_code_step_needs_a_fresh_password_step(make_practice, visit, monkeypatch, clock):
    from blueprints.auth import mfa

    practice = make_practice()
    owner = visit(practice)
    owner.login(practice.owner_email)
    secret, _ = enable_totp(owner, clock)

    nobody = visit(practice)
    response = nobody.get("/login/verify")
    assert response.status_code == 302 and response.headers["Location"] == "/login"

    slow = visit(practice)
    slow.login(practice.owner_email)
    token = slow.csrf_token("/login/verify")
    real_now = mfa._now
    monkeypatch.setattr(mfa, "_now", lambda: real_now() + mfa.PENDING_SECONDS + 1)
    response = slow.post("/login/verify", {"code": code(secret, clock), "csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert not is_logged_in(slow)


def test_turning_two_factor_off_needs_a_code_or_the_password(make_practice, visit, in_practice, clock):
    practice = make_practice()
    owner = visit(practice)
    owner.login(practice.owner_email)
    secret, _ = enable_totp(owner, clock)

    refused = owner.post(
        "/account/security/totp/disable",
        {"code": "111111", "password": "wrong-password"},
        form_page="/account/security",
    )
    assert refused.status_code == 400
    assert "Enter a current code from your app, or your password." in refused.get_data(as_text=True)
    with in_practice(practice):
        assert two_factor.has_totp(find_user_by_email(practice.owner_email))

    response = owner.post(
        "/account/security/totp/disable", {"password": "correct-horse-battery"}, form_page="/account/security"
    )
    assert response.status_code == 302
    with in_practice(practice):
        assert not two_factor.has_totp(find_user_by_email(practice.owner_email))
        assert db.session.scalars(select(RecoveryCode)).all() == []
    assert visit(practice).login(practice.owner_email).headers["Location"] == "/"

    secret, _ = enable_totp(owner, clock)
    response = owner.post(
        "/account/security/totp/disable", {"code": code(secret, clock)}, form_page="/account/security"
    )
    assert response.status_code == 302
    assert visit(practice).login(practice.owner_email).headers["Location"] == "/"


def test_clients_have_no_security_page_and_never_a_code_step(make_practice, make_client, visit, in_practice):
    practice = make_practice()
    set_rule(in_practice, practice)
    client = make_client(practice, email=f"client@{practice.slug}.example.com", login=True)
    person = visit(practice)
    response = person.login(client.email)
    assert response.headers["Location"] == "/portal/choose"
    assert person.get("/account/security").status_code == 403
    assert person.get("/portal/choose").status_code == 302
    assert person.get("/portal").status_code == 200


def test_required_two_factor_sends_staff_to_set_it_up_first(
    make_practice, make_staff, visit, in_practice, clock
):
    practice = make_practice()
    set_rule(in_practice, practice)
    clinician = visit(practice)
    response = clinician.login(make_staff(practice, "clinician"))
    assert response.headers["Location"] == "/account/security"
    assert not is_logged_in(clinician)  # even the home page sends them on
    for path in ("/", "/settings/preview", "/portal"):
        response = clinician.get(path)
        assert response.status_code == 302 and response.headers["Location"] == "/account/security", path
    page = clinician.get("/account/security").get_data(as_text=True)
    assert 'id="mfa-required"' in page
    # Logging out still works.
    assert clinician.post("/logout", form_page="/account/security").status_code == 302

    clinician.login(make_staff(practice, "scheduler"))
    enable_totp(clinician, clock)
    assert is_logged_in(clinician)
    assert clinician.get("/settings/preview").status_code == 200


def test_the_owner_turns_the_rule_on_and_staff_without_two_factor_are_stopped(
    make_practice, make_staff, visit, in_practice, clock
):
    practice = make_practice()
    admin = visit(practice)
    admin.login(make_staff(practice, "admin"))
    assert admin.get("/settings").status_code == 200

    owner = visit(practice)
    owner.login(practice.owner_email)
    enable_totp(owner, clock)
    assert save_settings(owner, require_staff_mfa=True).status_code == 302
    assert owner.get("/settings").status_code == 200  # the owner has it
    # The admin's next request, in the session they already had.
    response = admin.get("/settings")
    assert response.status_code == 302 and response.headers["Location"] == "/account/security"


def test_a_pending_login_of_one_practice_is_nothing_at_another(app, make_practice, visit, in_practice, clock):
    """Other practice: a browser that passed the password step at A gets no code step at B."""
    a, b = make_practice(), make_practice()
    owner = visit(a)
    owner.login(a.owner_email)
    secret, _ = enable_totp(owner, clock)

    pending = visit(a)
    pending.login(a.owner_email)
    cookie = pending.session_cookie().value
    intruder = visit(b)
    intruder.client.set_cookie(app.config["SESSION_COOKIE_NAME"], cookie, domain=b.host)
    response = intruder.get("/login/verify")
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert not is_logged_in(intruder)
    # A's owner's codes mean nothing for B's owner (user 1 there too).
    assert visit(b).login(b.owner_email).headers["Location"] == "/"
    with in_practice(b):
        assert not two_factor.has_totp(find_user_by_email(b.owner_email))
