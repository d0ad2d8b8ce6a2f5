"""The database handle, the two model bases, and the rule that binds practice queries to their schema.

Tenant tables are declared in the placeholder schema `tenant`. While a practice is bound, the session
uses one cached engine per practice whose `schema_translate_map` turns `tenant` into `tenant_<id>`, and
every transaction it begins starts with `SET LOCAL ROLE tenant_<id>` and `SET LOCAL search_path`,
sent in the same round trip as its BEGIN (`begin_in_practice`). `SET LOCAL` ends with the
transaction, so nothing survives into the next use of a pooled connection.

Two engines: `db.engine` connects as the application role (requests, jobs), `owner_engine()` as the
owner role (migrations, provisioning, registry changes); see `tenants.roles` for what each may do.
"""

from __future__ import annotations

import re
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy import BigInteger, Engine, MetaData, event, exc
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
        begin_in_practice(connection, practice.schema_name)


def begin_in_practice(connection, schema: str) -> None:
    """Enter `schema`'s role and search_path at the start of `connection`'s transaction, in ONE round
    trip: `BEGIN; SET LOCAL ROLE …; SET LOCAL search_path …` sent as one simple-protocol query.

    ISOLATION: this is where a practice transaction gets its role. What keeps it safe:
    - Each SET is a statement of its own, before any query of the transaction: PostgreSQL checks a
      statement's permissions under the role current when it starts, so every later statement of
      the transaction runs as `tenant_<id>` (a `set_config('role', …)` inside a SELECT would not
      protect that SELECT).
    - Both are `SET LOCAL`: COMMIT or ROLLBACK ends them, so a connection goes back to the pool as
      the application role with the empty search_path (tests/test_pooled_connection.py).
    - A simple query stops at its first error: if BEGIN succeeded and a SET failed, the transaction
      is aborted and nothing else runs in it (we raise; the session rolls back). Nothing runs as the
      application role in a transaction meant for a practice.
    - It is only sent when psycopg is idle (no transaction open) and would itself have sent exactly
      this BEGIN; otherwise (a transaction already open, another driver) the SETs go as before, as
      their own statement after psycopg's BEGIN: two round trips, equally safe.
    psycopg decides COMMIT/ROLLBACK from the server's transaction status, not from who sent BEGIN,
    so the session's commit and rollback work as usual.
    """
    switch = enter_practice_sql(schema)
    dbapi = getattr(connection.connection, "dbapi_connection", None)
    start = _psycopg_begin(dbapi)
    if start is None:
        connection.exec_driver_sql(switch)
        return
    with dbapi.lock:
        dbapi.wait(_simple_query(dbapi, start + b"; " + switch.encode()))


def _simple_query(dbapi, command: bytes):
    """A psycopg generator sending `command` (several statements) by the simple query protocol, as
    psycopg sends its own BEGIN, and raising the first error among the results: the server stops at
    the first failing statement, so nothing after it ran."""
    from psycopg import errors, generators
    from psycopg.pq import ExecStatus

    dbapi._check_connection_ok()
    dbapi.pgconn.send_query(command)
    results = yield from generators.execute(dbapi.pgconn)
    for result in results:
        if result.status != ExecStatus.COMMAND_OK:
            raise errors.error_from_result(result, encoding=dbapi.pgconn._encoding)
    if len(results) != command.count(b";") + 1:  # every statement answered, none skipped
        raise errors.InternalError(f"{len(results)} results for {command.decode()!r}")


def _psycopg_begin(dbapi) -> bytes | None:
    """The BEGIN psycopg would send before the next statement, or None when it would send none
    (autocommit, a transaction already open, pipeline mode) or this is not a psycopg connection."""
    try:
        from psycopg import Connection
        from psycopg.pq import TransactionStatus
    except ImportError:  # pragma: no cover - psycopg is the only driver Portico supports
        return None
    if not isinstance(dbapi, Connection) or dbapi.autocommit or dbapi._pipeline is not None:
        return None
    if dbapi.pgconn.transaction_status != TransactionStatus.IDLE:
        return None
    start = dbapi._get_tx_start_command()
    return start if start.startswith(b"BEGIN") else None


db = SQLAlchemy(session_options={"class_": PracticeSession})


# What one unit of work (a request, a job, a practice scope) remembers in `g` about its practice: the
# session's settings row and the settings version its statements saw (tenants.features). Keyed by
# practice id already; forgotten at each scope's edges too, so that a later scope in the same
# application context (a test, a CLI loop) reads afresh rather than trusting an old version.
_UNIT_CACHES = ("_portico_settings", "_portico_settings_version")


def _forget_unit_caches() -> None:
    from flask import g, has_app_context

    if has_app_context():
        for name in _UNIT_CACHES:
            g.pop(name, None)


@contextmanager
def practice_scope(practice: PracticeRecord) -> Iterator[PracticeRecord]:
    """Run a block (a job, a CLI step, a test) as `practice`, in its own session transaction.

    The block commits what it wants committed; anything left open is rolled back on exit.
    """
    if bound_practice() is not None:
        raise RuntimeError("a practice is already bound; practice scopes do not nest")
    db.session.remove()
    _forget_unit_caches()
    token = set_bound_practice(practice)
    try:
        yield practice
    finally:
        db.session.remove()
        _forget_unit_caches()
        reset_bound_practice(token)


# --- pooled connections: a liveness check only after idleness, and recycling by age and by uses ----


def install_pool_hygiene(engine: Engine, *, recycle_uses: int, ping_after_idle_seconds: float) -> None:
    """What replaces `pool_pre_ping` (a round trip on every checkout, i.e. every request), and
    recycles a connection after `recycle_uses` checkouts (age is SQLAlchemy's `pool_recycle`).

    - A connection idle in the pool for more than `ping_after_idle_seconds` is pinged on checkout
      (`SELECT 1`); one in steady use is not. A connection that died while in use within that window
      (a database restart) fails one request, and is then discarded by the pool.
    - Each backend keeps the catalog entries of every practice schema it has touched (about 50 KiB a
      practice): closing a connection after `recycle_uses` checkouts bounds what one backend can
      accumulate to at most that many practices. 0 turns it off.
    Raising DisconnectionError in a checkout handler makes the pool close that connection and hand
    out a fresh one (SQLAlchemy's documented pessimistic disconnect pattern).
    """
    pool = engine.pool

    @event.listens_for(pool, "connect")
    def _fresh(dbapi_connection, record) -> None:
        record.info["portico_uses"] = 0
        record.info.pop("portico_idle_since", None)

    @event.listens_for(pool, "checkin")
    def _idle(dbapi_connection, record) -> None:
        record.info["portico_idle_since"] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _check(dbapi_connection, record, proxy) -> None:
        uses = record.info.get("portico_uses", 0) + 1
        record.info["portico_uses"] = uses
        if recycle_uses and uses > recycle_uses:
            raise exc.DisconnectionError(f"recycled after {recycle_uses} uses")
        idle_since = record.info.get("portico_idle_since")
        if idle_since is not None and time.monotonic() - idle_since > ping_after_idle_seconds:
            try:
                engine.dialect.do_ping(dbapi_connection)
            except Exception as error:  # any failure: the pool replaces the connection
                raise exc.DisconnectionError(f"ping after idle failed: {error}") from error
