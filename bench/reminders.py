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
    group.add_argument("--concurrency", type=int, default=2, help="worker concurrency (default 2)")
    group.add_argument("--seed-jobs", type=int, default=2, help="setup processes (default 2)")


class _Sink:
    def __init__(self):
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += 1
        return "250 OK"


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

    practices = _provision(app, numbers, password_hash)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    with app.app_context():
        for bench in practices:
            from tenants.registry import get_practice

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
                    starts_at = now + timedelta(hours=20, minutes=60 * index)
                    db.session.add(
                        Appointment(
                            client_id=client.id,
                            clinician_user_id=clinician.id,
                            service_id=service.id,
                            service_code="90834",
                            starts_at=starts_at,
                            ends_at=starts_at + timedelta(minutes=50),
                            block_starts_at=starts_at,
                            block_ends_at=starts_at + timedelta(minutes=50),
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
    from app.jobs import run_worker
    from blueprints.auth.service import hash_password

    practices, per = args.reminder_practices, args.per_practice
    heading(f"Reminders: the worker sends {practices * per:,} reminders across {practices:,} practices")
    sink = _Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        with bench_environment("localhost:5000") as (settings, _tmp):
            settings.smtp_url = f"smtp://127.0.0.1:{controller.port}"
            with local_app(settings) as app:
                password_hash = hash_password(OWNER_PASSWORD)
                started = time.perf_counter()
                numbers = list(range(1, practices + 1))
                chunks = [numbers[i : i + 25] for i in range(0, len(numbers), 25)]
                done = 0
                with ProcessPoolExecutor(
                    max_workers=args.seed_jobs,
                    mp_context=multiprocessing.get_context("spawn"),
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

                started = time.perf_counter()
                run_worker(app, wait=False, concurrency=args.concurrency, fan_out_first=True)
                seconds = time.perf_counter() - started
                print(
                    f"worker: {sink.count:,} reminders delivered in {seconds:.1f} s "
                    f"({sink.count / seconds:.0f} per second; goal: {practices * per:,} in under 60 s)"
                )
                if sink.count != practices * per:
                    print(
                        f"MISMATCH: expected {practices * per:,} messages, the sink received {sink.count:,}"
                    )
    finally:
        controller.stop()
