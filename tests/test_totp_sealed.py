"""Staff TOTP secrets are sealed at rest (issue 8, "Encryption at rest").

Before: users.totp_secret held every staff member's secret in plain text, so a database dump let anyone
make their codes. Now the secret lives sealed in users.totp_secret_sealed (bound to the user's row) and
the plain column stays empty; a secret kept in plain text before (migration t0010) still works and is
sealed the first time it is used.
"""

from __future__ import annotations

import base64
import re

import pyotp
import pytest
from sqlalchemy import text

from blueprints.auth import two_factor
from blueprints.auth.service import find_user_by_email
from tenants.encryption import SealError, unseal_text
from tests.test_auth_mfa import clock, code, enable_totp, is_logged_in, login_with_code  # noqa: F401


def stored(admin_engine, practice, email: str):
    """The raw users row, as a database dump would show it: (totp_secret, totp_secret_sealed)."""
    with admin_engine.connect() as conn:
        return conn.execute(
            text(
                f"SELECT totp_secret, totp_secret_sealed FROM tenant_{practice.id}.users"
                " WHERE lower(email) = lower(:email)"
            ),
            {"email": email},
        ).one()


def assert_sealed(admin_engine, in_practice, practice, email: str, secret: str) -> None:
    plain, sealed = stored(admin_engine, practice, email)
    assert plain is None
    blob = bytes(sealed)
    for form in (secret, secret.lower()):
        assert form.encode() not in blob
    assert base64.b32decode(secret) not in blob  # nor the key bytes the codes are made from
    with in_practice(practice):
        user = find_user_by_email(email)
        assert unseal_text(blob, table="users", row_id=user.id, column="totp_secret_sealed") == secret
        with pytest.raises(SealError):  # bound to this user's row
            unseal_text(blob, table="users", row_id=user.id + 1, column="totp_secret_sealed")


def make_legacy(admin_engine, practice, email: str, secret: str, enabled: bool = True) -> None:
    """The row as it was before t0010: the secret in plain text, nothing sealed."""
    with admin_engine.begin() as conn:
        conn.execute(
            text(
                f"UPDATE tenant_{practice.id}.users SET totp_secret = :secret, totp_secret_sealed = NULL,"
                " totp_enabled_at = CASE WHEN :enabled THEN now() END WHERE lower(email) = lower(:email)"
            ),
            {"secret": secret, "enabled": enabled, "email": email},
        )


def test_an_enabled_secret_is_stored_sealed_and_codes_still_log_in(
    make_practice,
    visit,
    in_practice,
    admin_engine,
    clock,  # noqa: F811
):
    practice = make_practice()
    owner = visit(practice)
    owner.login(practice.owner_email)

    owner.post("/account/security/totp/start", form_page="/account/security")
    page = owner.get("/account/security").get_data(as_text=True)
    pending = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)
    assert_sealed(admin_engine, in_practice, practice, practice.owner_email, pending)  # pending: sealed too

    secret, _ = enable_totp(owner, clock)
    assert_sealed(admin_engine, in_practice, practice, practice.owner_email, secret)

    visitor = visit(practice)
    response = login_with_code(visitor, practice.owner_email, code(secret, clock))
    assert response.status_code == 302 and is_logged_in(visitor)
    wrong = login_with_code(visit(practice), practice.owner_email, "000000")
    assert wrong.status_code == 400 and "That code is not right." in wrong.get_data(as_text=True)


def test_turning_two_factor_off_leaves_no_secret(make_practice, visit, admin_engine, clock):  # noqa: F811
    practice = make_practice()
    owner = visit(practice)
    owner.login(practice.owner_email)
    secret, _ = enable_totp(owner, clock)
    response = owner.post(
        "/account/security/totp/disable", {"code": code(secret, clock)}, form_page="/account/security"
    )
    assert response.status_code == 302
    assert tuple(stored(admin_engine, practice, practice.owner_email)) == (None, None)


def test_a_plain_secret_from_before_still_logs_in_and_is_sealed_on_use(
    make_practice,
    visit,
    in_practice,
    admin_engine,
    clock,  # noqa: F811
):
    practice = make_practice()
    secret = pyotp.random_base32()
    make_legacy(admin_engine, practice, practice.owner_email, secret)

    first = visit(practice).login(practice.owner_email)
    assert first.headers["Location"] == "/login/verify"  # two-factor is still on
    visitor = visit(practice)
    response = login_with_code(visitor, practice.owner_email, code(secret, clock))
    assert response.status_code == 302 and is_logged_in(visitor)
    assert_sealed(admin_engine, in_practice, practice, practice.owner_email, secret)

    clock.advance()
    again = visit(practice)
    assert login_with_code(again, practice.owner_email, code(secret, clock)).status_code == 302
    assert is_logged_in(again)


def test_a_plain_pending_secret_from_before_can_still_be_confirmed(
    make_practice,
    visit,
    in_practice,
    admin_engine,
    clock,  # noqa: F811
):
    practice = make_practice()
    secret = pyotp.random_base32()
    owner = visit(practice)
    owner.login(practice.owner_email)
    make_legacy(admin_engine, practice, practice.owner_email, secret, enabled=False)

    page = owner.get("/account/security").get_data(as_text=True)
    assert f'id="totp-secret">{secret}<' in page
    response = owner.post(
        "/account/security/totp/enable", {"code": code(secret, clock)}, form_page="/account/security"
    )
    assert response.status_code == 200 and "Two-factor authentication is on." in response.get_data(
        as_text=True
    )
    assert_sealed(admin_engine, in_practice, practice, practice.owner_email, secret)


def test_the_plain_secrets_left_can_be_sealed_at_once(
    make_practice,
    make_staff,
    in_practice,
    admin_engine,
    visit,
    clock,  # noqa: F811
):
    practice = make_practice()
    colleague = make_staff(practice)
    secrets = {practice.owner_email: pyotp.random_base32(), colleague: pyotp.random_base32()}
    for email, secret in secrets.items():
        make_legacy(admin_engine, practice, email, secret)
    with in_practice(practice):
        from tenants.database import db

        assert two_factor.seal_plain_secrets() == 2
        db.session.commit()
        assert two_factor.seal_plain_secrets() == 0
    for email, secret in secrets.items():
        assert_sealed(admin_engine, in_practice, practice, email, secret)
    visitor = visit(practice)
    assert login_with_code(visitor, colleague, code(secrets[colleague], clock)).status_code == 302
