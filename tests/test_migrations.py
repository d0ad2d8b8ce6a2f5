"""Migrations: building at head equals upgrading from the first revision; the runner's behaviour."""

from __future__ import annotations

import re

from click.testing import CliRunner
from sqlalchemy import event, text

from app.cli import main
from tenants.database import owner_engine
from tenants.migrate import schemas_behind, tenant_head, upgrade_tenants

CATALOG = {
    "columns": """
        SELECT table_name, column_name, data_type, character_maximum_length, is_nullable,
               replace(column_default, :schema || '.', 'S.'), is_identity, identity_generation
        FROM information_schema.columns WHERE table_schema = :schema ORDER BY 1, 2""",
    "indexes": """
        SELECT tablename, indexname, replace(indexdef, :schema || '.', 'S.')
        FROM pg_indexes WHERE schemaname = :schema ORDER BY 1, 2""",
    "constraints": """
        SELECT rel.relname, con.conname, con.contype,
               replace(pg_get_constraintdef(con.oid), :schema || '.', 'S.')
        FROM pg_constraint con JOIN pg_class rel ON rel.oid = con.conrelid
        JOIN pg_namespace ns ON ns.oid = rel.relnamespace WHERE ns.nspname = :schema ORDER BY 1, 2""",
    "triggers": """
        SELECT tg.tgname, replace(pg_get_triggerdef(tg.oid), :schema || '.', 'S.')
        FROM pg_trigger tg JOIN pg_class rel ON rel.oid = tg.tgrelid
        JOIN pg_namespace ns ON ns.oid = rel.relnamespace
        WHERE ns.nspname = :schema AND NOT tg.tgisinternal ORDER BY 1""",
    "functions": """
        SELECT p.proname, md5(p.prosrc) FROM pg_proc p JOIN pg_namespace ns ON ns.oid = p.pronamespace
        WHERE ns.nspname = :schema ORDER BY 1""",
    "owners": """
        SELECT tablename, tableowner = :schema FROM pg_tables WHERE schemaname = :schema ORDER BY 1""",
}


def catalog(app, schema: str) -> dict:
    with app.app_context(), owner_engine().begin() as conn:
        conn.exec_driver_sql(f"SET LOCAL ROLE {schema}")  # information_schema shows what the role may see
        return {name: conn.execute(text(query), {"schema": schema}).all() for name, query in CATALOG.items()}


def empty_the_schema(app, practice_id: int) -> None:
    """Put a practice back to before its first tenant revision (an empty schema, no revision)."""
    schema = f"tenant_{practice_id}"
    with app.app_context(), owner_engine().begin() as conn:
        conn.exec_driver_sql(f"SET LOCAL ROLE {schema}; DROP SCHEMA {schema} CASCADE; RESET ROLE")
        conn.exec_driver_sql(f"CREATE SCHEMA {schema} AUTHORIZATION {schema}")
        conn.execute(
            text("UPDATE public.practices SET schema_revision = NULL WHERE id = :id"), {"id": practice_id}
        )


def test_building_at_head_equals_upgrading_from_the_first_revision(app, make_practice):
    built, upgraded = make_practice(), make_practice()
    empty_the_schema(app, upgraded.id)
    with app.app_context():
        results = [r for r in upgrade_tenants(owner_engine(), jobs=1) if r.practice_id == upgraded.id]
    assert [r.error for r in results] == [None]
    a, b = catalog(app, f"tenant_{built.id}"), catalog(app, f"tenant_{upgraded.id}")
    for part in CATALOG:
        assert a[part] == b[part], part
    assert a["columns"] and a["indexes"] and a["constraints"]
    assert all(owned for _, owned in a["owners"])  # the practice role owns its tables


def test_nothing_to_do_is_one_query(app, make_practice):
    for _ in range(3):
        make_practice()
    with app.app_context():
        upgrade_tenants(owner_engine())  # whatever other tests left behind
        statements = []
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(owner_engine(), "before_cursor_execute", listener)
        try:
            assert upgrade_tenants(owner_engine()) == []
        finally:
            event.remove(owner_engine(), "before_cursor_execute", listener)
    assert len(statements) == 1


def test_a_failing_practice_does_not_stop_the_others(app, make_practice):
    good, bad = make_practice(), make_practice()
    for practice in (good, bad):
        empty_the_schema(app, practice.id)
    with app.app_context(), owner_engine().begin() as conn:
        conn.exec_driver_sql(f"SET LOCAL ROLE tenant_{bad.id}")
        conn.exec_driver_sql(f"CREATE TABLE tenant_{bad.id}.users (id int)")  # in the way
    reports = []
    with app.app_context():
        results = {r.practice_id: r for r in upgrade_tenants(owner_engine(), jobs=2, report=reports.append)}
        behind = dict(schemas_behind(owner_engine()))
    assert results[good.id].error is None
    assert "users" in results[bad.id].error and "already exists" in results[bad.id].error
    assert {r.practice_id for r in reports} >= {good.id, bad.id}
    assert good.id not in behind and bad.id in behind
    # Clean up so later runs have nothing to do.
    with app.app_context(), owner_engine().begin() as conn:
        conn.exec_driver_sql(f"SET LOCAL ROLE tenant_{bad.id}; DROP TABLE tenant_{bad.id}.users")
    with app.app_context():
        assert upgrade_tenants(owner_engine(), jobs=1)[0].error is None


def test_db_upgrade_command(app, make_practice, tmp_path):
    practice = make_practice()
    empty_the_schema(app, practice.id)
    env = {
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "PORTICO_OWNER_DATABASE_URL": app.config["PORTICO"].owner_database_url,
        "PORTICO_DATA_DIR": str(tmp_path),
    }
    result = CliRunner().invoke(main, ["db", "upgrade"], env=env)
    assert result.exit_code == 0, result.output
    assert f"practice {practice.id} ({practice.slug}): upgraded" in result.output
    again = CliRunner().invoke(main, ["db", "upgrade"], env=env)
    assert again.exit_code == 0, again.output
    assert re.search(r"Database is up to date: \d+ practice schema\(s\), all already current", again.output)
    with app.app_context(), owner_engine().connect() as conn:
        revision = conn.execute(
            text("SELECT schema_revision FROM public.practices WHERE id = :id"), {"id": practice.id}
        ).scalar()
    assert revision == tenant_head()


def test_downgrade_to_the_first_revision_and_back(app, make_practice):
    from alembic import command

    from tenants.database import enter_practice_sql
    from tenants.migrate import alembic_config, upgrade_schema

    built, cycled = make_practice(), make_practice()
    schema = f"tenant_{cycled.id}"
    with app.app_context(), owner_engine().begin() as conn:
        conn.exec_driver_sql(enter_practice_sql(schema))
        config = alembic_config()
        config.attributes.update(connection=conn, branch="tenant", schema=schema)
        command.downgrade(config, "t0001")
        tables = conn.execute(
            text("SELECT count(*) FROM pg_tables WHERE schemaname = :s"), {"s": schema}
        ).scalar()
        assert tables == 5  # t0001's four tables and alembic_version
    with app.app_context(), owner_engine().begin() as conn:
        upgrade_schema(conn, cycled.id, schema)
    a, b = catalog(app, f"tenant_{built.id}"), catalog(app, schema)
    for part in CATALOG:
        assert a[part] == b[part], part


def test_prices_move_to_price_minor_and_zero_becomes_no_price(app, make_practice):
    """t0012 (expand): every non-zero price_cents is copied to price_minor; 0 (which meant "no price")
    becomes NULL; price_cents stays; the practice's currency starts as USD."""
    from alembic import command

    from tenants.database import enter_practice_sql
    from tenants.migrate import alembic_config, upgrade_schema

    practice = make_practice()
    schema = f"tenant_{practice.id}"
    with app.app_context(), owner_engine().begin() as conn:
        conn.exec_driver_sql(enter_practice_sql(schema))
        config = alembic_config()
        config.attributes.update(connection=conn, branch="tenant", schema=schema)
        command.downgrade(config, "t0012-1")
        conn.exec_driver_sql(
            "INSERT INTO services (name, duration_minutes, price_cents) "
            "VALUES ('Therapy', 50, 15000), ('Check-in', 15, 0)"
        )
    with app.app_context(), owner_engine().begin() as conn:
        upgrade_schema(conn, practice.id, schema)
    with app.app_context(), owner_engine().begin() as conn:
        conn.exec_driver_sql(f"SET LOCAL ROLE {schema}")
        rows = conn.execute(
            text(f"SELECT name, price_minor, price_cents FROM {schema}.services ORDER BY name")
        ).all()
        currency = conn.execute(text(f"SELECT currency FROM {schema}.practice_settings")).scalar()
    assert [tuple(row) for row in rows] == [("Check-in", None, 0), ("Therapy", 15000, 15000)]
    assert currency == "USD"


def test_existing_guardian_grants_lose_forms_and_documents(app, make_practice, make_client, grant_portal):
    """t0019 (data): guardian rows that silently gained forms and documents (defaults since t0002)
    have both turned off for staff to decide; the client's own row keeps them."""
    from alembic import command

    from tenants.database import enter_practice_sql
    from tenants.migrate import alembic_config, upgrade_schema

    practice = make_practice()
    client = make_client(practice, first="Kit", email=f"kit@{practice.slug}.example.com", login=True)
    grant_portal(practice, client, f"parent@{practice.slug}.example.com", can_forms=True, can_documents=True)
    schema = f"tenant_{practice.id}"
    with app.app_context(), owner_engine().begin() as conn:
        conn.exec_driver_sql(enter_practice_sql(schema))
        config = alembic_config()
        config.attributes.update(connection=conn, branch="tenant", schema=schema)
        command.downgrade(config, "t0018")
        conn.exec_driver_sql("UPDATE portal_access SET can_forms = true, can_documents = true")
    with app.app_context(), owner_engine().begin() as conn:
        upgrade_schema(conn, practice.id, schema)
    with app.app_context(), owner_engine().begin() as conn:
        conn.exec_driver_sql(f"SET LOCAL ROLE {schema}")
        rows = conn.execute(
            text(f"SELECT relationship_kind, can_forms, can_documents FROM {schema}.portal_access ORDER BY 1")
        ).all()
    assert [tuple(row) for row in rows] == [("guardian", False, False), ("self", True, True)]


def test_db_upgrade_counts_a_failed_practice_as_failed(app, make_practice, tmp_path):
    """A practice whose schema is broken on purpose: reported as failed (not upgraded), with n/N
    progress lines, the others upgraded, and the command exits non-zero."""
    good, bad = make_practice(), make_practice()
    for practice in (good, bad):
        empty_the_schema(app, practice.id)
    with app.app_context(), owner_engine().begin() as conn:
        conn.exec_driver_sql(f"SET LOCAL ROLE tenant_{bad.id}")
        conn.exec_driver_sql(f"CREATE TABLE tenant_{bad.id}.users (id int)")  # in the way
    env = {
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "PORTICO_OWNER_DATABASE_URL": app.config["PORTICO"].owner_database_url,
        "PORTICO_DATA_DIR": str(tmp_path),
    }
    try:
        result = CliRunner().invoke(main, ["db", "upgrade"], env=env)
        assert result.exit_code == 1, result.output
        behind = int(re.search(r"Upgrading (\d+) of (\d+) practice schema", result.output).group(1))
        assert behind >= 2
        output = result.output
        assert re.search(rf"\[\d+/{behind}\] practice {good.id} \({good.slug}\): upgraded", output)
        assert re.search(rf"\[\d+/{behind}\] practice {bad.id} \({bad.slug}\): FAILED .*exists", output)
        summary = re.search(r"NOT up to date: (\d+) upgraded, 1 failed, (\d+) already current", output)
        assert summary and int(summary.group(1)) == behind - 1, result.output
        assert "Database is up to date" not in result.output
    finally:
        with app.app_context(), owner_engine().begin() as conn:
            conn.exec_driver_sql(f"SET LOCAL ROLE tenant_{bad.id}; DROP TABLE tenant_{bad.id}.users")
    again = CliRunner().invoke(main, ["db", "upgrade"], env=env)
    assert again.exit_code == 0, again.output
    assert re.search(r"Database is up to date: 1 upgraded, 0 failed, \d+ already current", again.output)


def test_upgrade_grants_only_the_memberships_that_are_missing(app, make_practice, admin_engine):
    """`grant_app_role` (every upgrade) admits the application role to a practice it lost, and sends
    no GRANT for practices it is already admitted to."""
    from tenants.roles import app_role, grant_app_role

    practice = make_practice()
    with app.app_context():
        role = app_role()
    with admin_engine.begin() as conn:
        conn.exec_driver_sql(f'REVOKE tenant_{practice.id} FROM "{role}"')

    def grants_sent() -> list[str]:
        sent = []
        with app.app_context(), owner_engine().begin() as conn:
            event.listen(conn, "before_cursor_execute", lambda *args: sent.append(args[2]))
            grant_app_role(conn, role)
        return [statement for statement in sent if statement.startswith("GRANT tenant_")]

    first = grants_sent()
    assert first and all(f"tenant_{practice.id} " in statement for statement in first), first
    assert grants_sent() == []
    with admin_engine.connect() as conn:
        admitted = conn.execute(text(f"SELECT pg_has_role('{role}', 'tenant_{practice.id}', 'MEMBER')"))
        assert admitted.scalar() is True


def test_the_heads_read_from_the_version_files_are_alembics(app):
    """`tenants.upgrade_check` reads each branch's head without Alembic, for the fast no-op upgrade."""
    from tenants.migrate import _script
    from tenants.upgrade_check import branch_head

    assert branch_head("tenant") == tenant_head()
    assert branch_head("public") == _script().revision_map.get_current_head("public")


def _upgrade_in_a_new_process(app, tmp_path) -> tuple[str, str]:
    """`portico db upgrade` as an operator runs it (a new process); its output, and which of
    SQLAlchemy and Alembic it imported."""
    import os
    import subprocess
    import sys

    env = {
        **{key: value for key, value in os.environ.items() if not key.startswith("PORTICO_")},
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "PORTICO_OWNER_DATABASE_URL": app.config["PORTICO"].owner_database_url,
        "PORTICO_DATA_DIR": str(tmp_path),
    }
    if app.config["PORTICO"].master_key:
        env["PORTICO_MASTER_KEY"] = app.config["PORTICO"].master_key
    script = (
        "import sys\nfrom app.cli import main\n"
        "try:\n    main(['db', 'upgrade'])\nexcept SystemExit:\n    pass\n"
        "print('imported:', *sorted({'sqlalchemy', 'alembic'} & sys.modules.keys()))"
    )
    command = [sys.executable, "-c", script]
    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr
    output, imported = finished.stdout.rsplit("imported:", 1)
    return output, imported.strip()


def test_a_no_op_upgrade_answers_without_sqlalchemy_or_alembic(app, make_practice, tmp_path):
    make_practice()
    output, imported = _upgrade_in_a_new_process(app, tmp_path)
    output, imported = _upgrade_in_a_new_process(app, tmp_path)  # the first may have had work to do
    assert re.search(r"Database is up to date: \d+ practice schema\(s\), all already current", output)
    assert imported == "", output


def test_a_missing_grant_or_membership_is_not_a_no_op(app, make_practice, admin_engine, tmp_path):
    """The fast check sees what `grant_app_role` would repair, and the full upgrade repairs it."""
    from tenants.roles import app_role

    practice = make_practice()
    with app.app_context():
        role = app_role()
    with admin_engine.begin() as conn:
        conn.exec_driver_sql(f'REVOKE tenant_{practice.id} FROM "{role}"')
        conn.exec_driver_sql(f'REVOKE DELETE ON public.practice_due FROM "{role}"')
    output, imported = _upgrade_in_a_new_process(app, tmp_path)
    assert "sqlalchemy" in imported and "Database is up to date" in output
    with admin_engine.connect() as conn:
        admitted, may_delete = conn.execute(
            text(
                f"SELECT pg_has_role('{role}', 'tenant_{practice.id}', 'MEMBER'), "
                f"has_table_privilege('{role}', 'public.practice_due', 'DELETE')"
            )
        ).one()
    assert admitted and may_delete
    assert _upgrade_in_a_new_process(app, tmp_path)[1] == ""
