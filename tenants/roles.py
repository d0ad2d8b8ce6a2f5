"""The two database roles Portico runs as, and what each may do.

- The owner role (PORTICO_OWNER_DATABASE_URL; DATABASE_URL's when unset) runs migrations,
  provisioning and registry changes. It owns the `public` schema, creates each practice's role and
  schema, and is a member of every practice role so it can switch into it.
- The application role (DATABASE_URL) serves requests and runs jobs. It is a member of every
  practice role WITHOUT inheriting its rights (NOINHERIT): it reads nothing of any practice until
  `SET LOCAL ROLE tenant_<id>` inside that practice's transaction. Outside one it may read the
  registry and use the job queue's tables, nothing more.

What the database cannot stop: PostgreSQL checks SET ROLE against the session's login role, which
must be able to switch into every practice, so a statement inside practice A's transaction could
still switch to practice B's role. Portico itself switches only through
`tenants.database.enter_practice_sql`, with a checked name, at the start of a practice transaction.
"""

from __future__ import annotations

import logging

import psycopg
from flask import current_app
from psycopg import sql
from sqlalchemy import text

from tenants.database import checked_schema_name, db
from tenants.upgrade_check import JOB_TABLES, MEMBERSHIP_OPTIONS, NOT_ADMITTED, NOT_ADMITTED_16

log = logging.getLogger("portico.roles")


def set_up_database(admin_url: str, database: str, owner: str, app: str, password: str | None = None) -> bool:
    """As a superuser (`admin_url`, a libpq URL): create the two login roles and `database`, owned by
    the owner role, unless they exist. The SQL an operator runs by hand (README) does the same.

    Returns False when `database` already existed with another owner (an installation from before
    the two roles): its objects stay where they are, and the caller keeps migrating as that owner.
    """
    secret = sql.SQL(" PASSWORD {}").format(sql.Literal(password)) if password else sql.SQL("")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        for role, attributes in ((owner, "LOGIN CREATEROLE NOINHERIT"), (app, "LOGIN NOINHERIT")):
            if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is None:
                conn.execute(
                    sql.SQL("CREATE ROLE {} {}{}").format(sql.Identifier(role), sql.SQL(attributes), secret)
                )
        existing = conn.execute(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", (database,)
        ).fetchone()
        if existing is not None:
            return existing[0] == owner
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(database), sql.Identifier(owner))
        )
    # The owner creates the platform tables in `public`; it does not inherit pg_database_owner's rights.
    database_url = psycopg.conninfo.make_conninfo(admin_url, dbname=database)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(sql.Identifier(owner)))
    return True


def app_role() -> str:
    """The application role's name (DATABASE_URL's login role), asked once per application."""
    name = current_app.extensions.get("portico_app_role")
    if name is None:
        with db.engine.connect() as conn:
            name = conn.execute(text("SELECT session_user")).scalar_one()
        current_app.extensions["portico_app_role"] = name
    return name


def _without_inherit(connection) -> str:
    return " WITH INHERIT FALSE" if connection.dialect.server_version_info >= MEMBERSHIP_OPTIONS else ""


def admit_to_practice_role(connection, role: str, app: str) -> None:
    """On the owner's connection: let the owner and the application role switch into `role`,
    neither inheriting its rights. Also repairs a membership granted WITH INHERIT before."""
    role = checked_schema_name(role)
    quote = connection.dialect.identifier_preparer.quote
    owner = connection.execute(text("SELECT current_user")).scalar_one()
    for member in dict.fromkeys((owner, app)):
        connection.exec_driver_sql(f"GRANT {role} TO {quote(member)}{_without_inherit(connection)}")


def grant_app_role(connection, app: str) -> None:
    """On the owner's connection, after the public migrations: the application role may read the
    registry, use the job queue, and switch into (not inherit) every practice role. What it gives is
    what `tenants.upgrade_check` checks before calling an upgrade a no-op: change both together."""
    owner = connection.execute(text("SELECT current_user")).scalar_one()
    if app == owner:
        return  # one role for everything: nothing to grant (create_app warns)
    quote = connection.dialect.identifier_preparer.quote
    member = quote(app)
    connection.exec_driver_sql(f"GRANT SELECT ON public.practices, public.retired_slugs TO {member}")
    # When each practice next has periodic work due: practice ids and times, written by its jobs.
    connection.exec_driver_sql(f"GRANT SELECT, INSERT, UPDATE, DELETE ON public.practice_due TO {member}")
    for name, kind in connection.execute(
        text(
            "SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'S') AND c.relname LIKE :pattern"
        ),
        {"pattern": JOB_TABLES},
    ):
        rights = "USAGE, SELECT" if kind == "S" else "SELECT, INSERT, UPDATE, DELETE"
        connection.exec_driver_sql(f"GRANT {rights} ON public.{quote(name)} TO {member}")
    # Only the practices where a membership is missing (or inherits, to be repaired): a no-op
    # upgrade of 1,000 practices then sends one query, not 2,000 GRANTs.
    options = connection.dialect.server_version_info >= MEMBERSHIP_OPTIONS
    for (practice_id,) in connection.exec_driver_sql(
        NOT_ADMITTED_16 if options else NOT_ADMITTED, {"members": list(dict.fromkeys((owner, app)))}
    ):
        admit_to_practice_role(connection, f"tenant_{int(practice_id)}", app)


def app_role_warnings(engine) -> list[str]:
    """Why the application role (connected through `engine`) can read practices it has not switched
    into: a superuser, or one that inherits practice roles. Empty when the database enforces isolation."""
    with engine.connect() as conn:
        superuser, inherits_role, inherits_practice = conn.execute(
            text(
                "SELECT r.rolsuper, r.rolinherit, EXISTS (SELECT 1 FROM pg_roles t "
                "WHERE t.rolname ~ '^tenant_[0-9]+$' AND pg_has_role(r.oid, t.oid, 'USAGE')) "
                "FROM pg_roles r WHERE r.rolname = session_user"
            )
        ).one()
        name = conn.execute(text("SELECT session_user")).scalar_one()
        old_server = conn.dialect.server_version_info < MEMBERSHIP_OPTIONS
    if superuser:
        return [
            f"DATABASE_URL connects as {name}, a superuser: every practice's data is readable outside its "
            "transaction. Connect as a NOINHERIT application role (see README, 'Database roles')."
        ]
    if inherits_practice or (old_server and inherits_role):
        return [
            f"DATABASE_URL's role {name} has INHERIT on practice roles: it can read every practice outside "
            f"its transaction. Run ALTER ROLE {name} NOINHERIT (see README, 'Database roles')."
        ]
    return []
