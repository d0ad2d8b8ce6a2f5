"""Schema migrations: the `public` branch once, the `tenant` branch once per practice schema.

The registry records each practice's revision, so finding the schemas that are behind is one query
and a run with nothing to do costs nothing more. Tenant migrations are written without schema names;
each runs on a private connection inside a transaction that switches role and search_path to the
practice (SQLAlchemy's schema_translate_map does not reach Alembic operations or text() SQL).
Alembic's `op` is process-global, so several schemas at a time means several processes.
Every function here takes the owner role's engine (`tenants.database.owner_engine()`).

Migrations run without the master key, so they cannot seal what earlier releases kept in clear.
`upgrade_tenants` does that after migrating each practice: it runs the registered sealing steps
(`tenants.encryption.seal_plain_data`) in the practice's own context, with its key, and records the
practice's new revision only once they succeeded. A practice whose sealing failed is still "behind",
so the next upgrade tries it again (its migrations are then nothing to do).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, text, update

from tenants.database import db, enter_practice_sql, practice_scope
from tenants.encryption import seal_plain_data
from tenants.models import Practice
from tenants.registry import get_practice

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    config.set_main_option(
        "version_locations",
        os.pathsep.join(str(MIGRATIONS_DIR / branch / "versions") for branch in ("public", "tenant")),
    )
    return config


@lru_cache(maxsize=1)
def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def tenant_head() -> str:
    return _script().revision_map.get_current_head("tenant")


def upgrade_public(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.exec_driver_sql("SET LOCAL search_path TO public")
        config = alembic_config()
        config.attributes.update(connection=connection, branch="public")
        command.upgrade(config, "public@head")


def upgrade_schema(
    connection, practice_id: int, schema: str, target: str = "tenant@head", record: bool = True
) -> str:
    """Upgrade one practice schema and (with `record`) record its new revision, in one transaction.
    Returns the revision the schema is at."""
    connection.exec_driver_sql(enter_practice_sql(schema))
    config = alembic_config()
    config.attributes.update(connection=connection, branch="tenant", schema=schema)
    command.upgrade(config, target)
    revision = connection.execute(text(f"SELECT version_num FROM {schema}.alembic_version")).scalar()
    connection.exec_driver_sql("SET LOCAL ROLE NONE; SET LOCAL search_path TO public")
    if record:
        _record_revision(connection, practice_id, revision)
    return revision


def _record_revision(connection, practice_id: int, revision: str) -> None:
    connection.execute(update(Practice).where(Practice.id == practice_id).values(schema_revision=revision))


@dataclass
class TenantUpgradeResult:
    practice_id: int
    slug: str
    error: str | None = None
    revision: str | None = None
    sealed: dict[str, int] = field(default_factory=dict)  # what the sealing steps sealed, by name


_worker_engine: Engine | None = None


def _init_worker(url: str, connect_args: dict) -> None:
    global _worker_engine
    _worker_engine = create_engine(url, pool_size=1, connect_args=connect_args)


def _upgrade_in_worker(practice_id: int, slug: str, schema: str) -> TenantUpgradeResult:
    try:
        with _worker_engine.begin() as connection:
            # Not recorded yet: the practice stays "behind" until its plain data is sealed too.
            revision = upgrade_schema(connection, practice_id, schema, record=False)
        return TenantUpgradeResult(practice_id, slug, revision=revision)
    except Exception as exc:  # reported per practice; the others carry on
        return TenantUpgradeResult(practice_id, slug, error=f"{type(exc).__name__}: {exc}")


def _seal_and_record(engine: Engine, result: TenantUpgradeResult) -> TenantUpgradeResult:
    """In this process (it has the application and the master key): run the sealing steps in the
    migrated practice, then record its revision. Needs an application context."""
    if result.error:
        return result
    try:
        with practice_scope(get_practice(result.practice_id)):
            result.sealed = seal_plain_data()
            db.session.commit()
    except Exception as exc:  # reported per practice; its revision is not recorded, so it is retried
        result.error = f"data kept in clear could not be sealed: {type(exc).__name__}: {exc}"
        return result
    with engine.begin() as connection:
        _record_revision(connection, result.practice_id, result.revision)
    return result


def upgrade_plan(engine: Engine) -> tuple[list[tuple[int, str]], int]:
    """The practices whose schema is behind (id, slug), and how many practices there are (deleted
    ones aside), in one query."""
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT counted.total, p.id, p.slug FROM "
                "(SELECT count(*) AS total FROM public.practices WHERE status <> 'deleted') AS counted "
                "LEFT JOIN public.practices AS p "
                "ON p.status <> 'deleted' AND p.schema_revision IS DISTINCT FROM :head ORDER BY p.id"
            ),
            {"head": tenant_head()},
        ).all()
    return [(row.id, row.slug) for row in rows if row.id is not None], rows[0].total


def schemas_behind(engine: Engine) -> list[tuple[int, str]]:
    return upgrade_plan(engine)[0]


def upgrade_tenants(
    engine: Engine,
    jobs: int = 4,
    report: Callable[[TenantUpgradeResult], None] = lambda r: None,
    plan: Callable[[int, int], None] = lambda behind, total: None,
    connect_args: dict | None = None,
) -> list[TenantUpgradeResult]:
    """Upgrade every practice schema that is behind; `plan(behind, total)` hears how many are behind
    of how many first, `report(result)` each result as it comes. `connect_args`: for the engines of
    the worker processes (as the owner engine's, e.g. no prepared statements behind PgBouncer)."""
    behind, total = upgrade_plan(engine)
    plan(len(behind), total)
    if not behind:
        return []
    results: list[TenantUpgradeResult] = []
    if jobs <= 1 or len(behind) == 1:
        global _worker_engine
        _worker_engine = engine
        for practice_id, slug in behind:
            result = _seal_and_record(engine, _upgrade_in_worker(practice_id, slug, f"tenant_{practice_id}"))
            report(result)
            results.append(result)
        return results
    url = engine.url.render_as_string(hide_password=False)
    with ProcessPoolExecutor(
        max_workers=max(1, min(jobs, len(behind))), initializer=_init_worker,
        initargs=(url, connect_args or {}),
    ) as pool:
        futures = [
            pool.submit(_upgrade_in_worker, practice_id, slug, f"tenant_{practice_id}")
            for practice_id, slug in behind
        ]
        for future in as_completed(futures):
            result = _seal_and_record(engine, future.result())
            report(result)
            results.append(result)
    return results
