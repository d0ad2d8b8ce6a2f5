"""Finding, listing and changing practices in the registry, with a short per-process lookup cache.

The application role only reads the registry; every change is written by the owner role
(`owner_engine()`). The cache is keyed by the address that was asked for, holds at most
PORTICO_PRACTICE_CACHE_SIZE addresses (misses too: made-up hosts cannot grow it without limit) and is
invalidated here on every change; other processes see a change within PORTICO_PRACTICE_CACHE_SECONDS.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from cachetools import TTLCache
from flask import current_app
from sqlalchemy import delete, func, insert, select, update

from tenants.addresses import normalize_subdomain, subdomain_problem
from tenants.context import PracticeRecord
from tenants.database import db, owner_engine
from tenants.models import Practice, RetiredSlug


class RegistryError(ValueError):
    """An operator or signup request the registry refuses, with a message fit to show."""


@dataclass(frozen=True)
class MovedTo:
    """The address asked for was retired by a rename; the practice now lives at `slug`."""

    slug: str


_cache: TTLCache = TTLCache(maxsize=1, ttl=0)
_cache_lock = threading.Lock()  # a TTLCache is not thread-safe
_NOT_CACHED = object()


def _record(row) -> PracticeRecord:
    return PracticeRecord(id=row.id, slug=row.slug, name=row.name, status=row.status)


def _sized_cache(settings) -> TTLCache:
    """The cache, made anew when the settings ask for another size or lifetime (call under the lock)."""
    global _cache
    if (_cache.maxsize, _cache.ttl) != (settings.practice_cache_size, settings.practice_cache_seconds):
        _cache = TTLCache(maxsize=settings.practice_cache_size, ttl=settings.practice_cache_seconds)
    return _cache


def invalidate_cache() -> None:
    with _cache_lock:
        _cache.clear()


def lookup_address(slug: str) -> PracticeRecord | MovedTo | None:
    """The active practice at `slug`, where a retired `slug` now points, or None.

    Suspended and deleted practices are None: to a visitor they do not exist.
    """
    slug = normalize_subdomain(slug)
    settings = current_app.config["PORTICO"]
    with _cache_lock:
        found = _sized_cache(settings).get(slug, _NOT_CACHED)
    if found is not _NOT_CACHED:
        return found
    found = _lookup_uncached(slug)
    with _cache_lock:
        _sized_cache(settings)[slug] = found
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


def _find(conn, slug_or_id: str):
    query = select(Practice)
    if slug_or_id.isdigit():
        query = query.where(Practice.id == int(slug_or_id))
    else:
        query = query.where(func.lower(Practice.slug) == normalize_subdomain(slug_or_id))
    practice = conn.execute(query).first()
    if practice is None:
        raise RegistryError(f"No practice {slug_or_id!r}.")
    return practice


def find_practice(slug_or_id: str):
    """For operator commands: a practice's registry row by id or by current address (any status)."""
    with db.engine.connect() as conn:
        return _find(conn, slug_or_id)


def _address_problem(conn, slug: str) -> str | None:
    problem = subdomain_problem(slug)
    if problem:
        return problem
    slug = normalize_subdomain(slug)
    taken = (
        conn.execute(select(Practice.id).where(func.lower(Practice.slug) == slug)).first()
        or conn.execute(select(RetiredSlug.slug).where(RetiredSlug.slug == slug)).first()
    )
    if taken:
        return "That address is already taken. Please choose another."
    return None


def address_available(slug: str) -> str | None:
    """Why `slug` cannot be used for a new practice (shape, taken, retired), or None."""
    with db.engine.connect() as conn:
        return _address_problem(conn, slug)


def list_practices() -> list[Practice]:
    return list(db.session.scalars(select(Practice).order_by(Practice.id)))


def rename_practice(slug_or_id: str, new_slug: str) -> tuple[str, str]:
    """Move a practice to a new address; the old one keeps redirecting. Returns (old, new)."""
    new_slug = normalize_subdomain(new_slug)
    with owner_engine().begin() as conn:
        practice = _find(conn, slug_or_id)
        old_slug = practice.slug
        if new_slug == old_slug:
            raise RegistryError("That is already the practice's address.")
        taking_back = conn.execute(  # one of its own old addresses
            delete(RetiredSlug)
            .where(RetiredSlug.slug == new_slug, RetiredSlug.practice_id == practice.id)
            .returning(RetiredSlug.slug)
        ).first()
        if taking_back is None:
            problem = _address_problem(conn, new_slug)
            if problem:
                raise RegistryError(problem)
        conn.execute(insert(RetiredSlug).values(slug=old_slug, practice_id=practice.id))
        conn.execute(
            update(Practice).where(Practice.id == practice.id).values(slug=new_slug, updated_at=func.now())
        )
    invalidate_cache()
    return old_slug, new_slug


def set_status(slug_or_id: str, status: str):
    """Set a practice's status; returns its registry row (as it was before)."""
    with owner_engine().begin() as conn:
        practice = _find(conn, slug_or_id)
        conn.execute(
            update(Practice).where(Practice.id == practice.id).values(status=status, updated_at=func.now())
        )
    invalidate_cache()
    return practice


def set_practice_name(practice_id: int, name: str) -> None:
    """Change the practice's display name in the registry (its address stays as it is).

    Called from a practice's own settings page: neither the request's tenant role nor the
    application role may change `public.practices`, so the owner role writes it, on a connection
    of its own.
    """
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise RegistryError("Give the practice a name of at most 200 characters.")
    with owner_engine().begin() as conn:
        conn.execute(
            update(Practice).where(Practice.id == practice_id).values(name=name, updated_at=func.now())
        )
    invalidate_cache()
