"""Scheduling: slot computation for one clinician over 60 days with 500 existing appointments
(target: median under 20 ms), and booking throughput from 20 concurrent clients, first on 20
different slots, then all 20 contending for one slot.

Runs in this process against a scratch database (no HTTP): it measures the scheduling service.
"""

from __future__ import annotations

import statistics
import threading
import time as clock
from datetime import UTC, datetime, time, timedelta

from bench.common import bench_environment, heading, local_app

DAYS = 60
EXISTING = 500
RUNS = 30
CLIENTS = 20


def add_arguments(parser) -> None:
    group = parser.add_argument_group("scheduling")
    group.add_argument(
        "--slot-runs", type=int, default=RUNS, help=f"slot computations timed (default {RUNS})"
    )


def _setup(app):
    """A practice with one clinician, one service, weekday hours, 500 booked appointments, 20 clients."""
    from blueprints.auth.service import create_user
    from blueprints.people.operations.access import create_client
    from blueprints.scheduling.models import Appointment
    from blueprints.scheduling.operations.availability import set_weekly_hours
    from blueprints.scheduling.operations.catalog import add_service
    from tenants.database import db
    from tenants.features import practice_settings
    from tenants.provisioning import new_practice

    with app.app_context():
        with new_practice("Bench Scheduling", f"sched-{int(clock.time())}") as practice:
            owner = create_user("owner@bench.example.com", "Owner", "bench-owner-password", role="owner")
            clinician = create_user("clinician@bench.example.com", "Clinician", None, role="clinician")
            settings = practice_settings()
            settings.min_notice_hours, settings.booking_horizon_days = 0, DAYS
            settings.buffer_after_minutes = 10
            service = add_service("Therapy", 50, [clinician])
            set_weekly_hours(None, range(7), time(8), time(20))
            clients = [create_client(f"Client{n}", "Bench") for n in range(CLIENTS)]
            start = datetime.now(UTC).replace(hour=8, minute=0, second=0, microsecond=0) + timedelta(days=1)
            booked = 0
            day = 0
            while booked < EXISTING:
                moment = start + timedelta(days=day)
                for hour in range(9):  # 9 a day, on the hour from 8:00: all 500 inside the 60 days
                    if booked == EXISTING:
                        break
                    begin = moment + timedelta(hours=hour)
                    db.session.add(
                        Appointment(
                            client_id=clients[booked % CLIENTS].id,
                            clinician_user_id=clinician.id,
                            service_id=service.id,
                            starts_at=begin,
                            ends_at=begin + timedelta(minutes=50),
                            block_starts_at=begin,
                            block_ends_at=begin + timedelta(minutes=60),
                            ics_uid=f"bench-{booked}@bench",
                        )
                    )
                    booked += 1
                day += 1
            ids = {
                "clinician": clinician.id,
                "service": service.id,
                "clients": [c.id for c in clients],
                "owner": owner.id,
            }
        return practice, ids


def _slot_figures(app, practice, ids, runs: int) -> None:
    from blueprints.scheduling.models import Service
    from blueprints.scheduling.operations.availability import available_slots, busy_for, rules_for
    from blueprints.scheduling.slots import free_slots
    from tenants.database import db, practice_scope

    with app.app_context(), practice_scope(practice):
        therapy = db.session.get(Service, ids["service"])
        now = datetime.now(UTC)
        rules = rules_for(ids["clinician"])
        busy = busy_for(ids["clinician"], now - timedelta(days=1), now + timedelta(days=DAYS + 1))
        engine, full = [], []
        for _ in range(runs):
            started = clock.perf_counter()
            slots = free_slots(rules, timedelta(minutes=50), busy, now)
            engine.append(clock.perf_counter() - started)
            started = clock.perf_counter()
            available_slots(ids["clinician"], therapy, now)
            full.append(clock.perf_counter() - started)
    print(f"appointments in the window: {len(busy)}; free slots found: {len(slots)}")
    print(
        f"slot engine alone      median {statistics.median(engine) * 1000:.2f} ms   "
        f"max {max(engine) * 1000:.2f} ms   ({runs} runs)"
    )
    print(
        f"with database reads    median {statistics.median(full) * 1000:.2f} ms   "
        f"max {max(full) * 1000:.2f} ms   (rules, exceptions, busy times; target < 20 ms)"
    )


def _bookings(app, practice, ids, same_slot: bool) -> tuple[int, int, float]:
    from blueprints.auth.models import User
    from blueprints.people.models import Client
    from blueprints.scheduling.models import Service
    from blueprints.scheduling.operations.appointments import SlotTaken, book
    from tenants.database import db, practice_scope

    far = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=DAYS + 30)
    offset = 0 if same_slot else 1
    barrier = threading.Barrier(CLIENTS)
    outcomes: list[str] = []

    def client(index: int) -> None:
        with app.app_context(), practice_scope(practice):
            when = far + timedelta(hours=index * offset) + (timedelta(days=400) if same_slot else timedelta())
            barrier.wait()  # then each client reads what it books with, as a request would
            who = db.session.get(Client, ids["clients"][index])
            clinician = db.session.get(User, ids["clinician"])
            therapy = db.session.get(Service, ids["service"])
            try:
                book(who, clinician, therapy, when)
                db.session.commit()
                outcomes.append("booked")
            except SlotTaken:
                db.session.rollback()
                outcomes.append("taken")

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    started = clock.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = clock.perf_counter() - started
    return outcomes.count("booked"), outcomes.count("taken"), elapsed


def run(args) -> None:
    heading(f"Scheduling: slots over {DAYS} days with {EXISTING} appointments; 20 concurrent bookings")
    with bench_environment("localhost") as (settings, _tmp), local_app(settings) as app:
        started = clock.perf_counter()
        practice, ids = _setup(app)
        print(f"setup (practice, 500 appointments): {clock.perf_counter() - started:.1f} s")
        _slot_figures(app, practice, ids, args.slot_runs)
        for same_slot, label in ((False, "20 clients, 20 different slots"), (True, "20 clients, one slot")):
            booked, taken, elapsed = _bookings(app, practice, ids, same_slot)
            print(
                f"{label:32s} booked {booked:2d}, refused {taken:2d} in {elapsed * 1000:.0f} ms "
                f"-> {CLIENTS / elapsed:.0f} attempts/s (each books and queues 2 invite emails)"
            )
