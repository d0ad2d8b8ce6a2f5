"""Schema migrations: the `public` branch once, the `tenant` branch once per practice schema.

The registry records each practice's revision, so finding the schemas that are behind is one query
and a run with nothing to do costs nothing more. Tenant migrations are written without schema names;
each runs on a private connection inside a transaction that switches role and search_path to the
practice (SQLAlchemy's schema_translate_map does not reach Alembic operations or text() SQL).
Alembic's `op` is process-global, so several schemas at a time means several processes.
Every function here takes the owner role's engine (`tenants.database.owner_engine()`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, select, text, update

from tenants.database import enter_practice_sql
from tenants.models import Practice

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


def upgrade_schema(connection, practice_id: int, schema: str, target: str = "tenant@head") -> None:
    """Upgrade one practice schema and record its new revision, in one transaction."""
    connection.exec_driver_sql(enter_practice_sql(schema))
    config = alembic_config()
    config.attributes.update(connection=connection, branch="tenant", schema=schema)
    command.upgrade(config, target)
    revision = connection.execute(text(f"SELECT version_num FROM {schema}.alembic_version")).scalar()
    connection.exec_driver_sql("SET LOCAL ROLE NONE; SET LOCAL search_path TO public")
    connection.execute(update(Practice).where(Practice.id == practice_id).values(schema_revision=revision))


@dataclass
class TenantUpgradeResult:
    practice_id: int
    slug: str
    error: str | None = None


_worker_engine: Engine | None = None


def _init_worker(url: str) -> None:
    global _worker_engine
    _worker_engine = create_engine(url, pool_size=1)


def _upgrade_in_worker(practice_id: int, slug: str, schema: str) -> TenantUpgradeResult:
    try:
        with _worker_engine.begin() as connection:
            upgrade_schema(connection, practice_id, schema)
        return TenantUpgradeResult(practice_id, slug)
    except Exception as exc:  # reported per practice; the others carry on
        return TenantUpgradeResult(practice_id, slug, error=f"{type(exc).__name__}: {exc}")


def schemas_behind(engine: Engine) -> list[tuple[int, str]]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(Practice.id, Practice.slug)
            .where(Practice.schema_revision.is_distinct_from(tenant_head()))
            .where(Practice.status != "deleted")
            .order_by(Practice.id)
        ).all()
    return [(row.id, row.slug) for row in rows]


def upgrade_tenants(
    engine: Engine, jobs: int = 4, report: Callable[[TenantUpgradeResult], None] = lambda r: None
) -> list[TenantUpgradeResult]:
    behind = schemas_behind(engine)
    if not behind:
        return []
    results: list[TenantUpgradeResult] = []
    if jobs <= 1 or len(behind) == 1:
        global _worker_engine
        _worker_engine = engine
        for practice_id, slug in behind:
            result = _upgrade_in_worker(practice_id, slug, f"tenant_{practice_id}")
            report(result)
            results.append(result)
        return results
    url = engine.url.render_as_string(hide_password=False)
    with ProcessPoolExecutor(
        max_workers=max(1, min(jobs, len(behind))), initializer=_init_worker, initargs=(url,)
    ) as pool:
        futures = [
            pool.submit(_upgrade_in_worker, practice_id, slug, f"tenant_{practice_id}")
            for practice_id, slug in behind
        ]
        for future in as_completed(futures):
            result = future.result()
            report(result)
            results.append(result)
    return results
