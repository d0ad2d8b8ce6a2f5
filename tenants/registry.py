"""Finding, listing and changing practices in the registry, with a per-process lookup cache.

The application role only reads the registry; every change is written by the owner role
(`owner_engine()`). The cache is keyed by the address that was asked for and holds misses too
(made-up hosts cannot grow it past its bound). Its size is PORTICO_PRACTICE_CACHE_SIZE, or, when that
is 0 (the default), sized for the installation: twice the number of practices plus 1,000 for misses,
grown as practices are added (each miss reads the registry's size in the same statement).

Invalidation across processes: every change (rename, status, name, a new practice) sends
`NOTIFY portico_registry` in its own transaction, so it is delivered when, and only if, the change
commits. Each process listens on a connection of its own (`_Listener`, a daemon thread started on the
first lookup in that process) and empties its cache on each notification. While it listens, an entry
may stay up to LISTENING_TTL; while it does not (the listener's connection is down), entries are
trusted for PORTICO_PRACTICE_CACHE_SECONDS only, as before. PORTICO_PRACTICE_CACHE_SECONDS=0 turns
the cache off.

A miss costs one statement on a pooled connection in autocommit (no BEGIN, no ROLLBACK): the
practice by its address or by a retired address, and the registry's size, together.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass

from cachetools import TTLCache
from flask import current_app
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.engine import make_url

from tenants.addresses import normalize_subdomain, subdomain_problem
from tenants.context import PracticeRecord
from tenants.database import db, owner_engine
from tenants.models import Practice, RetiredSlug

log = logging.getLogger("portico.registry")

CHANNEL = "portico_registry"
NOTIFY_SQL = text(f"SELECT pg_notify('{CHANNEL}', '')")
LISTENING_TTL = 3600  # seconds an entry may live while this process hears every change
MISSES_ROOM = 1000  # entries for addresses that are no practice (and retired ones)


class RegistryError(ValueError):
    """An operator or signup request the registry refuses, with a message fit to show."""


@dataclass(frozen=True)
class MovedTo:
    """The address asked for was retired by a rename; the practice now lives at `slug`."""

    slug: str


_cache: TTLCache = TTLCache(maxsize=1, ttl=LISTENING_TTL)
_cache_lock = threading.Lock()  # a TTLCache is not thread-safe
_practice_count = 0  # the registry's size, as the last miss saw it
_generation = 0  # bumped by every invalidation: a lookup that raced one stores nothing
_NOT_CACHED = object()


def _record(row) -> PracticeRecord:
    return PracticeRecord(id=row.id, slug=row.slug, name=row.name, status=row.status)


def _wanted_size(settings) -> int:
    if settings.practice_cache_size:
        return settings.practice_cache_size
    return 2 * _practice_count + MISSES_ROOM


def _sized_cache(settings) -> TTLCache:
    """The cache, made anew (empty) when the settings ask for another size, or when the installation
    has grown past what it was sized for (the count only grows, and each size leaves room for 500
    more practices, so this is rare). Call under the lock."""
    global _cache
    wanted = _wanted_size(settings)
    if wanted > _cache.maxsize or (settings.practice_cache_size and wanted != _cache.maxsize):
        _cache = TTLCache(maxsize=wanted, ttl=LISTENING_TTL)
    return _cache


def invalidate_cache() -> None:
    """Empty this process's cache (other processes empty theirs on the NOTIFY every change sends)."""
    _forget_all()


def _forget_all() -> None:
    global _generation
    with _cache_lock:
        _generation += 1
        _cache.clear()


def notify_change(connection) -> None:
    """Tell every process to drop its cached lookups, when `connection`'s transaction commits."""
    connection.execute(NOTIFY_SQL)


def lookup_address(slug: str) -> PracticeRecord | MovedTo | None:
    """The active practice at `slug`, where a retired `slug` now points, or None.

    Suspended and deleted practices are None: to a visitor they do not exist.
    """
    slug = normalize_subdomain(slug)
    settings = current_app.config["PORTICO"]
    if settings.practice_cache_seconds <= 0:
        return _lookup_uncached(slug)
    listening = _listener.ensure_started(db.engine, _listen_url(settings))
    # ISOLATION: an entry stored while nobody listened may have missed a change: trust it only for
    # practice_cache_seconds, as before there was a listener.
    trusted_since = 0.0 if listening else time.monotonic() - settings.practice_cache_seconds
    with _cache_lock:
        cached = _sized_cache(settings).get(slug, _NOT_CACHED)
        generation = _generation
    if cached is not _NOT_CACHED and cached[1] >= trusted_since:
        return cached[0]
    stored_at = time.monotonic()
    found = _lookup_uncached(slug)
    with _cache_lock:
        # ISOLATION: a change heard while the statement ran may not be in what it read (a suspended
        # practice still active): store nothing then; the next request asks again.
        if generation == _generation:
            _sized_cache(settings)[slug] = (found, stored_at)
    return found


# One statement: the practice at the address, else the practice a retired address points to (the
# current address wins: `moved` sorts false first), and the registry's size for the cache's bound.
_LOOKUP = text(
    """
    SELECT id, slug, name, status, moved,
           (SELECT count(*) FROM public.practices) AS practices
    FROM (
        SELECT p.id, p.slug, p.name, p.status, false AS moved
        FROM public.practices p WHERE lower(p.slug) = :slug
        UNION ALL
        SELECT p.id, p.slug, p.name, p.status, true AS moved
        FROM public.retired_slugs r JOIN public.practices p ON p.id = r.practice_id
        WHERE r.slug = :slug
    ) found
    ORDER BY moved
    LIMIT 1
    """
)


def _lookup_uncached(slug: str) -> PracticeRecord | MovedTo | None:
    global _practice_count
    # A pooled connection in autocommit: one round trip, no transaction. No practice is bound yet,
    # so this is the application role, which may read the registry (and no practice's tables).
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        row = conn.execute(_LOOKUP, {"slug": slug}).first()
    if row is None:
        return None
    _practice_count = max(_practice_count, int(row.practices))
    if row.status != "active":
        return None
    return MovedTo(row.slug) if row.moved else _record(row)


def _listen_url(settings):
    """Where this process LISTENs: the application's database, or behind PgBouncer (transaction
    pooling hands LISTEN's server connection to other clients, so nothing would be heard) the direct
    PORTICO_WORKER_DATABASE_URL when set, else nowhere."""
    if not settings.pgbouncer:
        return db.engine.url
    if settings.worker_database_url:
        return make_url(settings.worker_database_url)
    return None


class _Listener:
    """LISTEN portico_registry on a connection of this process's own; empties the cache on each
    notification. Restarted after a fork (a gunicorn worker) and after its connection is lost."""

    def __init__(self):
        self._pid = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.listening = False

    def ensure_started(self, engine, url) -> bool:
        if url is None:  # nowhere to hear changes from: entries live practice_cache_seconds
            return False
        if self._pid != os.getpid() or self._thread is None or not self._thread.is_alive():
            with self._lock:
                if self._pid != os.getpid() or self._thread is None or not self._thread.is_alive():
                    self._pid = os.getpid()
                    self.listening = False
                    cargs, cparams = engine.dialect.create_connect_args(url)
                    self._thread = threading.Thread(
                        target=self._run, args=(engine.dialect, cargs, cparams),
                        name="portico-registry-listener", daemon=True,
                    )  # fmt: skip
                    self._thread.start()
        return self.listening

    def _run(self, dialect, cargs, cparams) -> None:
        while True:
            try:
                connection = dialect.loaded_dbapi.connect(*cargs, **cparams)
                try:
                    connection.autocommit = True
                    connection.execute(f"LISTEN {CHANNEL}")
                    # Changes made while nobody listened were not heard: start from empty.
                    _forget_all()
                    self.listening = True
                    while True:
                        for _ in connection.notifies(timeout=30, stop_after=1):
                            _forget_all()
                        connection.execute("SELECT 1")  # still there?
                finally:
                    self.listening = False
                    connection.close()
            except Exception as error:  # noqa: BLE001 - keep listening; the TTL covers the gap
                log.warning("registry listener: %s; retrying in 5 s", error)
            time.sleep(5)


_listener = _Listener()


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
        notify_change(conn)
    invalidate_cache()
    return old_slug, new_slug


def set_status(slug_or_id: str, status: str):
    """Set a practice's status; returns its registry row (as it was before)."""
    with owner_engine().begin() as conn:
        practice = _find(conn, slug_or_id)
        conn.execute(
            update(Practice).where(Practice.id == practice.id).values(status=status, updated_at=func.now())
        )
        notify_change(conn)
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
        notify_change(conn)
    invalidate_cache()
