"""Finding, listing and changing practices in the registry, with a short per-process lookup cache.

The cache is keyed by the address that was asked for and invalidated here on every change; other
processes see a change within PORTICO_PRACTICE_CACHE_SECONDS.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import func, select, update

from tenants.addresses import normalize_subdomain, subdomain_problem
from tenants.context import PracticeRecord
from tenants.database import db
from tenants.models import Practice, RetiredSlug


class RegistryError(ValueError):
    """An operator or signup request the registry refuses, with a message fit to show."""


@dataclass(frozen=True)
class MovedTo:
    """The address asked for was retired by a rename; the practice now lives at `slug`."""

    slug: str


_cache: dict[str, tuple[float, PracticeRecord | MovedTo | None]] = {}
_cache_lock = threading.Lock()


def _record(row) -> PracticeRecord:
    return PracticeRecord(id=row.id, slug=row.slug, name=row.name, status=row.status)


def invalidate_cache() -> None:
    with _cache_lock:
        _cache.clear()


def lookup_address(slug: str) -> PracticeRecord | MovedTo | None:
    """The active practice at `slug`, where a retired `slug` now points, or None.

    Suspended and deleted practices are None: to a visitor they do not exist.
    """
    slug = normalize_subdomain(slug)
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(slug)
    if hit is not None and hit[0] > now:
        return hit[1]
    found = _lookup_uncached(slug)
    ttl = current_app.config["PORTICO"].practice_cache_seconds
    with _cache_lock:
        _cache[slug] = (now + ttl, found)
    return found


def _lookup_uncached(slug: str) -> PracticeRecord | MovedTo | None:
    # A connection of its own: no practice is bound yet, and the request's session must start
    # its transaction only once one is.
    with db.engine.connect() as conn:
        row = conn.execute(select(Practice).where(func.lower(Practice.slug) == slug)).first()
        if row is not None:
            return _record(row) if row.status == "active" else None
        moved = conn.execute(
            select(Practice.slug, Practice.status)
            .join(RetiredSlug, RetiredSlug.practice_id == Practice.id)
            .where(RetiredSlug.slug == slug)
        ).first()
        if moved is not None and moved.status == "active":
            return MovedTo(moved.slug)
    return None


def get_practice(practice_id: int) -> PracticeRecord | None:
    with db.engine.connect() as conn:
        row = conn.execute(select(Practice).where(Practice.id == practice_id)).first()
    return _record(row) if row is not None else None


def find_practice(slug_or_id: str) -> Practice:
    """For operator commands: a practice by id or by current address (any status)."""
    query = select(Practice)
    if slug_or_id.isdigit():
        query = query.where(Practice.id == int(slug_or_id))
    else:
        query = query.where(func.lower(Practice.slug) == normalize_subdomain(slug_or_id))
    practice = db.session.scalars(query).first()
    if practice is None:
        raise RegistryError(f"No practice {slug_or_id!r}.")
    return practice


def address_available(slug: str) -> str | None:
    """Why `slug` cannot be used for a new practice (shape, taken, retired), or None."""
    problem = subdomain_problem(slug)
    if problem:
        return problem
    slug = normalize_subdomain(slug)
    with db.engine.connect() as conn:
        taken = (
            conn.execute(select(Practice.id).where(func.lower(Practice.slug) == slug)).first()
            or conn.execute(select(RetiredSlug.slug).where(RetiredSlug.slug == slug)).first()
        )
    if taken:
        return "That address is already taken. Please choose another."
    return None


def list_practices() -> list[Practice]:
    return list(db.session.scalars(select(Practice).order_by(Practice.id)))


def rename_practice(slug_or_id: str, new_slug: str) -> tuple[str, str]:
    """Move a practice to a new address; the old one keeps redirecting. Returns (old, new)."""
    practice = find_practice(slug_or_id)
    new_slug = normalize_subdomain(new_slug)
    old_slug = practice.slug
    if new_slug == old_slug:
        raise RegistryError("That is already the practice's address.")
    own_retired = db.session.get(RetiredSlug, new_slug)
    if own_retired is not None and own_retired.practice_id == practice.id:
        db.session.delete(own_retired)  # taking back one of its own old addresses
        db.session.flush()
    else:
        problem = address_available(new_slug)
        if problem:
            raise RegistryError(problem)
    db.session.add(RetiredSlug(slug=old_slug, practice_id=practice.id))
    practice.slug = new_slug
    practice.updated_at = func.now()
    db.session.commit()
    invalidate_cache()
    return old_slug, new_slug


def set_status(slug_or_id: str, status: str) -> Practice:
    practice = find_practice(slug_or_id)
    db.session.execute(
        update(Practice).where(Practice.id == practice.id).values(status=status, updated_at=func.now())
    )
    db.session.commit()
    invalidate_cache()
    return practice


def set_practice_name(practice_id: int, name: str) -> None:
    """Change the practice's display name in the registry (its address stays as it is).

    Called from a practice's own settings page: the request's tenant role has no rights on
    `public.practices`, so this writes on a connection of its own, as the application role.
    """
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise RegistryError("Give the practice a name of at most 200 characters.")
    with db.engine.begin() as conn:
        conn.execute(
            update(Practice).where(Practice.id == practice_id).values(name=name, updated_at=func.now())
        )
    invalidate_cache()
