"""When each practice next has periodic work due, kept in `public.practice_due`.

The platform's periodic task reads this one small table to fan out to the practices with something
due, instead of entering every practice each minute. It holds a practice id and a time, nothing about
clients. A practice writes its own row from inside its transaction: the tenant role has no rights on
`public`, so the statement leaves the practice role and returns to it, in the same transaction (as
`app.jobs.defer` does for the job tables), and it commits or rolls back with the change that caused it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import text

from tenants.context import current_practice
from tenants.database import db, enter_practice_sql

_SOONER = text(
    "INSERT INTO public.practice_due (practice_id, next_due_at) VALUES (:practice, :at) "
    "ON CONFLICT (practice_id) DO UPDATE "
    "SET next_due_at = LEAST(public.practice_due.next_due_at, EXCLUDED.next_due_at)"
)
_REPLACE = text(
    "INSERT INTO public.practice_due (practice_id, next_due_at) VALUES (:practice, :at) "
    "ON CONFLICT (practice_id) DO UPDATE SET next_due_at = EXCLUDED.next_due_at"
)
_CLEAR = text("DELETE FROM public.practice_due WHERE practice_id = :practice")
DUE_PRACTICES_SQL = (
    "SELECT d.practice_id FROM public.practice_due d JOIN public.practices p ON p.id = d.practice_id "
    "WHERE d.next_due_at <= now() AND p.status = 'active' ORDER BY d.next_due_at"
)


@contextmanager
def _outside_practice() -> Iterator:
    practice = current_practice()
    connection = db.session.connection()
    connection.exec_driver_sql("SET LOCAL ROLE NONE; SET LOCAL search_path TO public")
    try:
        yield connection, practice.id
    finally:
        connection.exec_driver_sql(enter_practice_sql(practice.schema_name))


def note_due(at: datetime) -> None:
    """The bound practice has work due at `at`: its next due time becomes `at` when that is sooner."""
    with _outside_practice() as (connection, practice_id):
        connection.execute(_SOONER, {"practice": practice_id, "at": at})


def set_next_due(at: datetime | None) -> None:
    """The bound practice's next due time is `at` (None: nothing is due, the row goes)."""
    with _outside_practice() as (connection, practice_id):
        if at is None:
            connection.execute(_CLEAR, {"practice": practice_id})
        else:
            connection.execute(_REPLACE, {"practice": practice_id, "at": at})
