"""Booking picker: server time and response size of the client portal's booking pages.

One clinician with weekday hours 09:00-17:00 (the demo's), a 50-minute service, a 60-day booking
horizon and 12 hours' notice, 40 appointments of other clients already booked; one client with a
portal login, in a zone of their own (America/New_York, the practice in Europe/London). The client
signs in, then each page is asked `--picker-runs` times through the application in this process (the
Flask test client: no network, no gunicorn), and the median and fastest elapsed time, the median CPU
time of the thread serving it (the application's share of the server time, steadier than the
elapsed time on a busy machine) and the response size are printed:

- entry: `/portal/book?service=…&clinician=…` (before the picker: every free time of the 60 days,
  each a form with its own CSRF token; with it: this month's calendar);
- month: the calendar of next month (`&month=YYYY-MM`), its days with free times marked;
- day: one day's free times, the whole page (`&day=YYYY-MM-DD`) and the partial the page's script
  fetches (`/portal/book/times?…`);
- confirm: the confirmation step of one free time (`&time=…`).

The target is each page well under 50 ms of server time. Against a version without the picker the
extra query parameters are ignored (every row is then the old page) and the partial answers 404.
"""

from __future__ import annotations

import re
import statistics
import time as clock
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bench.common import OWNER_PASSWORD, bench_environment, heading, local_app

RUNS = 30
EXISTING = 40
CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*?value="([^"]+)"')
CLIENT_EMAIL = "client@bench.example.com"
CLIENT_ZONE = "America/New_York"


def add_arguments(parser) -> None:
    group = parser.add_argument_group("booking_picker")
    group.add_argument(
        "--picker-runs", type=int, default=RUNS, help=f"requests timed per page (default {RUNS})"
    )


def _setup(app):
    from blueprints.auth.service import create_user, hash_password
    from blueprints.people.operations.access import (
        assign_clinician,
        create_client,
        grant_access,
        portal_account,
    )
    from blueprints.scheduling.operations.appointments import book
    from blueprints.scheduling.operations.availability import available_slots, set_weekly_hours
    from blueprints.scheduling.operations.catalog import add_service
    from tenants.features import practice_settings
    from tenants.provisioning import new_practice

    with app.app_context():
        with new_practice("Bench Booking", f"booking-{int(clock.time())}") as practice:
            create_user("owner@bench.example.com", "Owner", None, role="owner")
            clinician = create_user("clinician@bench.example.com", "Clinician", None, role="clinician")
            settings = practice_settings()
            settings.portal_enabled = settings.self_scheduling_enabled = True
            settings.self_rescheduling_enabled = True
            settings.time_zone = "Europe/London"
            settings.min_notice_hours, settings.booking_horizon_days = 12, 60
            settings.cancellation_policy = "Please cancel at least 24 hours ahead."
            service = add_service("Individual therapy", 50, [clinician])
            set_weekly_hours(None, range(5), time(9), time(17))
            others = [create_client(f"Other{n}", "Bench") for n in range(10)]
            slots = available_slots(clinician.id, service)
            for number, moment in enumerate(slots[:: max(1, len(slots) // EXISTING)][:EXISTING]):
                book(others[number % len(others)], clinician, service, moment, notify=False)
            client = create_client("Robin", "Bench", email=CLIENT_EMAIL, time_zone=CLIENT_ZONE)
            assign_clinician(client, clinician)
            user = portal_account(CLIENT_EMAIL, "Robin Bench")
            user.password_hash = hash_password(OWNER_PASSWORD)
            grant_access(user, client, "self")
            free = available_slots(clinician.id, service)
            ids = {"service": service.id, "clinician": clinician.id, "free": free}
        return practice, ids


def _signed_in(app, practice):
    client = app.test_client()
    base = f"http://{practice.slug}.localhost"
    page = client.get("/login", base_url=base).get_data(as_text=True)
    token = CSRF_FIELD.search(page).group(1)
    answer = client.post(
        "/login",
        base_url=base,
        data={"csrf_token": token, "email": CLIENT_EMAIL, "password": OWNER_PASSWORD},
    )
    if answer.status_code != 302:
        raise RuntimeError(f"the client could not sign in ({answer.status_code})")
    client.get("/portal/choose", base_url=base)
    return client, base


def _measure(client, base: str, path: str, runs: int) -> tuple[int, float, float, float, int]:
    """(status, median seconds, fastest seconds, median CPU seconds of this thread, bytes) of GET
    `path`, after one untimed request. The CPU time is the serving thread's (Flask, SQLAlchemy,
    templates; not the database server's): it moves much less than the elapsed time on a busy machine."""
    client.get(path, base_url=base)
    times, cpu, size, status = [], [], 0, 0
    for _ in range(runs):
        started, started_cpu = clock.perf_counter(), clock.thread_time()
        response = client.get(path, base_url=base)
        body = response.get_data()
        times.append(clock.perf_counter() - started)
        cpu.append(clock.thread_time() - started_cpu)
        size, status = len(body), response.status_code
    return status, statistics.median(times), min(times), statistics.median(cpu), size


def run(args) -> None:
    heading("Booking picker: server time and size of the portal's booking pages (60-day horizon)")
    with bench_environment("localhost") as (settings, _tmp), local_app(settings) as app:
        practice, ids = _setup(app)
        client, base = _signed_in(app, practice)
        zone = ZoneInfo(CLIENT_ZONE)
        free = ids["free"]
        print(f"free times in the horizon: {len(free)}; runs per page: {args.picker_runs}")
        chosen = f"service={ids['service']}&clinician={ids['clinician']}"
        next_month = (datetime.now(zone).replace(day=1) + timedelta(days=32)).strftime("%Y-%m")
        # A day in the middle of the horizon with free times, and one of its times.
        middle = free[len(free) // 2]
        day = middle.astimezone(zone).date().isoformat()
        moment = middle.astimezone(UTC).isoformat()
        pages = [
            ("entry (service and clinician chosen)", f"/portal/book?{chosen}"),
            (f"month view ({next_month})", f"/portal/book?{chosen}&month={next_month}"),
            (f"day view, whole page ({day})", f"/portal/book?{chosen}&day={day}"),
            ("day view, partial (JS)", f"/portal/book/times?{chosen}&day={day}"),
            ("confirmation step", f"/portal/book?{chosen}&time={moment.replace('+', '%2B')}"),
        ]
        print(f"{'page':38s} {'elapsed':>10s} {'fastest':>10s} {'app CPU':>10s} {'size':>10s}")
        for label, path in pages:
            status, median, fastest, cpu, size = _measure(client, base, path, args.picker_runs)
            if status != 200:
                print(f"{label:38s} answered {status}")
                continue
            print(
                f"{label:38s} {median * 1000:7.1f} ms {fastest * 1000:7.1f} ms {cpu * 1000:7.1f} ms "
                f"{size / 1024:7.1f} KB"
            )
        print("(elapsed and app CPU: medians; fastest: the quickest run, closest to an idle machine)")
