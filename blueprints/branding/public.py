"""The practice's look as every page sees it: the logo and the theme stylesheet (public, on the
practice's host), and `practice_look()` for templates.

Both addresses carry the identity's version (`?v=`): asked with the current version they may be
kept for a year; asked without it (or with an old one) they must be checked again each time.
"""

from __future__ import annotations

from flask import Response, abort, request, url_for
from sqlalchemy.exc import SQLAlchemyError

from blueprints.branding import bp, service
from tenants.context import bound_practice

# Private: a shared cache must never keep a response that might carry a session cookie.
FOR_A_YEAR = "private, max-age=31536000, immutable"
CHECK_AGAIN = "no-cache"


def _versioned(response: Response, version: int) -> Response:
    current = request.args.get("v") == str(version)
    response.headers["Cache-Control"] = FOR_A_YEAR if current else CHECK_AGAIN
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.set_etag(f"look-{version}")
    return response.make_conditional(request)


@bp.get("/branding/logo")
def logo():
    found = service.logo()
    if found is None:
        abort(404)
    data, content_type, version = found
    response = Response(data, mimetype=content_type)
    extension = "png" if content_type == "image/png" else "jpg"
    response.headers["Content-Disposition"] = f'inline; filename="logo.{extension}"'
    return _versioned(response, version)


@bp.get("/branding/theme.css")
def theme():
    look = service.current_look()
    return _versioned(Response(service.theme_css(look), mimetype="text/css"), look.version)


def practice_look() -> dict | None:
    """For templates: the bound practice's logo and theme addresses (None for either when there is
    none), or None on the apex. A page that cannot read them (an error page after a failed
    transaction) is shown in the default look rather than not at all."""
    if bound_practice() is None:
        return None
    try:
        look = service.current_look()
    except SQLAlchemyError:
        return None
    return {
        "logo_url": url_for("branding.logo", v=look.version) if look.has_logo else None,
        "theme_url": url_for("branding.theme", v=look.version) if look.accent else None,
        "accent": look.accent,
    }


@bp.app_context_processor
def look_in_templates():
    return {"practice_look": practice_look}
