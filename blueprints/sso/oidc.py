"""OpenID Connect from the relying party's side: discovery, the authorization request (code flow with
PKCE, state and nonce), the code exchange, and ID token verification against the provider's keys.

No database and no Flask session here: values in, values out. Whatever cannot be trusted raises
`OidcError`, whose text says why (for the owner's form, or the audit log; never for the person
signing in). ID tokens are verified with joserfc (the JOSE library authlib itself now uses for ID
tokens; `authlib.jose` is deprecated): asymmetric algorithms only, so `none` and an HMAC keyed with
the provider's public key are refused by the allow-list before any key is looked at.
"""

from __future__ import annotations

import base64
import hmac
import ipaddress
import json
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.errors import ClaimError, ExpiredTokenError, JoseError, MissingClaimError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

SCOPE = "openid email profile"
# Signatures by the provider's private key only: never "none", never HS* (a shared secret).
ACCEPTED_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
LEEWAY_SECONDS = 60  # clock skew allowed on exp and iat
TIMEOUT_SECONDS = 5
AUTH_METHODS = ("client_secret_basic", "client_secret_post")
_CLAIM_REASONS = {
    "iss": "wrong issuer",
    "aud": "wrong audience",
    "exp": "expired ID token",
    "iat": "ID token issued in the future",
    "nbf": "ID token not yet valid",
    "sub": "no subject in the ID token",
}


class OidcError(Exception):
    """The provider, its answer or its token cannot be trusted; the text says why."""


@dataclass(frozen=True)
class Discovery:
    """What Portico keeps from a provider's `/.well-known/openid-configuration`."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    signing_algorithms: tuple[str, ...]
    token_auth_method: str


def is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def _check_url(url: object, what: str, allow_http_loopback: bool) -> str:
    """`url` if it is https (or http on this machine, when allowed: development and tests)."""
    if not isinstance(url, str) or not url:
        raise OidcError(f"The provider gives no {what}.")
    parts = urlsplit(url)
    if not parts.hostname or parts.username or parts.password:
        raise OidcError(f"The provider's {what} is not a usable address.")
    local_http = allow_http_loopback and parts.scheme == "http" and is_loopback(parts.hostname)
    if parts.scheme == "https" or local_http:
        return url
    raise OidcError(f"The provider's {what} must use https.")


def _get_json(url: str, what: str) -> dict:
    try:
        response = requests.get(
            url, timeout=TIMEOUT_SECONDS, allow_redirects=False, headers={"Accept": "application/json"}
        )
    except requests.RequestException:
        raise OidcError(f"Could not reach the provider's {what} at {url}.") from None
    if response.status_code != 200:
        raise OidcError(f"The provider's {what} at {url} answered {response.status_code}.")
    try:
        document = response.json()
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise OidcError(f"The provider's {what} at {url} is not a JSON document.")
    return document


def discover(issuer_url: str, *, allow_http_loopback: bool = False) -> Discovery:
    """Read and check the provider's discovery document. Its `issuer` must be the URL entered
    (a trailing slash aside): that exact value is what every ID token is then checked against."""
    entered = (issuer_url or "").strip()
    _check_url(entered, "issuer URL", allow_http_loopback)
    parts = urlsplit(entered)
    if parts.query or parts.fragment:
        raise OidcError("The issuer URL has no query or fragment (nothing after ? or #).")
    document = _get_json(entered.rstrip("/") + "/.well-known/openid-configuration", "discovery document")
    issuer = document.get("issuer")
    if not isinstance(issuer, str) or issuer.rstrip("/") != entered.rstrip("/"):
        raise OidcError(f"The provider says its issuer is {str(issuer)[:200]!r}, not {entered!r}.")
    advertised = document.get("id_token_signing_alg_values_supported") or ["RS256"]
    algorithms = tuple(alg for alg in ACCEPTED_ALGORITHMS if alg in advertised)
    if not algorithms:
        raise OidcError("The provider signs ID tokens with none of the algorithms Portico accepts.")
    methods = document.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
    method = next((m for m in AUTH_METHODS if m in methods), None)
    if method is None:
        raise OidcError("The provider accepts no client secret at its token endpoint.")
    return Discovery(
        issuer=issuer,
        authorization_endpoint=_check_url(
            document.get("authorization_endpoint"), "authorization endpoint", allow_http_loopback
        ),
        token_endpoint=_check_url(document.get("token_endpoint"), "token endpoint", allow_http_loopback),
        jwks_uri=_check_url(document.get("jwks_uri"), "key set (jwks_uri)", allow_http_loopback),
        signing_algorithms=algorithms,
        token_auth_method=method,
    )


def authorization_url(
    endpoint: str, *, client_id: str, redirect_uri: str, state: str, nonce: str, code_verifier: str
) -> str:
    """Where to send the browser: the code flow, with PKCE (S256), state and nonce."""
    with OAuth2Session(
        client_id, redirect_uri=redirect_uri, scope=SCOPE, code_challenge_method="S256"
    ) as client:
        url, _ = client.create_authorization_url(
            endpoint, state=state, nonce=nonce, code_verifier=code_verifier
        )
    return url


def exchange_code(
    token_endpoint: str,
    *,
    client_id: str,
    client_secret: str,
    auth_method: str,
    code: str,
    code_verifier: str,
    redirect_uri: str,
) -> str:
    """The ID token the provider gives for `code` (with the PKCE verifier and our client secret)."""
    with OAuth2Session(client_id, client_secret, token_endpoint_auth_method=auth_method) as client:
        try:
            token = client.fetch_token(
                token_endpoint,
                grant_type="authorization_code",
                code=code,
                code_verifier=code_verifier,
                redirect_uri=redirect_uri,
                timeout=TIMEOUT_SECONDS,
                allow_redirects=False,
            )
        except OAuthError as error:
            raise OidcError(f"the token endpoint refused the code ({str(error.error)[:60]})") from None
        except (requests.RequestException, ValueError):
            raise OidcError("the token endpoint did not answer usefully") from None
    id_token = token.get("id_token")
    if not isinstance(id_token, str) or not id_token:
        raise OidcError("no ID token in the token response")
    return id_token


def _header(token: str) -> dict:
    try:
        segment = token.split(".", 1)[0]
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, UnicodeDecodeError):
        raise OidcError("unreadable ID token") from None
    if not isinstance(header, dict):
        raise OidcError("unreadable ID token")
    return header


def verify_id_token(
    token: str, *, jwks_uri: str, issuer: str, client_id: str, nonce: str, algorithms: tuple[str, ...]
) -> dict:
    """The claims of `token` once its signature (by one of the provider's keys, with an allowed
    algorithm), issuer, audience, times and nonce are all right."""
    algorithm = _header(token).get("alg")
    if algorithm not in algorithms:
        raise OidcError(f"algorithm not allowed: {str(algorithm)[:20]}")
    try:
        keys = KeySet.import_key_set(_get_json(jwks_uri, "key set"))
    except (JoseError, ValueError, TypeError, KeyError):
        raise OidcError("unreadable key set") from None
    try:
        # Providers add header fields of their own (x5t, ...): only the algorithm list is strict.
        registry = JWSRegistry(algorithms=list(algorithms), strict_check_header=False)
        claims = jwt.decode(token, keys, registry=registry).claims
    except JoseError as error:
        raise OidcError(f"ID token signature not valid ({error.error})") from None
    except (ValueError, TypeError):
        raise OidcError("unreadable ID token") from None
    required = {"essential": True}
    expected = jwt.JWTClaimsRegistry(
        leeway=LEEWAY_SECONDS,
        iss={**required, "value": issuer},
        aud={**required, "value": client_id},
        sub=required,
        exp=required,
        iat=required,
    )
    try:
        expected.validate(claims)
    except MissingClaimError as error:
        raise OidcError(f"ID token without {error.claim}") from None
    except ExpiredTokenError:
        raise OidcError(_CLAIM_REASONS["exp"]) from None
    except ClaimError as error:
        raise OidcError(_CLAIM_REASONS.get(error.claim, f"invalid claim {error.claim}")) from None
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if len(audiences) > 1 and claims.get("azp") != client_id:
        raise OidcError("wrong authorized party (azp)")
    if not isinstance(claims.get("nonce"), str) or not hmac.compare_digest(claims["nonce"], nonce):
        raise OidcError("wrong nonce")
    return claims
