"""Small web helpers shared by blueprints: safe redirects, role checks, form errors, and
`carry_out`, the one way a view runs an operation (commit on success, roll back on a refusal), with
`carry_out_form` for the usual page with a form."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from urllib.parse import urlsplit

from flask import abort, flash, redirect, request, url_for
from flask_login import current_user
from werkzeug.routing import IntegerConverter
from wtforms import ValidationError

from app.errors import render_error
from app.extensions import limiter
from app.refusals import Refusal
from tenants.context import bound_practice
from tenants.database import db

BIGINT_MAX = 2**63 - 1

# Pages that an emailed link opens (`/l/<token>`, `/reset-password/<token>`, `/activate/<token>`),
# GET and POST together, per address and practice: plenty for a person following a link (and
# mistyping a password on it a few times), far too few to probe for live tokens. Past it: 429.
TOKEN_PAGE_LIMIT = "30 per minute;200 per hour"


def token_page_limit(kind: str):
    """Decorator: TOKEN_PAGE_LIMIT on a token page, one bucket per `kind` of link for all the routes
    (and methods) that open it."""
    return limiter.shared_limit(TOKEN_PAGE_LIMIT, scope=f"token-page:{kind}")


class IdConverter(IntegerConverter):
    """`<int:...>` in URLs: ids beyond a bigint are simply not found (404), never a database error."""

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", BIGINT_MAX)
        super().__init__(url_map, *args, **kwargs)


# Endpoint -> its request body limit in bytes, worked out in the bound practice (an upload view
# whose practice sets its own file limit). Everything else has the app's MAX_CONTENT_LENGTH.
_body_limits: dict[str, Callable[[], int]] = {}


def register_body_limit(endpoint: str, limit: Callable[[], int]) -> None:
    """Requests to `endpoint` may carry at most `limit()` bytes: a larger Content-Length is answered
    413 before any of the body is read."""
    _body_limits[endpoint] = limit


def apply_body_limit():
    """Before every request, after the practice is bound and before anything reads the body."""
    limit = _body_limits.get(request.endpoint or "")
    if limit is not None and bound_practice() is not None:
        request.max_content_length = limit()


def reject_nul_bytes():
    """Before every request: NUL bytes have no place in any parameter (PostgreSQL refuses them)."""
    for values in (request.args, request.form):
        for key, value in values.items(multi=True):
            if "\x00" in key or "\x00" in value:
                abort(400)


def single_line(form, field):
    """WTForms validator: no line breaks or other control characters (names end up in email headers)."""
    if field.data and any(ord(character) < 32 or ord(character) == 127 for character in field.data):
        raise ValidationError("Use a single line of text, without control characters.")


def safe_next(target: str | None, fallback: str = "/") -> str:
    """`target` if it is a path on this host, else `fallback` (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return fallback
    return target


def staff_required(*roles: str):
    """Logged-in staff only (optionally of the given roles): anonymous -> login, others -> 403."""

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            if not current_user.is_staff or (roles and current_user.role not in roles):
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorate


def form_status(form) -> int:
    """200 for a fresh form, 400 when a submitted form is re-rendered with errors."""
    return 400 if form.errors else 200


def attach_problems(form, problems: dict[str, str]) -> None:
    """Show a rule's refusals next to their fields (or above the form when no field has that name)."""
    for name, message in problems.items():
        field = form._fields.get(name) if form is not None else None
        if field is not None:
            field.errors = [*field.errors, message]
        elif form is not None:
            form.form_errors.append(message)


def carry_out(operation, *, success: str | None = None, then=None, form=None, invalid=None, back=None):
    """Run `operation()` as this request's one change.

    On success: commit, flash `success`, and answer `then` (a URL to redirect to, or a function of
    the operation's result returning a response; without it, the result itself).
    On a `Refusal`: roll back everything the operation did. Field problems go back into `form` and
    `invalid()` re-renders it with 400; any other refusal answers its own status (403, 404, 409)
    with its message and a link `back`.
    """
    try:
        result = operation()
    except Refusal as refusal:
        db.session.rollback()
        if invalid is not None and (refusal.problems or refusal.status == 400):
            attach_problems(form, refusal.problems or {"": refusal.message})
            response = invalid()
            return response if isinstance(response, tuple) else (response, 400)
        return render_error(refusal.status, refusal.message or None, back=back)
    db.session.commit()
    if success:
        flash(success, "success")
    if then is None:
        return result
    if callable(then):
        return then(result)
    return redirect(then)


def carry_out_form(form, operation, *, page, success: str | None = None, then=None, back=None):
    """A page with a form: until `form` is posted and valid, `page()` answers (it renders the form,
    with its errors and status); then `operation()` is carried out, and a refusal of its values
    re-renders `page()` with them (see `carry_out`)."""
    if not form.validate_on_submit():
        return page()
    return carry_out(operation, success=success, then=then, form=form, invalid=page, back=back)
