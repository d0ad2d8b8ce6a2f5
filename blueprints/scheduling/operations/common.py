"""What every scheduling operation shares: its audit line, whoever did it, and the check of a number."""

from __future__ import annotations

from blueprints.audit.service import record
from blueprints.auth.models import User


def audit(actor: User | dict, action: str, client_id: int | None = None, detail: str | None = None) -> None:
    """One audit line by `actor`: a staff member, or a portal viewer's `audit_actor`."""
    if isinstance(actor, User):
        actor = {"actor_kind": "staff", "actor_user_id": actor.id, "actor_name": actor.name}
    record(action, client_id=client_id, detail=detail, **actor)


def number_problem(value, low: int, high: int) -> str | None:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        return f"Enter a whole number from {low} to {high}."
    return None
