"""Small request-parsing helpers the scheduling views share."""

from __future__ import annotations

from datetime import date

from flask import abort, request
from flask_login import current_user

from blueprints.scheduling.forms import choices


def is_staff() -> bool:
    return current_user.is_authenticated and current_user.is_staff


def staff_in(roles):
    """A navigation test: logged-in staff of one of `roles`."""

    def visible() -> bool:
        return is_staff() and current_user.role in roles

    return visible


def int_arg(name: str) -> int | None:
    """An id in the query string ("all" or blank: None); anything else that is not an id is 400."""
    raw = request.args.get(name, "").strip()
    if not raw or raw == "all":
        return None
    if not raw.isdigit() or len(raw) > 18:
        abort(400)
    return int(raw)


def date_arg(name: str) -> date | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        return None


def clinician_choices(clinicians, blank: str | None = None):
    pairs = [(user.id, user.name) for user in clinicians]
    return choices([("", blank), *pairs] if blank is not None else pairs)
