"""Whether `portico db upgrade` has anything to do, answered with psycopg alone.

An upgrade with nothing to do is what an operator runs most (on every deploy), so it must not pay
for importing SQLAlchemy, Alembic and the application. This module knows:

- each migration branch's head, read from the version files themselves (`revision` and
  `down_revision` are plain literals in each; `tests/test_migrations.py` checks the answer against
  Alembic's own);
- the grants the application role needs (`tenants.roles.grant_app_role` gives them and reads the
  SQL below from here, so the check and the grant cannot drift apart);
- `already_current`: one connection, two statements, and the database is either known to be at
  head everywhere with every grant in place, or the caller runs the full upgrade. Anything it cannot
  tell cheaply (no version table yet, a branch with two heads, a role it cannot name) counts as
  "something to do": the full path then finds out, and says so, the slow way.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"

# Since PostgreSQL 16 each membership has its own INHERIT option; before, only the member role has.
MEMBERSHIP_OPTIONS = (16,)
# The job queue's tables (procrastinate's, in `public`): what workers and deferring requests touch.
JOB_TABLES = r"procrastinate\_%"

# Practices some member (the owner, the application role) cannot switch into yet. From PostgreSQL 16 a
# membership has options: it must allow SET and not INHERIT, and no grant of it may INHERIT.
# psycopg parameters (run with `exec_driver_sql` by tenants.roles): %(members)s, a list of role names.
_MEMBERSHIP = (
    "FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member "
    "WHERE r.rolname = 'tenant_' || p.id AND u.rolname = wanted.name"
)
NOT_ADMITTED = (
    "SELECT p.id FROM public.practices p WHERE EXISTS (SELECT 1 FROM unnest(CAST(%(members)s AS text[])) "
    f"AS wanted(name) WHERE NOT EXISTS (SELECT 1 {_MEMBERSHIP})) ORDER BY p.id"
)
NOT_ADMITTED_16 = (
    "SELECT p.id FROM public.practices p WHERE EXISTS (SELECT 1 FROM unnest(CAST(%(members)s AS text[])) "
    f"AS wanted(name) WHERE NOT EXISTS (SELECT 1 {_MEMBERSHIP} AND m.set_option AND NOT m.inherit_option) "
    f"OR EXISTS (SELECT 1 {_MEMBERSHIP} AND m.inherit_option)) ORDER BY p.id"
)

# The application role lacks a right `grant_app_role` gives. has_table_privilege with a list answers
# "any of them", so each right is asked on its own.
_TABLE_RIGHTS = ("SELECT", "INSERT", "UPDATE", "DELETE")
_APP_GRANTS_MISSING = (
    "SELECT NOT (has_table_privilege(%(app)s, 'public.practices', 'SELECT') "
    "AND has_table_privilege(%(app)s, 'public.retired_slugs', 'SELECT') "
    + "".join(f"AND has_table_privilege(%(app)s, 'public.practice_due', '{each}') " for each in _TABLE_RIGHTS)
    + ") OR EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'S') AND c.relname LIKE %(jobs)s AND CASE "
    "WHEN c.relkind = 'S' THEN NOT (has_sequence_privilege(%(app)s, c.oid, 'USAGE') "
    "AND has_sequence_privilege(%(app)s, c.oid, 'SELECT')) ELSE NOT ("
    + " AND ".join(f"has_table_privilege(%(app)s, c.oid, '{right}')" for right in _TABLE_RIGHTS)
    + ") END)"
)


def _literal_assignments(path: Path) -> dict[str, object]:
    """The module-level `name = <literal>` assignments of a migration file."""
    found = {}
    for node in ast.parse(path.read_text(encoding="utf-8"), str(path)).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                found[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                continue
    return found


@cache
def branch_head(branch: str) -> str | None:
    """The one head of a branch ("public" or "tenant") from its version files; None when it has none
    or several (Alembic then explains)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / branch / "versions").glob("*.py"):
        try:
            assigned = _literal_assignments(path)
        except SyntaxError:
            return None  # Alembic, on the full path, reports the broken file
        if not isinstance(assigned.get("revision"), str):
            continue
        revisions.add(assigned["revision"])
        down = assigned.get("down_revision")
        parents.update(down if isinstance(down, tuple | list) else [down] if down else [])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def already_current(owner_url: str, app_role: str | None) -> int | None:
    """How many practices there are (deleted ones aside) when `public` and every practice schema are
    at head and the application role `app_role` has every grant it needs; None when there is
    anything to do, or anything this cannot tell. `owner_url`: a libpq URL of the owner role."""
    import psycopg  # here, not at import: `portico --help` does not need it

    public_head, tenant_head = branch_head("public"), branch_head("tenant")
    if public_head is None or tenant_head is None or not app_role:
        return None
    try:
        with psycopg.connect(owner_url, autocommit=True, prepare_threshold=None) as conn:
            public_at_head, total, behind, owner = conn.execute(
                "SELECT (SELECT array_agg(version_num::text) FROM public.alembic_version) "
                "= ARRAY[%(public)s::text], "
                "count(*), count(*) FILTER (WHERE schema_revision IS DISTINCT FROM %(tenant)s), current_user "
                "FROM public.practices WHERE status <> 'deleted'",
                {"public": public_head, "tenant": tenant_head},
            ).fetchone()
            if not public_at_head or behind:
                return None
            if app_role == owner:
                return total  # one role for everything: nothing is granted (tenants.roles)
            options = conn.info.server_version >= MEMBERSHIP_OPTIONS[0] * 10000
            wanted = NOT_ADMITTED_16 if options else NOT_ADMITTED
            missing = conn.execute(
                f"SELECT ({_APP_GRANTS_MISSING}) OR EXISTS ({wanted})",
                {"app": app_role, "jobs": JOB_TABLES, "members": [owner, app_role]},
            ).fetchone()[0]
    except psycopg.Error:
        return None  # e.g. no registry yet (a new database): the full upgrade creates it
    return None if missing else total
