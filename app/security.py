"""Security headers on every response, and the cookie settings they pair with."""

from flask import Flask, request


def content_security_policy(settings, form_targets: tuple[str, ...] = ()) -> str:
    """The policy every page gets; `form_targets`: more origins a form there may post (or be
    redirected) to, for the few pages that hand the person over to another site (a payment page)."""
    practices = f"{settings.scheme}://*.{settings.base_host}{settings.base_port_suffix}"
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "font-src 'self'",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
            # Signup on the apex ends with a redirect to the new practice's own host.
            " ".join(("form-action 'self'", practices, *form_targets)),
        ]
    )


def install_security_headers(app: Flask) -> None:
    csp = content_security_policy(app.config["PORTICO"])

    @app.after_request
    def add_headers(response):
        response.headers.setdefault("Content-Security-Policy", csp)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
        if request.endpoint and not request.endpoint.endswith("static"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response
