"""Which practice the current unit of work belongs to.

A practice is bound for the length of one request (by `tenants.middleware`), one job (by the job
runner) or one CLI step, and unbound afterwards. Everything that touches practice data asks here;
nothing guesses.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


class NoPracticeBound(RuntimeError):
    """Practice data was asked for while no practice is bound."""


@dataclass(frozen=True)
class PracticeRecord:
    """A practice as the rest of the application sees it: a plain, immutable value."""

    id: int
    slug: str
    name: str
    status: str = "active"
    # True only while `tenants.provisioning` is building the schema: the role does not exist yet.
    provisioning: bool = False

    @property
    def schema_name(self) -> str:
        # Derived from the id, never from the slug: a rename must not move data.
        return f"tenant_{int(self.id)}"

    @property
    def role_name(self) -> str:
        return self.schema_name


_bound: ContextVar[PracticeRecord | None] = ContextVar("portico_practice", default=None)


def bound_practice() -> PracticeRecord | None:
    return _bound.get()


def current_practice() -> PracticeRecord:
    practice = _bound.get()
    if practice is None:
        raise NoPracticeBound("no practice is bound to this request, job or command")
    return practice


def set_bound_practice(practice: PracticeRecord | None):
    """Bind (or clear) unconditionally; returns the token for `reset_bound_practice`."""
    return _bound.set(practice)


def reset_bound_practice(token) -> None:
    _bound.reset(token)
