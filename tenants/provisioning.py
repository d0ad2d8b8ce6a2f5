"""Creating a practice: registry row, NOLOGIN role, schema, tables at head, all in one transaction.

Nothing replays migration history here: tables are built from the models at the current tenant head
and the schema is stamped with it (a test proves this equals upgrading from the first revision).
If anything fails, the transaction rolls back and no row, role or schema is left behind.
All of it runs as the owner role (`owner_engine()`), also when signup calls it in a web process.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from sqlalchemy import insert, text
from sqlalchemy.exc import IntegrityError

from tenants.addresses import normalize_subdomain
from tenants.context import PracticeRecord
from tenants.database import TenantModel, db, enter_practice_sql, owner_engine, practice_scope
from tenants.encryption import PracticeKey  # noqa: F401 (its table is built with the others)
from tenants.features import PracticeSettings
from tenants.migrate import tenant_head
from tenants.models import Practice
from tenants.registry import RegistryError, address_available, invalidate_cache, notify_change
from tenants.roles import admit_to_practice_role, app_role

ADDRESS_TAKEN = "That address is already taken. Please choose another."


def build_tenant_tables(connection, revision: str) -> None:
    """Create every tenant table at `revision` in the schema the connection is switched to."""
    TenantModel.metadata.create_all(connection, checkfirst=False)
    connection.execute(insert(PracticeSettings.__table__).values(id=1))  # the single settings row
    connection.exec_driver_sql(
        "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
        "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
    )
    connection.execute(text("INSERT INTO alembic_version (version_num) VALUES (:rev)"), {"rev": revision})


@contextmanager
def new_practice(name: str, slug: str) -> Iterator[PracticeRecord]:
    """Provision a practice and yield it, bound, inside the same transaction.

    The block adds the practice's first rows (its owner, a login hand-off) through `db.session`
    and must not commit: the whole practice commits on exit, or none of it exists.
    """
    slug = normalize_subdomain(slug)
    problem = address_available(slug)
    if problem:
        raise RegistryError(problem)
    with owner_engine().connect() as conn:
        practice_id = conn.execute(
            text("SELECT nextval(pg_get_serial_sequence('public.practices', 'id'))")
        ).scalar_one()
    revision = tenant_head()
    application_role = app_role()
    record = PracticeRecord(id=practice_id, slug=slug, name=name, provisioning=True)
    with practice_scope(record):
        connection = db.session.connection()  # the owner's (see PracticeSession.get_bind)
        try:
            # First, so that a concurrent signup for the same address waits here and then fails.
            connection.execute(
                insert(Practice).values(
                    id=practice_id, name=name, slug=slug, status="active", schema_revision=revision
                )
            )
        except IntegrityError:
            db.session.rollback()
            raise RegistryError(ADDRESS_TAKEN) from None
        notify_change(connection)  # other processes forget a cached miss for this address at commit
        role = record.role_name
        connection.exec_driver_sql(
            f"DO $$ BEGIN CREATE ROLE {role} NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$"
        )
        admit_to_practice_role(connection, role, application_role)
        connection.exec_driver_sql(f"CREATE SCHEMA {record.schema_name} AUTHORIZATION {role}")
        connection.exec_driver_sql(enter_practice_sql(record.schema_name))
        build_tenant_tables(connection, revision)
        yield replace(record, provisioning=False)
        db.session.commit()
    invalidate_cache()
