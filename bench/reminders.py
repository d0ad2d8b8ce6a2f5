"""Reminders: how long the worker takes to send the reminders due for 10,000 appointments across
1,000 practices (goal: under 60 s on a 2-core machine), SMTP to a local sink.

Setup (not timed): `--practices` practices provisioned directly (as `scale` does, in `--jobs`
processes), each with a clinician, a client with an address (portal and profile links on, so each
reminder carries a freshly issued profile link), a service and `--per-practice` appointments 20 hours
ahead, booked a month ago, so each one's day-before reminder is due now; each practice's
`public.practice_due` row says so.

Timed: one `portico worker` pass (`app.jobs.run_worker`, `--concurrency` threads) from the platform's
fan-out (one job per due practice) until the queue is empty: every practice finds its due reminders,
claims them, renders them with the practice's template, issues the profile links, seals them into the
outbox, and delivers them over one SMTP connection per practice to an aiosmtpd sink in this process.
Printed: the time, reminders per second, and how many messages the sink received (it must be one per
appointment).
"""

from __future__ import annotations

import multiprocessing
import resource
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from datetime import UTC, datetime, timedelta

from aiosmtpd.controller import Controller

from bench.common import (
    OWNER_PASSWORD,
    _init_provisioner,
    _provision,
    bench_environment,
    free_port,
    heading,
    local_app,
)


def add_arguments(parser) -> None:
    group = parser.add_argument_group("reminders")
    group.add_argument("--reminder-practices", type=int, default=1000, help="practices (default 1000)")
    group.add_argument("--per-practice", type=int, default=10, help="appointments per practice (default 10)")
    group.add_argument("--concurrency", type=int, default=2, help="jobs at once per worker (default 2)")
    group.add_argument("--workers-procs", type=int, default=2, help="`portico worker` processes (default 2)")
    group.add_argument("--seed-jobs", type=int, default=2, help="setup processes (default 2)")


def _sink(port: int, count, ready) -> None:
    """An SMTP server that counts what it receives, in a process of its own (as a real relay is)."""

    class Counter:
        async def handle_DATA(self, server, session, envelope):
            with count.get_lock():
                count.value += 1
            return "250 OK"

    controller = Controller(Counter(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    threading.Event().wait()


def _worker(settings, concurrency: int) -> None:
    """One `portico worker` process, until the queue is empty."""
    import logging

    from app import create_app
    from app.jobs import run_worker

    logging.basicConfig(level=logging.WARNING)
    logging.getLogger().setLevel(logging.WARNING)
    run_worker(create_app(settings), wait=False, concurrency=concurrency)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _fan_out(app) -> int:
    """The platform's periodic task, once: one job per practice with something due."""
    import asyncio

    from app.jobs import build_queue, fan_out_due

    async def run():
        queue = build_queue(app, for_worker=True)
        async with queue.open_async():
            return await fan_out_due(queue)

    return asyncio.run(run())


SESSION_MINUTES = 20
_seed_app = None
_seed_hash = None


def _seed(app, numbers, password_hash: str, per_practice: int) -> int:
    """Provision practices `numbers` and give each its due appointments."""
    from blueprints.auth.service import create_user
    from blueprints.people.operations.access import create_client
    from blueprints.scheduling.models import Appointment, Service
    from tenants.database import db, practice_scope
    from tenants.due import set_next_due
    from tenants.features import practice_settings
    from tenants.registry import get_practice

    practices = _provision(app, numbers, password_hash)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    with app.app_context():
        for bench in practices:
            with practice_scope(get_practice(bench.id)):
                practice_settings().portal_enabled = True
                clinician = create_user(
                    f"clinician@{bench.slug}.example.com", "Dr Bench", None, role="clinician"
                )
                service = Service(name="Session", duration_minutes=50, service_code="90834")
                db.session.add(service)
                db.session.flush()
                for index in range(per_practice):
                    client = create_client(
                        "Robin", f"Client{index}", email=f"client{index}@{bench.slug}.example.com"
                    )
                    # Back to back, all within the next day: each one's day-before reminder is due.
                    starts_at = now + timedelta(hours=20, minutes=SESSION_MINUTES * index)
                    ends_at = starts_at + timedelta(minutes=SESSION_MINUTES)
                    db.session.add(
                        Appointment(
                            client_id=client.id,
                            clinician_user_id=clinician.id,
                            service_id=service.id,
                            service_code="90834",
                            starts_at=starts_at,
                            ends_at=ends_at,
                            block_starts_at=starts_at,
                            block_ends_at=ends_at,
                            ics_uid=f"bench-{bench.id}-{index}",
                            time_set_at=now - timedelta(days=30),
                        )
                    )
                db.session.flush()
                set_next_due(now - timedelta(minutes=1))
                db.session.commit()
    return len(practices)


def _init(settings, password_hash):
    _init_provisioner(settings, password_hash)
    global _seed_hash
    _seed_hash = password_hash


def _seed_in_worker(numbers, per_practice):
    from bench import common

    return _seed(common._worker_app, numbers, _seed_hash, per_practice)


def run(args) -> None:
    from blueprints.auth.service import hash_password

    practices, per = args.reminder_practices, args.per_practice
    heading(f"Reminders: the worker sends {practices * per:,} reminders across {practices:,} practices")
    spawn = multiprocessing.get_context("spawn")
    count, ready, port = spawn.Value("i", 0), spawn.Event(), free_port()
    sink = spawn.Process(target=_sink, args=(port, count, ready), daemon=True)
    sink.start()
    ready.wait(30)
    try:
        with bench_environment("localhost:5000") as (settings, _tmp):
            settings.smtp_url = f"smtp://127.0.0.1:{port}"
            with local_app(settings) as app:
                password_hash = hash_password(OWNER_PASSWORD)
                started = time.perf_counter()
                numbers = list(range(1, practices + 1))
                chunks = [numbers[i : i + 25] for i in range(0, len(numbers), 25)]
                done = 0
                with ProcessPoolExecutor(
                    max_workers=args.seed_jobs,
                    mp_context=spawn,
                    initializer=_init,
                    initargs=(settings, password_hash),
                ) as pool:
                    for future in as_completed(
                        [pool.submit(_seed_in_worker, chunk, per) for chunk in chunks]
                    ):
                        done += future.result()
                        if done % 200 == 0 or done == practices:
                            print(
                                f"  set up {done}/{practices} ({time.perf_counter() - started:.0f} s)",
                                flush=True,
                            )
                print(f"setup: {time.perf_counter() - started:.1f} s (not timed below)")

                cpu_before = _children_cpu()
                started = time.perf_counter()
                jobs = _fan_out(app)
                fanned = time.perf_counter() - started
                workers = [
                    spawn.Process(target=_worker, args=(settings, args.concurrency))
                    for _ in range(args.workers_procs)
                ]
                for worker in workers:
                    worker.start()
                for worker in workers:
                    worker.join()
                seconds = time.perf_counter() - started
                cpu = _children_cpu() - cpu_before
                print(
                    f"fan-out: {jobs:,} practice jobs deferred in {fanned:.1f} s; "
                    f"{args.workers_procs} worker process(es) x concurrency {args.concurrency}"
                )
                print(
                    f"worker: {count.value:,} reminders delivered in {seconds:.1f} s "
                    f"({count.value / seconds:.0f} per second; goal: {practices * per:,} in under 60 s)"
                )
                print(
                    f"worker processes' CPU: {cpu:.1f} s (user + system; not the database's). "
                    "On a machine shared with other work the wall time grows while this stays put."
                )
                if count.value != practices * per:
                    print(
                        f"MISMATCH: expected {practices * per:,} messages, the sink received {count.value:,}"
                    )
    finally:
        sink.kill()


if __name__ == "__main__":  # `python -m bench.reminders` is `python -m bench reminders`
    import sys

    from bench.__main__ import main

    sys.exit(main(["reminders", *sys.argv[1:]]))
