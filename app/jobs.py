"""The job queue: procrastinate on PostgreSQL.

A job is deferred on the request's own connection, inside the transaction of the change that
causes it: a rolled-back change queues nothing, a committed one loses nothing. Every job carries the
practice id and runs back inside that practice (`practice_task`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import procrastinate
from flask import Flask, current_app

from app.embedded_db import libpq_url
from tenants.context import current_practice
from tenants.database import db, enter_practice_sql, practice_scope
from tenants.registry import get_practice

log = logging.getLogger("portico.jobs")

# Job tables live in `public`, outside every practice schema; the queue's own connections say so.
QUEUE_CONNECTION_OPTIONS = {"options": "-c search_path=public"}

_tasks: dict[str, tuple[Callable, int]] = {}
_running_flask_app: Flask | None = None


def practice_task(name: str, retry: int = 5):
    """Register `fn(**kwargs)` as the job `name`, run inside the practice it was deferred for."""

    def decorate(fn: Callable):
        _tasks[name] = (fn, retry)
        return fn

    return decorate


def _run_in_practice(name: str, fn: Callable):
    def run(practice_id: int, **kwargs):
        flask_app = _running_flask_app
        if flask_app is None:
            raise RuntimeError("jobs run only inside `portico worker` (jobs.run_worker)")
        with flask_app.app_context():
            practice = get_practice(practice_id)
            if practice is None or practice.status != "active":
                log.warning("job %s for practice %s skipped: practice not active", name, practice_id)
                return None
            with practice_scope(practice):
                return fn(**kwargs)

    run.__name__ = fn.__name__
    return run


def build_queue(database_url: str, for_worker: bool = False) -> procrastinate.App:
    conninfo = libpq_url(database_url)
    if for_worker:
        connector = procrastinate.PsycopgConnector(conninfo=conninfo, kwargs=QUEUE_CONNECTION_OPTIONS)
    else:
        connector = procrastinate.SyncPsycopgConnector(conninfo=conninfo, kwargs=QUEUE_CONNECTION_OPTIONS)
    queue = procrastinate.App(connector=connector)
    for name, (fn, retry) in _tasks.items():
        queue.task(name=name, retry=retry)(_run_in_practice(name, fn))
    return queue


def init_app(flask_app: Flask) -> None:
    flask_app.extensions["portico_jobs"] = build_queue(flask_app.config["SQLALCHEMY_DATABASE_URI"])


def defer(task_name: str, **kwargs) -> None:
    """Queue a job for the bound practice, in the current transaction."""
    practice = current_practice()
    queue: procrastinate.App = current_app.extensions["portico_jobs"]
    connection = db.session.connection()
    # The tenant role has no rights on the job tables (they are platform tables): leave the
    # practice role for this one statement and return to it, all inside the same transaction.
    connection.exec_driver_sql("SET LOCAL ROLE NONE; SET LOCAL search_path TO public")
    queue.configure_task(task_name, connection=connection.connection.driver_connection).defer(
        practice_id=practice.id, **kwargs
    )
    connection.exec_driver_sql(enter_practice_sql(practice.schema_name))


def run_worker(flask_app: Flask, wait: bool = True, concurrency: int = 2) -> None:
    """Run jobs until stopped (wait=True) or until the queue is empty (wait=False, for tests)."""
    global _running_flask_app
    _running_flask_app = flask_app
    queue = build_queue(flask_app.config["SQLALCHEMY_DATABASE_URI"], for_worker=True)
    queue.run_worker(
        wait=wait,
        concurrency=concurrency,
        install_signal_handlers=wait,
        listen_notify=wait,
        delete_jobs="successful" if not wait else "never",
    )
