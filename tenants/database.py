"""The database handle, the two model bases, and the rule that binds practice queries to their schema.

Tenant tables are declared in the placeholder schema `tenant`. While a practice is bound, the session
uses one cached engine per practice whose `schema_translate_map` turns `tenant` into `tenant_<id>`, and
every transaction it begins starts with `SET LOCAL ROLE tenant_<id>` and `SET LOCAL search_path`.
`SET LOCAL` ends with the transaction, so nothing survives into the next use of a pooled connection.

Two engines: `db.engine` connects as the application role (requests, jobs), `owner_engine()` as the
owner role (migrations, provisioning, registry changes); see `tenants.roles` for what each may do.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy import BigInteger, Engine, MetaData, event
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.sql.util import find_tables

from tenants.context import (
    NoPracticeBound,
    PracticeRecord,
    bound_practice,
    reset_bound_practice,
    set_bound_practice,
)

TENANT_SCHEMA = "tenant"
OWNER_BIND = "owner"
EMPTY_SCHEMA = "portico_empty"
_SCHEMA_NAME = re.compile(r"^tenant_[0-9]+$")

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class PublicModel(DeclarativeBase):
    """Platform tables in the `public` schema (the practice registry). Never reachable by a tenant role."""

    metadata = MetaData(schema="public", naming_convention=NAMING_CONVENTION)
    type_annotation_map = {int: BigInteger}


class TenantModel(DeclarativeBase):
    """Tables that exist once per practice, in that practice's schema."""

    metadata = MetaData(schema=TENANT_SCHEMA, naming_convention=NAMING_CONVENTION)
    type_annotation_map = {int: BigInteger}


def checked_schema_name(schema: str) -> str:
    """Schema and role names are interpolated into SQL, so only `tenant_<digits>` is accepted."""
    if not _SCHEMA_NAME.match(schema):
        raise ValueError(f"not a practice schema name: {schema!r}")
    return schema


def enter_practice_sql(schema: str) -> str:
    schema = checked_schema_name(schema)
    return f"SET LOCAL ROLE {schema}; SET LOCAL search_path TO {schema}"


_schema_engines: weakref.WeakKeyDictionary[Engine, dict[str, Engine]] = weakref.WeakKeyDictionary()


def engine_for_schema(engine: Engine, schema: str) -> Engine:
    """One engine per practice schema, sharing the base engine's pool; compiled SQL is shared too."""
    per_engine = _schema_engines.setdefault(engine, {})
    schema_engine = per_engine.get(schema)
    if schema_engine is None:
        schema_engine = engine.execution_options(
            schema_translate_map={TENANT_SCHEMA: checked_schema_name(schema)}
        )
        per_engine[schema] = schema_engine
    return schema_engine


def owner_engine() -> Engine:
    """The owner role's engine: the application's own when no separate owner URL is configured."""
    return db.engines.get(OWNER_BIND) or db.engine


def _touches_tenant_tables(mapper, clause) -> bool:
    if mapper is not None and getattr(mapper, "persist_selectable", None) is not None:
        if getattr(mapper.persist_selectable, "schema", None) == TENANT_SCHEMA:
            return True
    if clause is not None:
        try:
            tables = find_tables(clause, include_crud=True, include_joins=True)
        except Exception:  # an unusual construct: let the database decide (it fails closed)
            return False
        return any(getattr(table, "schema", None) == TENANT_SCHEMA for table in tables)
    return False


class PracticeSession(FlaskSession):
    """Routes each statement to the bound practice's engine, or refuses practice tables unbound."""

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        if bind is not None:
            return bind
        practice = bound_practice()
        if practice is None:
            if _touches_tenant_tables(mapper, clause):
                raise NoPracticeBound("practice tables queried with no practice bound")
            return super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)
        # A practice being provisioned is built by the owner role, in the provisioning transaction.
        base = owner_engine() if practice.provisioning else self._db.engine
        return engine_for_schema(base, practice.schema_name)


@event.listens_for(PracticeSession, "after_begin")
def _enter_practice(session, transaction, connection) -> None:
    practice = bound_practice()
    # While provisioning, the role does not exist yet; `tenants.provisioning` switches itself.
    if practice is not None and not practice.provisioning:
        connection.exec_driver_sql(enter_practice_sql(practice.schema_name))


db = SQLAlchemy(session_options={"class_": PracticeSession})


@contextmanager
def practice_scope(practice: PracticeRecord) -> Iterator[PracticeRecord]:
    """Run a block (a job, a CLI step, a test) as `practice`, in its own session transaction.

    The block commits what it wants committed; anything left open is rolled back on exit.
    """
    if bound_practice() is not None:
        raise RuntimeError("a practice is already bound; practice scopes do not nest")
    db.session.remove()
    token = set_bound_practice(practice)
    try:
        yield practice
    finally:
        db.session.remove()
        reset_bound_practice(token)
