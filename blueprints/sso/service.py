"""Staff single sign-on, the rules: the owner's provider settings, starting a sign-in, finishing it
(which staff member, which provider account), and whether a password login is still allowed.

- A staff member is found by the provider's *verified* email, in this practice's schema only: the
  session's practice is the only one searched, so another practice's staff never match.
- Their first sign-in links the provider account (issuer + subject); a later sign-in with the same
  email from any other account is refused, so an email re-issued at the provider (or another
  provider configured later) does not inherit the account.
- Every refusal writes "login failed" with its reason and changes nothing else (the code it brought
  is remembered as used, so the same callback cannot be tried again).
"""

from __future__ import annotations

import hmac
import secrets
import time

from flask import current_app
from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert

from app.refusals import NotAllowed, NotFound, Problems
from app.tokens import token_hash
from blueprints.audit.service import record
from blueprints.auth.models import User
from blueprints.auth.service import find_user_by_email
from blueprints.auth.sessions import start_session
from blueprints.sso import oidc
from blueprints.sso.models import SsoIdentity, SsoProvider, SsoUsedCode
from tenants.context import current_practice
from tenants.database import db
from tenants.encryption import register_sealed_column, seal_text, unseal_text

PROVIDER_ROW = 1
FLOW_SECONDS = 10 * 60  # from leaving for the provider to coming back
USED_CODE_DAYS = 1  # codes live minutes at the provider; remembering them a day is plenty
# What the person signing in is told; the precise reason goes to the audit log only.
NOT_VERIFIED = "We could not verify this sign-in with {provider}. Please try again from the login page."
NOT_STARTED = "This sign-in was not started here, or took too long. Please start again from the login page."
CANCELLED = "The sign-in was cancelled at {provider}. You can try again from the login page."
EMAIL_NOT_VERIFIED = "{provider} did not confirm your email address, so we cannot sign you in with it."
NO_STAFF = "No staff account of this practice uses that email address."
OTHER_ACCOUNT = (
    "This staff account is linked to another {provider} account. Please sign in with that one, "
    "or ask the practice owner."
)
PASSWORD_REFUSED = 'Staff of this practice sign in with {provider}: use the "Sign in with {provider}" button.'


class SignInRefused(NotAllowed):
    """A sign-in that must not happen: `message` for the person, `reason` for the audit log."""

    def __init__(self, reason: str, message: str, *, user: User | None = None, status: int = 403):
        super().__init__(message, status=status)
        self.reason = reason
        self.user = user


# --- The client secret: sealed at rest -----------------------------------------------------------
# Envelope-encrypted with the practice's key, bound to this table, row and column, so the blob is
# useless anywhere else (another row, another practice, a dump without the master key).
register_sealed_column("sso_providers", "client_secret_sealed")


def _seal_secret(text: str, row_id: int) -> bytes:
    return seal_text(text, table="sso_providers", row_id=row_id, column="client_secret_sealed")


def _open_secret(blob: bytes, row_id: int) -> str:
    return unseal_text(blob, table="sso_providers", row_id=row_id, column="client_secret_sealed")


# --- The owner's settings ---------------------------------------------------------------------------


def configured_provider() -> SsoProvider | None:
    return db.session.get(SsoProvider, PROVIDER_ROW)


def allow_http_loopback() -> bool:
    """Providers on this machine over plain http, only while Portico itself runs on http (development
    and tests): a production installation never fetches http, nor anything on its own loopback."""
    return current_app.config["PORTICO"].scheme == "http"


def _staff_actor(user: User) -> dict:
    return {"actor_kind": user.kind, "actor_user_id": user.id, "actor_name": user.name}


def linked_identity(user: User) -> SsoIdentity | None:
    return db.session.scalars(select(SsoIdentity).where(SsoIdentity.user_id == user.id)).first()


def save_provider(values: dict, owner: User) -> list[str]:
    """Set the practice's provider from the owner's form (`client_secret` empty keeps the stored
    one); its discovery document is read now and must name the same issuer. Returns what changed."""
    provider = configured_provider()
    problems: dict[str, str] = {}
    secret = values.get("client_secret") or ""
    if not secret and provider is None:
        problems["client_secret"] = "Enter the client secret the provider gave you."
    try:
        found = oidc.discover(values["issuer"], allow_http_loopback=allow_http_loopback())
    except oidc.OidcError as error:
        problems["issuer"] = str(error)
        found = None
    if values.get("required_for_staff") and found is not None:
        link = linked_identity(owner)
        if link is None or link.issuer != found.issuer:
            problems["required_for_staff"] = (
                "Sign in with this provider yourself first (save without this, log out, use its button): "
                "then you cannot lock yourself out by requiring it."
            )
    if problems:
        raise Problems(problems)
    # Sealed before the row joins the session: sealing reads the practice key, which would flush a
    # new row that has no secret yet.
    sealed_secret = _seal_secret(secret, PROVIDER_ROW) if secret else None
    if provider is None:
        provider = SsoProvider(id=PROVIDER_ROW)
        db.session.add(provider)
    before = _described(provider)
    provider.display_name = values["display_name"].strip()
    provider.issuer = found.issuer
    provider.client_id = values["client_id"].strip()
    provider.required_for_staff = bool(values.get("required_for_staff"))
    provider.authorization_endpoint = found.authorization_endpoint
    provider.token_endpoint = found.token_endpoint
    provider.jwks_uri = found.jwks_uri
    provider.signing_algorithms = " ".join(found.signing_algorithms)
    provider.token_auth_method = found.token_auth_method
    changed = [name for name, value in _described(provider).items() if before.get(name) != value]
    if sealed_secret is not None:
        provider.client_secret_sealed = sealed_secret
        changed.append("client secret")
    if changed:
        record("sign-in provider changed", **_staff_actor(owner), detail="changed: " + ", ".join(changed))
    return changed


def _described(provider: SsoProvider) -> dict:
    """The settings an owner sees, by the names the audit log uses (never the secret)."""
    return {
        "provider name": provider.display_name,
        "issuer": provider.issuer,
        "client id": provider.client_id,
        "required for staff": provider.required_for_staff,
    }


def remove_provider(owner: User) -> None:
    """Turn staff single sign-on off: the provider and every staff member's link are forgotten."""
    provider = configured_provider()
    if provider is None:
        raise NotFound("No sign-in provider is set up.")
    links = db.session.execute(delete(SsoIdentity)).rowcount
    db.session.delete(provider)
    record(
        "sign-in provider removed",
        **_staff_actor(owner),
        detail=f"{provider.display_name} ({provider.issuer}); {links} staff link(s) forgotten",
    )


def linked_staff_count() -> int:
    return db.session.scalar(select(func.count()).select_from(SsoIdentity))


# --- Signing in -------------------------------------------------------------------------------------


def start_sign_in(provider: SsoProvider, redirect_uri: str, next_path: str | None) -> tuple[dict, str]:
    """A new sign-in: what the session keeps until the callback (bound to this practice and this
    provider), and the provider address to send the browser to."""
    flow = {
        "practice_id": current_practice().id,
        "issuer": provider.issuer,
        "state": secrets.token_urlsafe(32),
        "nonce": secrets.token_urlsafe(32),
        "verifier": secrets.token_urlsafe(64),  # PKCE code_verifier: 86 characters
        "at": int(time.time()),
        "next": next_path or "",
    }
    url = oidc.authorization_url(
        provider.authorization_endpoint,
        client_id=provider.client_id,
        redirect_uri=redirect_uri,
        state=flow["state"],
        nonce=flow["nonce"],
        code_verifier=flow["verifier"],
    )
    return flow, url


def finish_sign_in(flow: object, answer: dict, redirect_uri: str) -> User | SignInRefused:
    """The staff member the provider's answer (`code`, `state` or `error`) signs in, with their
    session started ("logged in" line included) and their provider account linked on first use.
    A refusal is returned, not raised: its "login failed" line must be kept, so the caller commits
    either way."""
    try:
        provider, user, claims = _checked_sign_in(flow, answer, redirect_uri)
    except SignInRefused as refusal:
        actor = _staff_actor(refusal.user) if refusal.user else {"actor_kind": "anonymous"}
        record("login failed", **actor, detail=f"single sign-on: {refusal.reason}")
        return refusal
    link = linked_identity(user)
    first = link is None
    if first:  # (two first sign-ins racing in two tabs: the first link stands, no error)
        db.session.execute(
            insert(SsoIdentity)
            .values(user_id=user.id, issuer=claims["iss"], subject=claims["sub"])
            .on_conflict_do_nothing()
        )
    else:
        link.last_used_at = func.now()
    detail = f"with {provider.display_name}" + (" (provider account linked)" if first else "")
    start_session(user, detail=detail)  # the same session start (and "logged in" line) as a password login
    return user


def _checked_sign_in(flow: object, answer: dict, redirect_uri: str) -> tuple[SsoProvider, User, dict]:
    provider = configured_provider()
    if provider is None:
        raise SignInRefused("no provider configured", NOT_STARTED, status=404)
    name = provider.display_name
    if (
        not isinstance(flow, dict)
        or flow.get("practice_id") != current_practice().id
        or flow.get("issuer") != provider.issuer
        or time.time() - flow.get("at", 0) > FLOW_SECONDS
    ):
        raise SignInRefused("no sign-in in progress (or expired)", NOT_STARTED, status=400)
    if not hmac.compare_digest(str(answer.get("state") or ""), flow["state"]):
        raise SignInRefused("state mismatch", NOT_STARTED, status=400)
    if answer.get("error"):
        raise SignInRefused(f"provider answered {str(answer['error'])[:60]}", CANCELLED.format(provider=name))
    code = str(answer.get("code") or "")
    if not code:
        raise SignInRefused("no code", NOT_VERIFIED.format(provider=name), status=400)
    if not _first_use_of(code):
        raise SignInRefused("replayed code", NOT_VERIFIED.format(provider=name), status=400)
    try:
        id_token = oidc.exchange_code(
            provider.token_endpoint,
            client_id=provider.client_id,
            client_secret=_open_secret(provider.client_secret_sealed, PROVIDER_ROW),
            auth_method=provider.token_auth_method,
            code=code,
            code_verifier=flow["verifier"],
            redirect_uri=redirect_uri,
        )
        claims = oidc.verify_id_token(
            id_token,
            jwks_uri=provider.jwks_uri,
            issuer=provider.issuer,
            client_id=provider.client_id,
            nonce=flow["nonce"],
            algorithms=tuple(provider.signing_algorithms.split()),
        )
    except oidc.OidcError as error:
        raise SignInRefused(str(error), NOT_VERIFIED.format(provider=name)) from None
    email = claims.get("email")
    if not isinstance(email, str) or not email or claims.get("email_verified") not in (True, "true"):
        raise SignInRefused("email not verified by the provider", EMAIL_NOT_VERIFIED.format(provider=name))
    user = find_user_by_email(email)
    if user is None or not user.is_staff or not user.is_active:
        raise SignInRefused("no active staff member with that email", NO_STAFF)
    link = linked_identity(user)
    if link is not None and (link.issuer, link.subject) != (claims["iss"], claims["sub"]):
        raise SignInRefused(
            "email linked to another provider account", OTHER_ACCOUNT.format(provider=name), user=user
        )
    owner_of_account = db.session.scalars(
        select(SsoIdentity.user_id).where(
            SsoIdentity.issuer == claims["iss"], SsoIdentity.subject == claims["sub"]
        )
    ).first()
    if owner_of_account is not None and owner_of_account != user.id:
        raise SignInRefused(
            "provider account linked to another staff member", OTHER_ACCOUNT.format(provider=name), user=user
        )
    return provider, user, claims


def _first_use_of(code: str) -> bool:
    """Remember `code` as used; False if it already was (of two racing uses, one wins)."""
    forgotten = func.now() - func.make_interval(0, 0, 0, USED_CODE_DAYS)
    db.session.execute(delete(SsoUsedCode).where(SsoUsedCode.used_at < forgotten))
    claimed = db.session.execute(
        insert(SsoUsedCode)
        .values(code_hash=token_hash(code))
        .on_conflict_do_nothing()
        .returning(SsoUsedCode.code_hash)
    ).first()
    return claimed is not None


# --- Password logins --------------------------------------------------------------------------------


def password_login_refusal(email: str) -> str | None:
    """Registered with auth: when the practice requires its provider for staff, a staff member's
    password login is refused (before the password is even checked); clients are not concerned."""
    provider = configured_provider()
    if provider is None or not provider.required_for_staff:
        return None
    user = find_user_by_email(email)
    if user is None or not user.is_staff:
        return None
    return PASSWORD_REFUSED.format(provider=provider.display_name)
