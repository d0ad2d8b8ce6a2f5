"""How Portico's engines connect: pool settings, the empty search_path, and PgBouncer mode.

Apart from the application factory, the `portico` command uses them: a no-op `portico db upgrade`
builds its owner engine without building the application.

Behind PgBouncer in transaction pooling (PORTICO_PGBOUNCER=1), consecutive transactions of one client
connection may run on different server connections, so nothing may depend on session state:
- psycopg prepares a statement it has run 5 times on a connection and later runs it by name; on
  another server connection that name does not exist (PgBouncer 1.18, Debian 12's, does not track
  prepared statements). `prepare_threshold=None` turns automatic prepares off.
- PgBouncer 1.18 refuses the `options` startup parameter that sets `search_path=portico_empty`; set it
  on the application role instead (deploy/OPERATIONS.md, "Behind PgBouncer").
Everything Portico itself sets per practice is `SET LOCAL`, which ends with its transaction.
"""

from __future__ import annotations

from typing import Any

from tenants.database import EMPTY_SCHEMA

ENGINE_OPTIONS: dict[str, Any] = {
    # No pool_pre_ping (a round trip on every request): tenants.database.install_pool_hygiene pings
    # only connections that sat idle, and recycles by uses; pool_recycle (age) is set from settings.
    "pool_pre_ping": False,
    "pool_recycle": 1800,
    # The most recently used connection first: the busy few stay warm (their catalog caches too),
    # the rest age out.
    "pool_use_lifo": True,
    # Unqualified SQL finds nothing: every table is reached through its schema.
    "connect_args": {"options": f"-c search_path={EMPTY_SCHEMA}"},
}

# psycopg.connect arguments for a connection through PgBouncer in transaction pooling.
PGBOUNCER_CONNECT_ARGS: dict[str, Any] = {"prepare_threshold": None}


def engine_options(settings) -> dict[str, Any]:
    """SQLAlchemy engine options for the application's and the owner's engines under `settings`."""
    options = {**ENGINE_OPTIONS, "pool_recycle": settings.db_recycle_seconds or -1}
    if settings.pgbouncer:
        options["connect_args"] = dict(PGBOUNCER_CONNECT_ARGS)
    return options
