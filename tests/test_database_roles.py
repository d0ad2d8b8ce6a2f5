"""The database roles: the application's role reads no practice outside that practice's transaction.

The suite runs the application as a role of its own (no superuser, NOINHERIT) and migrates and
provisions as an owner role (see tests/conftest.py), so every other test also proves these roles suffice.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import replace

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from app import create_app
from tenants.database import db, owner_engine, practice_scope
from tenants.roles import app_role_warnings


def practice_tables(conn) -> list[str]:
    """Every table of every practice in the test database, schema-qualified (the catalog is public)."""
    return [
        f"{schema}.{table}"
        for schema, table in conn.execute(
            text(
                "SELECT schemaname, tablename FROM pg_tables WHERE schemaname ~ '^tenant_[0-9]+$' "
                "ORDER BY 1, 2"
            )
        )
    ]


def test_the_application_role_is_no_superuser_and_inherits_nothing(app):
    with app.app_context():
        with db.engine.connect() as conn:
            superuser, inherits = conn.execute(
                text("SELECT rolsuper, rolinherit FROM pg_roles WHERE rolname = session_user")
            ).one()
        with owner_engine().connect() as conn:
            owner_is_superuser = conn.execute(
                text("SELECT rolsuper FROM pg_roles WHERE rolname = session_user")
            ).scalar_one()
        assert (superuser, inherits, owner_is_superuser) == (False, False, False)
        assert app_role_warnings(db.engine) == []


def test_outside_a_practice_transaction_no_practice_table_is_readable(app, make_practice):
    a, b = make_practice(), make_practice()
    with app.app_context(), db.engine.connect() as conn:
        tables = practice_tables(conn)
        assert f"tenant_{a.id}.users" in tables and f"tenant_{b.id}.users" in tables
        for table in tables:
            with pytest.raises(DBAPIError, match="permission denied"):
                conn.execute(text(f"SELECT * FROM {table} LIMIT 1"))
            conn.rollback()
        for statement in (
            f"UPDATE tenant_{a.id}.users SET name = 'x'",
            f"DELETE FROM tenant_{b.id}.users",
            f"CREATE TABLE tenant_{a.id}.planted (id int)",
        ):
            with pytest.raises(DBAPIError, match="permission denied"):
                conn.execute(text(statement))
            conn.rollback()


def test_leaving_the_practice_role_inside_its_transaction_reads_nothing(app, make_practice):
    a = make_practice()
    with app.app_context(), practice_scope(a.record):
        assert db.session.execute(text(f"SELECT count(*) FROM tenant_{a.id}.users")).scalar() == 1
        db.session.execute(text("RESET ROLE"))
        with pytest.raises(DBAPIError, match="permission denied"):
            db.session.execute(text(f"SELECT count(*) FROM tenant_{a.id}.users")).scalar()


@pytest.mark.xfail(
    strict=True,
    reason="PostgreSQL checks SET ROLE against the login role, which must be able to switch into every "
    "practice; Portico only switches through tenants.database.enter_practice_sql (see tenants/roles.py)",
)
def test_inside_a_practice_transaction_another_practices_role_cannot_be_taken(app, make_practice):
    a, b = make_practice(), make_practice()
    with app.app_context(), practice_scope(a.record):
        with pytest.raises(DBAPIError, match="permission denied"):
            db.session.execute(text(f"SET LOCAL ROLE tenant_{b.id}"))


def test_the_application_role_reads_the_registry_and_changes_none_of_it(app, make_practice):
    practice = make_practice()
    with app.app_context(), db.engine.connect() as conn:
        slug = conn.execute(text("SELECT slug FROM public.practices WHERE id = :id"), {"id": practice.id})
        assert slug.scalar() == practice.slug
        for statement in (
            "UPDATE public.practices SET status = 'active'",
            "DELETE FROM public.retired_slugs",
            "INSERT INTO public.retired_slugs (slug, practice_id) VALUES ('planted', 1)",
        ):
            with pytest.raises(DBAPIError, match="permission denied"):
                conn.execute(text(statement))
            conn.rollback()


def _warnings_at_start(app, url: str, caplog) -> list[str]:
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="portico.db"):
        started = create_app(replace(app.config["PORTICO"]), db_url=url)
    with started.app_context():
        for engine in db.engines.values():
            engine.dispose()
    return [record.getMessage() for record in caplog.records if record.name == "portico.db"]


def test_a_superuser_database_url_is_warned_about_at_start(app, database_urls, caplog):
    assert _warnings_at_start(app, database_urls.app, caplog) == []
    (warning,) = _warnings_at_start(app, database_urls.admin, caplog)
    assert "a superuser" in warning and "NOINHERIT" in warning


def test_a_role_inheriting_practice_roles_is_warned_about_at_start(app, database_urls, make_practice, caplog):
    practice = make_practice()
    name, password = f"portico_inherits_{secrets.token_hex(4)}", secrets.token_urlsafe(12)
    with app.app_context(), owner_engine().begin() as conn:
        conn.exec_driver_sql(f"CREATE ROLE {name} LOGIN INHERIT PASSWORD '{password}'")
        with_inherit = " WITH INHERIT TRUE" if conn.dialect.server_version_info >= (16,) else ""
        conn.exec_driver_sql(f"GRANT tenant_{practice.id} TO {name}{with_inherit}")
    try:
        url = make_url(database_urls.app).set(username=name, password=password)
        warnings = _warnings_at_start(app, url.render_as_string(hide_password=False), caplog)
        assert len(warnings) == 1 and f"ALTER ROLE {name} NOINHERIT" in warnings[0]
    finally:
        with app.app_context(), owner_engine().begin() as conn:
            conn.exec_driver_sql(f"DROP ROLE {name}")
