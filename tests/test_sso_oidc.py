"""Staff single sign-on with OpenID Connect, against real providers over HTTP on 127.0.0.1:

- oidc-provider-mock (a real OpenID provider, built on authlib's server side) for the whole journey:
  discovery, authorization page, code exchange, signed ID token;
- a small provider of the test's own (discovery, key set, token endpoint) that hands out ID tokens
  the test signs itself, for every refusal a well-behaved provider never produces.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from contextlib import contextmanager
from urllib.parse import parse_qs, urlencode, urlsplit

import oidc_provider_mock
import pytest
import requests
from flask import Flask, jsonify, request
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey
from sqlalchemy import func, select
from werkzeug.serving import make_server

from blueprints.audit.models import AuditEvent
from blueprints.auth.models import User
from blueprints.sso import service
from blueprints.sso.models import SsoIdentity, SsoProvider
from tenants.database import db

CLIENT_ID = "portico-test-client"
CLIENT_SECRET = "client-secret-from-the-provider"


@contextmanager
def serving(wsgi_app):
    """Serve `wsgi_app` on a free port of 127.0.0.1 in a thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, wsgi_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()


class FakeProvider:
    """Discovery, a key set (one RSA and one EC key) and a token endpoint. The token endpoint answers
    with `self.id_token`, which the test signs; what it was sent is kept in `self.token_requests`."""

    def __init__(self):
        self.rsa = RSAKey.generate_key(2048, parameters={"kid": "rsa-1"}, private=True)
        self.ec = ECKey.generate_key("P-256", parameters={"kid": "ec-1"}, private=True)
        self.issuer = ""
        self.advertised_issuer: str | None = None  # what discovery claims, when not the truth
        self.id_token = ""
        self.token_requests: list[dict] = []
        self.app = Flask("fake_provider")
        self.app.add_url_rule("/.well-known/openid-configuration", "discovery", self._discovery)
        self.app.add_url_rule("/jwks", "jwks", self._jwks)
        self.app.add_url_rule("/token", "token", self._token, methods=["POST"])

    def _discovery(self):
        return jsonify(
            issuer=self.advertised_issuer or self.issuer,
            authorization_endpoint=f"{self.issuer}/authorize",
            token_endpoint=f"{self.issuer}/token",
            jwks_uri=f"{self.issuer}/jwks",
            response_types_supported=["code"],
            subject_types_supported=["public"],
            id_token_signing_alg_values_supported=["RS256", "ES256"],
        )

    def _jwks(self):
        return jsonify(KeySet([self.rsa, self.ec]).as_dict(private=False))

    def _token(self):
        self.token_requests.append({**request.form, "authorization": request.headers.get("Authorization")})
        return jsonify(access_token="access", token_type="Bearer", expires_in=300, id_token=self.id_token)

    def sign(self, claims: dict, alg: str = "RS256", key=None) -> str:
        key = key or (self.ec if alg == "ES256" else self.rsa)
        return jwt.encode({"alg": alg, "kid": key.kid}, claims, key)


@pytest.fixture(scope="module")
def providers():
    """Two independent fake providers (two issuers)."""
    first, second = FakeProvider(), FakeProvider()
    with serving(first.app) as first_url, serving(second.app) as second_url:
        first.issuer, second.issuer = first_url, second_url
        yield first, second


@pytest.fixture
def provider(providers):
    fake = providers[0]
    fake.advertised_issuer, fake.id_token = None, ""
    fake.token_requests.clear()
    return fake


@pytest.fixture(scope="module")
def mock_provider():
    with serving(oidc_provider_mock.app(require_nonce=True)) as url:
        yield url


# --- helpers ----------------------------------------------------------------------------------------


def configure(visit, practice, issuer: str, *, required: bool = False, name: str = "Harbor Workspace"):
    """The owner saves the provider on the settings page; returns (owner visitor, response)."""
    owner = visit(practice)
    owner.login(practice.owner_email)
    data = {"display_name": name, "issuer": issuer, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    if required:
        data["required_for_staff"] = "y"
    return owner, owner.post("/settings/sign-in", data)


def leave_for_provider(visitor, path: str = "/login/oidc") -> dict:
    """Start a sign-in; returns the parameters of the authorization request the browser is sent to."""
    response = visitor.get(path)
    assert response.status_code == 302, response.get_data(as_text=True)
    location = response.headers["Location"]
    return {"url": location, **{k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}}


def come_back(visitor, **params):
    return visitor.get("/login/oidc/callback?" + urlencode(params))


def claims_for(provider: FakeProvider, sent: dict, email: str, /, **changes) -> dict:
    now = int(time.time())
    claims = {
        "iss": provider.issuer,
        "aud": sent["client_id"],
        "sub": "subject-1",
        "email": email,
        "email_verified": True,
        "nonce": sent["nonce"],
        "iat": now,
        "exp": now + 300,
    }
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


def sign_in_with(visitor, provider: FakeProvider, email: str, alg: str = "RS256", **changes):
    sent = leave_for_provider(visitor)
    provider.id_token = provider.sign(claims_for(provider, sent, email, **changes), alg=alg)
    return come_back(visitor, code=f"code-{time.monotonic_ns()}", state=sent["state"])


def is_staff_logged_in(visitor) -> bool:
    return visitor.get("/account/security").status_code == 200


def audit(in_practice, practice) -> list[tuple[str, str | None]]:
    with in_practice(practice):
        return [(e.action, e.detail) for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def links(in_practice, practice) -> list[tuple[str, str, str]]:
    """(staff email, issuer, subject) of every link to a provider account."""
    with in_practice(practice):
        query = select(User.email, SsoIdentity.issuer, SsoIdentity.subject).join(
            User, User.id == SsoIdentity.user_id
        )
        return [tuple(row) for row in db.session.execute(query.order_by(SsoIdentity.id))]


def find_user(email: str) -> User:
    return db.session.scalars(select(User).where(func.lower(User.email) == email.lower())).one()


def unsigned(claims: dict, header: dict) -> str:
    encode = lambda part: base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()  # noqa: E731
    return f"{encode(header)}.{encode(claims)}."


# --- the journey, with a real OpenID provider ---------------------------------------------------------


def test_staff_member_signs_in_with_a_real_provider_and_lands_on_the_staff_home(
    make_practice, make_staff, visit, in_practice, mock_provider
):
    practice = make_practice()
    clinician = make_staff(practice, "clinician")
    _, saved = configure(visit, practice, mock_provider)
    assert saved.status_code == 302
    requests.put(
        f"{mock_provider}/users/clinician-sub",
        json={"email": clinician.upper(), "email_verified": True, "name": "Dr Example"},
        timeout=5,
    ).raise_for_status()

    page = visit(practice).get("/login").get_data(as_text=True)
    assert 'id="sso-login-button"' in page and "Sign in with Harbor Workspace" in page

    staff = visit(practice)
    sent = leave_for_provider(staff, "/login/oidc?next=/clients")
    assert sent["url"].startswith(f"{mock_provider}/oauth2/authorize?")
    assert sent["code_challenge_method"] == "S256" and sent["redirect_uri"] == (
        f"http://{practice.host}/login/oidc/callback"
    )
    # The person picks their account on the provider's authorization page.
    authorized = requests.post(sent["url"], data={"sub": "clinician-sub"}, allow_redirects=False, timeout=5)
    assert authorized.status_code == 302
    back = urlsplit(authorized.headers["Location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == sent["redirect_uri"]
    landed = staff.get(f"{back.path}?{back.query}")
    assert landed.status_code == 302 and landed.headers["Location"] == "/clients"
    assert is_staff_logged_in(staff)
    assert "Portal address" in staff.get("/").get_data(as_text=True)  # the staff home

    assert links(in_practice, practice) == [(clinician, mock_provider, "clinician-sub")]
    assert audit(in_practice, practice)[-1] == (
        "logged in",
        "with Harbor Workspace (provider account linked)",
    )
    with in_practice(practice):
        assert find_user(clinician).last_login_at is not None

    # Again, in a new browser: the same provider account, already linked.
    again = visit(practice)
    sent = leave_for_provider(again)
    authorized = requests.post(sent["url"], data={"sub": "clinician-sub"}, allow_redirects=False, timeout=5)
    back = urlsplit(authorized.headers["Location"])
    assert again.get(f"{back.path}?{back.query}").headers["Location"] == "/"
    assert is_staff_logged_in(again)
    assert audit(in_practice, practice)[-1] == ("logged in", "with Harbor Workspace")


def test_the_code_is_exchanged_with_the_pkce_verifier_and_the_stored_secret(
    make_practice, make_staff, visit, provider
):
    practice = make_practice()
    clinician = make_staff(practice)
    configure(visit, practice, provider.issuer)
    staff = visit(practice)
    sent = leave_for_provider(staff)
    provider.id_token = provider.sign(claims_for(provider, sent, clinician), alg="ES256")
    assert come_back(staff, code="the-code", state=sent["state"]).status_code == 302
    assert is_staff_logged_in(staff)
    exchanged = provider.token_requests[-1]
    assert exchanged["code"] == "the-code" and exchanged["redirect_uri"] == sent["redirect_uri"]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(exchanged["code_verifier"].encode()).digest())
    assert challenge.rstrip(b"=").decode() == sent["code_challenge"]
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    assert exchanged["authorization"] == f"Basic {basic}"
    assert sent["scope"] == "openid email profile" and sent["response_type"] == "code"


# --- refusals ---------------------------------------------------------------------------------------


def _none_alg(provider, sent, email):
    return unsigned(claims_for(provider, sent, email), {"alg": "none", "kid": "rsa-1"})


def _hs256_with_the_public_key(provider, sent, email):
    """The classic confusion: an HMAC keyed with the provider's public key (which anyone has)."""
    header = {"alg": "HS256", "kid": "rsa-1"}
    head_and_body = unsigned(claims_for(provider, sent, email), header)[:-1]
    secret = provider.rsa.as_pem(private=False)
    signature = hmac.new(secret, head_and_body.encode(), hashlib.sha256).digest()
    return head_and_body + "." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()


def _signed_by_another_key(provider, sent, email):
    stranger = RSAKey.generate_key(2048, parameters={"kid": "rsa-1"}, private=True)
    return provider.sign(claims_for(provider, sent, email), key=stranger)


def _signed(**changes):
    return lambda provider, sent, email: provider.sign(claims_for(provider, sent, email, **changes))


UNVERIFIED = "We could not verify this sign-in with Harbor Workspace"
EMAIL_UNCONFIRMED = "Harbor Workspace did not confirm your email address"
REFUSED_TOKENS = {  # case: (the ID token, the audit reason, what the person is told)
    "wrong nonce": (_signed(nonce="a-nonce-from-another-sign-in"), "wrong nonce", UNVERIFIED),
    "wrong audience": (_signed(aud="another-client"), "wrong audience", UNVERIFIED),
    "wrong issuer": (_signed(iss="http://127.0.0.1:9/another-issuer"), "wrong issuer", UNVERIFIED),
    "alg none": (_none_alg, "algorithm not allowed: none", UNVERIFIED),
    "HS256 with the public key": (_hs256_with_the_public_key, "algorithm not allowed: HS256", UNVERIFIED),
    "signed by another key": (_signed_by_another_key, "ID token signature not valid", UNVERIFIED),
    "expired": (
        _signed(iat=int(time.time()) - 7200, exp=int(time.time()) - 3600),
        "expired ID token",
        UNVERIFIED,
    ),
    "no subject": (_signed(sub=None), "ID token without sub", UNVERIFIED),
    "email_verified false": (_signed(email_verified=False), "email not verified", EMAIL_UNCONFIRMED),
    "email_verified missing": (_signed(email_verified=None), "email not verified", EMAIL_UNCONFIRMED),
    "no email": (_signed(email=None), "email not verified", EMAIL_UNCONFIRMED),
}


@pytest.mark.parametrize("case", sorted(REFUSED_TOKENS))
def test_untrustworthy_id_tokens_are_refused_and_change_nothing(
    case, make_practice, make_staff, visit, in_practice, provider
):
    practice = make_practice()
    clinician = make_staff(practice)
    configure(visit, practice, provider.issuer)
    make_token, reason, told = REFUSED_TOKENS[case]
    staff = visit(practice)
    sent = leave_for_provider(staff)
    provider.id_token = make_token(provider, sent, clinician)
    response = come_back(staff, code="a-code", state=sent["state"])
    assert response.status_code == 403
    assert told in response.get_data(as_text=True)
    assert not is_staff_logged_in(staff)
    assert links(in_practice, practice) == []
    action, detail = audit(in_practice, practice)[-1]
    assert action == "login failed" and detail.startswith(f"single sign-on: {reason}"), detail


def test_a_state_that_is_not_this_browsers_is_refused(
    make_practice, make_staff, visit, in_practice, provider
):
    practice = make_practice()
    clinician = make_staff(practice)
    configure(visit, practice, provider.issuer)
    staff = visit(practice)
    sent = leave_for_provider(staff)
    provider.id_token = provider.sign(claims_for(provider, sent, clinician))
    response = come_back(staff, code="a-code", state="forged-" + sent["state"])
    assert response.status_code == 400
    assert "not started here" in response.get_data(as_text=True)
    assert provider.token_requests == []  # the code never reached the provider
    # A callback in a browser that never started a sign-in (login CSRF) is refused alike.
    assert come_back(visit(practice), code="a-code", state=sent["state"]).status_code == 400
    assert not is_staff_logged_in(staff)
    assert [a for a in audit(in_practice, practice) if a[0] == "login failed"] == [
        ("login failed", "single sign-on: state mismatch"),
        ("login failed", "single sign-on: no sign-in in progress (or expired)"),
    ]


def test_a_replayed_callback_is_refused(app, make_practice, make_staff, visit, in_practice, provider):
    practice = make_practice()
    clinician = make_staff(practice)
    configure(visit, practice, provider.issuer)
    staff = visit(practice)
    sent = leave_for_provider(staff)
    provider.id_token = provider.sign(claims_for(provider, sent, clinician))
    cookie_name = app.config["SESSION_COOKIE_NAME"]
    before = staff.session_cookie().value  # holds the state, nonce and verifier
    assert come_back(staff, code="one-code", state=sent["state"]).status_code == 302

    # Someone who copied the cookie and the callback address tries them again.
    thief = visit(practice)
    thief.client.set_cookie(cookie_name, before, domain=practice.host)
    response = come_back(thief, code="one-code", state=sent["state"])
    assert response.status_code == 400
    assert not is_staff_logged_in(thief)
    assert len(provider.token_requests) == 1  # the replay never reached the provider
    assert audit(in_practice, practice)[-1] == ("login failed", "single sign-on: replayed code")


def test_an_email_that_matches_no_active_staff_member_is_refused(
    make_practice, make_staff, make_client, visit, in_practice, provider
):
    practice = make_practice()
    configure(visit, practice, provider.issuer)
    client_email = f"client@{practice.slug}.example.com"
    make_client(practice, email=client_email, login=True)
    departed = make_staff(practice)
    with in_practice(practice):
        find_user(departed).is_active_account = False
        db.session.commit()
    for email in ("nobody@example.com", client_email, departed):
        person = visit(practice)
        response = sign_in_with(person, provider, email)
        assert response.status_code == 403
        assert "No staff account of this practice uses that email address" in response.get_data(as_text=True)
        assert not is_staff_logged_in(person) and "Log out" not in person.get("/").get_data(as_text=True)
        assert audit(in_practice, practice)[-1] == (
            "login failed",
            "single sign-on: no active staff member with that email",
        )


def test_staff_of_another_practice_with_the_same_email_cannot_sign_in(
    make_practice, make_staff, visit, in_practice, provider
):
    here, elsewhere = make_practice(), make_practice()
    email = make_staff(elsewhere, "admin")  # a staff member of `elsewhere` only
    configure(visit, here, provider.issuer)
    configure(visit, elsewhere, provider.issuer)
    person = visit(here)
    assert sign_in_with(person, provider, email).status_code == 403
    assert not is_staff_logged_in(person)
    assert links(in_practice, here) == [] and links(in_practice, elsewhere) == []
    # At their own practice the same token content signs them in.
    own = visit(elsewhere)
    assert sign_in_with(own, provider, email).status_code == 302
    assert is_staff_logged_in(own)


def test_the_same_email_from_a_second_provider_account_is_refused(
    make_practice, make_staff, visit, in_practice, providers
):
    first, second = providers
    practice = make_practice()
    clinician = make_staff(practice)
    configure(visit, practice, first.issuer)
    assert sign_in_with(visit(practice), first, clinician, sub="original").status_code == 302

    # Same issuer, another account now carrying the email (re-issued address).
    person = visit(practice)
    response = sign_in_with(person, first, clinician, sub="newcomer")
    assert response.status_code == 403
    assert "linked to another Harbor Workspace account" in response.get_data(as_text=True)
    assert not is_staff_logged_in(person)
    assert audit(in_practice, practice)[-1] == (
        "login failed",
        "single sign-on: email linked to another provider account",
    )

    # Another provider configured later: the link still names the first one.
    configure(visit, practice, second.issuer)
    person = visit(practice)
    assert sign_in_with(person, second, clinician, sub="original").status_code == 403
    assert not is_staff_logged_in(person)
    assert links(in_practice, practice) == [(clinician, first.issuer, "original")]


def test_a_provider_account_linked_to_one_staff_member_cannot_sign_in_as_another(
    make_practice, make_staff, visit, in_practice, provider
):
    practice = make_practice()
    alice, bob = make_staff(practice), make_staff(practice)
    configure(visit, practice, provider.issuer)
    assert sign_in_with(visit(practice), provider, alice, sub="account-a").status_code == 302
    person = visit(practice)
    assert sign_in_with(person, provider, bob, sub="account-a").status_code == 403
    assert not is_staff_logged_in(person)
    assert links(in_practice, practice) == [(alice, provider.issuer, "account-a")]


def test_a_cancelled_sign_in_at_the_provider(make_practice, visit, in_practice, provider):
    practice = make_practice()
    configure(visit, practice, provider.issuer)
    staff = visit(practice)
    sent = leave_for_provider(staff)
    response = come_back(staff, error="access_denied", state=sent["state"])
    assert response.status_code == 403
    assert "cancelled at Harbor Workspace" in response.get_data(as_text=True)
    assert audit(in_practice, practice)[-1] == (
        "login failed",
        "single sign-on: provider answered access_denied",
    )


def test_without_a_provider_there_is_no_button_and_no_sign_in(make_practice, visit):
    practice = make_practice()
    person = visit(practice)
    assert "sso-login" not in person.get("/login").get_data(as_text=True)
    assert person.get("/login/oidc").status_code == 404
    assert come_back(person, code="x", state="y").status_code == 404


# --- the owner's settings ---------------------------------------------------------------------------


def test_only_the_owner_opens_the_sign_in_settings(make_practice, make_staff, visit):
    practice = make_practice()
    owner = visit(practice)
    owner.login(practice.owner_email)
    page = owner.get("/settings/sign-in")
    assert page.status_code == 200
    assert f'value="http://{practice.host}/login/oidc/callback" readonly' in page.get_data(as_text=True)
    assert 'id="sso-settings-link"' in owner.get("/settings").get_data(as_text=True)
    for role in ("admin", "scheduler", "clinician"):
        staff = visit(practice)
        staff.login(make_staff(practice, role))
        assert staff.get("/settings/sign-in").status_code == 403, role
        if role == "admin":  # who sees the practice settings, but not this link
            assert 'id="sso-settings-link"' not in staff.get("/settings").get_data(as_text=True)
    assert visit(practice).get("/settings/sign-in").status_code == 302  # to the login page


def test_saving_reads_discovery_and_keeps_the_secret_write_only(make_practice, visit, in_practice, provider):
    practice = make_practice()
    owner, saved = configure(visit, practice, provider.issuer + "/")  # a trailing slash is forgiven
    assert saved.status_code == 302
    page = owner.get("/settings/sign-in").get_data(as_text=True)
    assert CLIENT_SECRET not in page and provider.issuer in page
    with in_practice(practice):
        stored = db.session.get(SsoProvider, service.PROVIDER_ROW)
        assert stored.issuer == provider.issuer and stored.token_endpoint == f"{provider.issuer}/token"
        assert stored.signing_algorithms == "RS256 ES256"
        assert CLIENT_SECRET.encode() not in stored.client_secret_sealed
        assert service._open_secret(stored.client_secret_sealed, stored.id) == CLIENT_SECRET
    assert audit(in_practice, practice)[-1][0] == "sign-in provider changed"
    assert CLIENT_SECRET not in str(audit(in_practice, practice))

    # Saving again without a secret keeps the stored one.
    again = owner.post(
        "/settings/sign-in",
        {"display_name": "Renamed", "issuer": provider.issuer, "client_id": CLIENT_ID, "client_secret": ""},
    )
    assert again.status_code == 302
    with in_practice(practice):
        stored = db.session.get(SsoProvider, service.PROVIDER_ROW)
        assert stored.display_name == "Renamed"
        assert service._open_secret(stored.client_secret_sealed, stored.id) == CLIENT_SECRET
    assert audit(in_practice, practice)[-1] == ("sign-in provider changed", "changed: provider name")


@pytest.mark.parametrize(
    "issuer, advertised, message",
    [
        ("http://127.0.0.1:9", None, "Could not reach the provider"),
        ("{issuer}", "https://accounts.example.com", "The provider says its issuer is"),
        ("{issuer}/elsewhere", None, "answered 404"),
        ("ftp://example.com", None, "must use https"),
    ],
)
def test_a_provider_that_cannot_be_used_is_not_saved(
    issuer, advertised, message, make_practice, visit, in_practice, provider
):
    practice = make_practice()
    provider.advertised_issuer = advertised
    _, response = configure(visit, practice, issuer.format(issuer=provider.issuer))
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    with in_practice(practice):
        assert db.session.get(SsoProvider, service.PROVIDER_ROW) is None


def test_turning_single_sign_on_off_forgets_the_links(
    make_practice, make_staff, visit, in_practice, provider
):
    practice = make_practice()
    clinician = make_staff(practice)
    owner, _ = configure(visit, practice, provider.issuer)
    assert sign_in_with(visit(practice), provider, clinician).status_code == 302
    assert owner.post("/settings/sign-in/remove", form_page="/settings/sign-in").status_code == 302
    assert links(in_practice, practice) == []
    assert "sso-login" not in visit(practice).get("/login").get_data(as_text=True)
    assert audit(in_practice, practice)[-1][0] == "sign-in provider removed"


# --- "require for staff" ----------------------------------------------------------------------------


def test_requiring_the_provider_refuses_staff_passwords_but_not_clients(
    make_practice, make_staff, make_client, visit, in_practice, provider
):
    practice = make_practice()
    clinician = make_staff(practice)
    client = make_client(practice, email=f"client@{practice.slug}.example.com", login=True)

    # The owner cannot require what they have not used themselves (no lock-out).
    owner, refused = configure(visit, practice, provider.issuer, required=True)
    assert refused.status_code == 400 and "Sign in with this provider yourself first" in refused.get_data(
        as_text=True
    )
    configure(visit, practice, provider.issuer)
    owner = visit(practice)
    assert sign_in_with(owner, provider, practice.owner_email, sub="owner-sub").status_code == 302
    saved = owner.post(
        "/settings/sign-in",
        {
            "display_name": "Harbor Workspace",
            "issuer": provider.issuer,
            "client_id": CLIENT_ID,
            "required_for_staff": "y",
        },
    )
    assert saved.status_code == 302

    staff = visit(practice)
    response = staff.login(clinician)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Staff of this practice sign in with Harbor Workspace" in page
    assert 'id="sso-login-button"' in page
    assert not is_staff_logged_in(staff)
    assert audit(in_practice, practice)[-1][0] == "login failed"
    assert "sign in with Harbor Workspace" in audit(in_practice, practice)[-1][1]

    person = visit(practice)
    assert person.login(client.email).status_code == 302
    assert "Log out" in person.get("/portal").get_data(as_text=True)

    # The staff member signs in with the provider instead.
    assert sign_in_with(staff, provider, clinician, sub="clinician-sub").status_code == 302
    assert is_staff_logged_in(staff)
