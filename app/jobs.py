"""The job queue: procrastinate on PostgreSQL.

A job is deferred on the request's own connection, inside the transaction of the change that
causes it: a rolled-back change queues nothing, a committed one loses nothing. Every job carries the
practice id and runs back inside that practice (`practice_task`).

A failed job is retried as its task says (`Backoff`: exponential waits with jitter); when the last
try fails, the task's `on_give_up` runs so the feature can show what was not done. A job left
"doing" by a worker that died (its heartbeat stopped) is retried by every worker at start and by a
periodic task each minute.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass

import procrastinate
from flask import Flask, current_app
from procrastinate.exceptions import AlreadyEnqueued
from procrastinate.job_context import JobContext
from procrastinate.retry import BaseRetryStrategy, RetryDecision

from app.config import Settings
from app.database_options import PGBOUNCER_CONNECT_ARGS
from app.embedded_db import libpq_url
from tenants.context import current_practice
from tenants.database import db, enter_practice_sql, practice_scope
from tenants.due import DUE_PRACTICES_SQL
from tenants.registry import get_practice

log = logging.getLogger("portico.jobs")

# Job tables live in `public`, outside every practice schema; the queue's own connections say so.
QUEUE_CONNECTION_OPTIONS = {"options": "-c search_path=public"}
# A worker beats every HEARTBEAT_SECONDS; one silent for STALLED_AFTER_SECONDS is taken for dead.
HEARTBEAT_SECONDS = 10
STALLED_AFTER_SECONDS = 60
RECOVER_STALLED_TASK = "jobs.recover_stalled"
FAN_OUT_TASK = "jobs.fan_out_due"


@dataclass
class Backoff(BaseRetryStrategy):
    """Exponential backoff with jitter: after try n (from 0) wait between half and all of
    base * 2**n, for `tries` tries in all. Jitter spreads a burst of failures (SMTP down for
    everyone) so that the retries do not arrive together."""

    base_seconds: float
    tries: int

    def wait_seconds(self, attempts: int) -> float:
        ceiling = self.base_seconds * 2**attempts
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def get_retry_decision(self, *, exception: BaseException, job) -> RetryDecision | None:
        if job.attempts + 1 >= self.tries:
            return None
        return RetryDecision(retry_in={"seconds": self.wait_seconds(job.attempts)})


RetryPolicy = int | Callable[[Settings], BaseRetryStrategy]


@dataclass(frozen=True)
class _PracticeTask:
    fn: Callable
    retry: RetryPolicy
    on_give_up: Callable | None


_tasks: dict[str, _PracticeTask] = {}
_due_tasks: list[str] = []
_running_flask_app: Flask | None = None


def practice_task(name: str, retry: RetryPolicy = 5, on_give_up: Callable | None = None):
    """Register `fn(**kwargs)` as the job `name`, run inside the practice it was deferred for.

    `retry`: a number of retries without waiting, or a function of the settings returning a
    strategy (`Backoff`). `on_give_up(error, **kwargs)`: runs in the practice when the last try
    failed, in a transaction of its own that it commits.
    """

    def decorate(fn: Callable):
        _tasks[name] = _PracticeTask(fn, retry, on_give_up)
        return fn

    return decorate


def run_when_due(name: str) -> None:
    """Defer the practice task `name` for every practice whose next due time (`tenants.due`) has come,
    from the platform's periodic task; at most one such job per practice waits in the queue."""
    if name not in _due_tasks:
        _due_tasks.append(name)


async def fan_out_due(queue: procrastinate.App) -> int:
    """One job per due practice and task (a job already waiting for it is enough); returns how many."""
    deferred = 0
    for row in await queue.connector.execute_query_all_async(DUE_PRACTICES_SQL):
        for name in _due_tasks:
            lock = f"{name}:{row['practice_id']}"
            try:
                await queue.configure_task(name, queueing_lock=lock).defer_async(
                    practice_id=row["practice_id"]
                )
                deferred += 1
            except AlreadyEnqueued:
                continue
    return deferred


def _run_in_practice(name: str, task: _PracticeTask):
    def run(context: JobContext, practice_id: int, **kwargs):
        flask_app = _running_flask_app
        if flask_app is None:
            raise RuntimeError("jobs run only inside `portico worker` (jobs.run_worker)")
        with flask_app.app_context():
            practice = get_practice(practice_id)
            if practice is None or practice.status != "active":
                log.warning("job %s for practice %s skipped: practice not active", name, practice_id)
                return None
            with practice_scope(practice):
                try:
                    return task.fn(**kwargs)
                except Exception as error:
                    if task.on_give_up is not None and _is_last_try(context, error):
                        db.session.rollback()
                        task.on_give_up(error, **kwargs)
                    raise

    run.__name__ = task.fn.__name__
    return run


def _is_last_try(context: JobContext, error: Exception) -> bool:
    strategy = context.task.retry_strategy
    return strategy is None or strategy.get_retry_exception(exception=error, job=context.job) is None


async def recover_stalled_jobs(job_manager) -> int:
    """Put back to "todo" every job left "doing" by a worker whose heartbeat stopped."""
    stalled = await job_manager.get_stalled_jobs(seconds_since_heartbeat=STALLED_AFTER_SECONDS)
    for job in stalled:
        log.warning("job %s (%s) was left running by a dead worker: retrying it", job.id, job.task_name)
        await job_manager.retry_job(job)
    return len(stalled)


def build_queue(flask_app: Flask, for_worker: bool = False) -> procrastinate.App:
    conninfo = libpq_url(flask_app.config["SQLALCHEMY_DATABASE_URI"])
    settings: Settings = flask_app.config["PORTICO"]
    # Requests defer on their own connection; only the worker opens queue connections (to
    # PORTICO_WORKER_DATABASE_URL when set: see the `worker` command).
    options = {**QUEUE_CONNECTION_OPTIONS, **(PGBOUNCER_CONNECT_ARGS if settings.pgbouncer else {})}
    if for_worker:
        connector = procrastinate.PsycopgConnector(conninfo=conninfo, kwargs=options)
    else:
        connector = procrastinate.SyncPsycopgConnector(conninfo=conninfo, kwargs=options)
    queue = procrastinate.App(connector=connector)
    for name, task in _tasks.items():
        retry = task.retry if isinstance(task.retry, int) else task.retry(settings)
        queue.task(name=name, retry=retry, pass_context=True)(_run_in_practice(name, task))

    @queue.periodic(cron="* * * * *")
    @queue.task(name=RECOVER_STALLED_TASK, pass_context=True)
    async def recover_stalled(context: JobContext, timestamp: int) -> None:
        await recover_stalled_jobs(context.app.job_manager)

    @queue.periodic(cron="* * * * *")
    @queue.task(name=FAN_OUT_TASK, pass_context=True)
    async def fan_out(context: JobContext, timestamp: int) -> None:
        await fan_out_due(context.app)

    return queue


def init_app(flask_app: Flask) -> None:
    flask_app.extensions["portico_jobs"] = build_queue(flask_app)


def defer(task_name: str, **kwargs) -> None:
    """Queue a job for the bound practice, in the current transaction."""
    _defer(task_name, {}, kwargs)


def _defer(task_name: str, options: dict, kwargs: dict) -> None:
    practice = current_practice()
    queue: procrastinate.App = current_app.extensions["portico_jobs"]
    connection = db.session.connection()
    # The tenant role has no rights on the job tables (they are platform tables): leave the
    # practice role for this one statement and return to it, all inside the same transaction.
    connection.exec_driver_sql("SET LOCAL ROLE NONE; SET LOCAL search_path TO public")
    queue.configure_task(task_name, connection=connection.connection.driver_connection, **options).defer(
        practice_id=practice.id, **kwargs
    )
    connection.exec_driver_sql(enter_practice_sql(practice.schema_name))


def defer_in(task_name: str, seconds: int, **kwargs) -> None:
    """`defer`, the job to run no sooner than `seconds` from now."""
    _defer(task_name, {"schedule_in": {"seconds": seconds}} if seconds > 0 else {}, kwargs)


def run_worker(
    flask_app: Flask, wait: bool = True, concurrency: int = 2, fan_out_first: bool = False
) -> None:
    """Run jobs until stopped (wait=True) or until the queue is empty (wait=False, for tests);
    `fan_out_first`: run the periodic fan-out once first (tests and benchmarks, which do not wait
    for the minute)."""
    global _running_flask_app
    _running_flask_app = flask_app
    queue = build_queue(flask_app, for_worker=True)

    async def work():
        async with queue.open_async():
            await recover_stalled_jobs(queue.job_manager)
            if fan_out_first:
                await fan_out_due(queue)
            await queue.run_worker_async(
                wait=wait,
                concurrency=concurrency,
                install_signal_handlers=wait,
                listen_notify=wait,
                delete_jobs="successful" if not wait else "never",
                update_heartbeat_interval=HEARTBEAT_SECONDS,
                stalled_worker_timeout=STALLED_AFTER_SECONDS,
            )

    asyncio.run(work())
