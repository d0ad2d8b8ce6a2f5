"""Scale: the latency of the same logged-in practice page with 10 practices and with many (2,000).

Practices are provisioned directly (`new_practice` + `create_user`, as tests/conftest.py does), in
`--jobs` processes for the large step, and the time that took is printed. For each size a fresh
gunicorn server is started, every practice's owner signs in through the hand-off URL, one pass over
all practices warms up, and then `--requests` sequential requests on one keep-alive connection time
the `/bench/tenant` page of `bench.bench_app` twice:

- "one practice": always the first practice (its host lookup stays cached);
- "all practices": round-robin over every practice, as traffic spread over a whole installation
  looks (every host is looked up once per cache lifetime, and every database backend ends up
  touching many schemas).

After the large size (whatever `--practices` is, e.g. the optional long run `--practices 10000`), it
prints what touching every practice costs: the catalog's size (pg_class rows and bytes), the memory
of the largest database backend of the server and of the largest gunicorn worker, and the time of
`portico practices export` for one practice among them (the CLI in a process of its own, start-up
included). Backends are recycled after PORTICO_DB_RECYCLE_USES checkouts (deploy/OPERATIONS.md,
"Connection recycling"), which bounds how many practices' catalog entries one of them holds.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from app.embedded_db import libpq_url
from bench.common import (
    ROOT,
    TENANT_PATH,
    BenchPractice,
    GunicornServer,
    HttpClient,
    ServerCpu,
    _processes,
    bench_environment,
    free_port,
    heading,
    latency_line,
    local_app,
    log_in_owner,
    provision_practices,
)

SMALL = 10
PATTERNS = ("one practice", "all practices")
TARGET_RATIO = 1.2


def add_arguments(parser) -> None:
    group = parser.add_argument_group("scale")
    group.add_argument("--practices", type=int, default=2000, help="the large size (default 2000)")
    group.add_argument(
        "--jobs", type=int, default=os.cpu_count() or 2, help="provisioning processes (default: CPU count)"
    )
    group.add_argument("--requests", type=int, default=2000, help="timed requests per pattern (default 2000)")
    group.add_argument(
        "--practice-cache-seconds",
        type=int,
        default=None,
        help="host lookup cache lifetime (default: the application's default)",
    )


def run(args) -> None:
    small = min(SMALL, args.practices)
    port = free_port()
    heading(f"Scale: page latency with {small} and with {args.practices} practices")
    with (
        bench_environment(f"localhost:{port}", args.practice_cache_seconds) as (settings, tmp),
        local_app(settings) as app,
    ):
        print(f"host lookup cache: practice_cache_seconds={settings.practice_cache_seconds}")
        started = time.perf_counter()
        practices = provision_practices(app, range(1, small + 1))
        print(f"provisioned {small} practices in {time.perf_counter() - started:.1f} s (1 process)")
        results = {small: _measure(app, settings, port, tmp, practices, args)}

        if args.practices > small:
            more = args.practices - small
            print(f"provisioning {more} more practices in {args.jobs} process(es) ...", flush=True)
            started = time.perf_counter()
            step = max(100, more // 10)
            shown = [0]

            def progress(done: int) -> None:
                if done - shown[0] >= step or done == more:
                    shown[0] = done
                    print(f"  {done}/{more} ({time.perf_counter() - started:.0f} s)", flush=True)

            practices += provision_practices(
                app, range(small + 1, args.practices + 1), jobs=args.jobs, report=progress
            )
            seconds = time.perf_counter() - started
            print(
                f"provisioned {more} practices in {seconds:.1f} s "
                f"({seconds / more * 1000:.0f} ms each, {more / seconds:.1f} per second)"
            )
            results[args.practices] = _measure(app, settings, port, tmp, practices, args, footprint=True)
        else:
            _export_time(settings, tmp, practices[len(practices) // 2])
        _summary(results)


@dataclass
class Measurement:
    latencies: list[float]  # seconds per request
    app_cpu_ms: float | None = None  # gunicorn CPU per request
    db_cpu_ms: float | None = None  # database backends' CPU per request

    @property
    def cpu_ms(self) -> float | None:
        if self.app_cpu_ms is None:
            return None
        return self.app_cpu_ms + (self.db_cpu_ms or 0.0)

    def cpu_note(self) -> str:
        if self.app_cpu_ms is None:
            return ""
        db = f" + db {self.db_cpu_ms:.2f}" if self.db_cpu_ms is not None else ""
        return f"   CPU/request: gunicorn {self.app_cpu_ms:.2f}{db} ms"


def _summary(results: dict[int, dict[str, Measurement]]) -> None:
    print()
    sizes = "   ".join(f"{n:>6} practices" for n in results)
    for pattern in PATTERNS:
        for label, values in (
            ("median latency", [statistics.median(results[n][pattern].latencies) * 1000 for n in results]),
            ("CPU per request", [results[n][pattern].cpu_ms for n in results]),
        ):
            if None in values:
                continue
            if pattern == PATTERNS[0] and label == "median latency":
                print(f"  {TENANT_PATH:<34} {sizes}")
            line = f"  {pattern + ', ' + label:<34} " + "   ".join(f"{v:>9.2f} ms     " for v in values)
            if len(values) == 2:
                ratio = values[1] / values[0]
                line += f"ratio {ratio:.2f}x"
                if label == "median latency":
                    line += f" (target <= {TARGET_RATIO}x -> {'met' if ratio <= TARGET_RATIO else 'not met'})"
            print(line)


def _measure(
    app, settings, port: int, tmp, practices: list[BenchPractice], args, footprint: bool = False
) -> dict[str, Measurement]:
    count = len(practices)
    print(f"-- {count} practices ({_relation_count(settings.database_url)} relations in the database)")
    with GunicornServer(settings, port, tmp, args.workers, args.threads) as server:
        print(f"   server: {server.describe()} (fresh)")
        client = HttpClient(port)
        started = time.perf_counter()
        for practice in practices:
            log_in_owner(app, client, practice)
        seconds = time.perf_counter() - started
        print(f"   {count} owners signed in through the hand-off URL in {seconds:.1f} s")
        hosts = [practice.host(port) for practice in practices]
        _timed(client, hosts, max(len(hosts), 200))  # warm-up
        cpu = ServerCpu(server, settings.database_url)
        results = {}
        for pattern, targets in zip(PATTERNS, (hosts[:1], hosts), strict=True):
            (app_before, db_before) = cpu.sample()
            measurement = Measurement(_timed(client, targets, args.requests))
            (app_after, db_after) = cpu.sample()
            if app_before is not None:
                measurement.app_cpu_ms = (app_after - app_before) / args.requests * 1000
            if db_before is not None and db_after is not None:
                measurement.db_cpu_ms = (db_after - db_before) / args.requests * 1000
            results[pattern] = measurement
        client.close()
        if footprint:
            try:
                _footprint(settings, server)
            except Exception as error:  # noqa: BLE001 - the latencies above matter more
                print(f"   (footprint not measured: {error!r})")
    for pattern, measurement in results.items():
        print(latency_line(f"{pattern} ({count})", measurement.latencies) + measurement.cpu_note())
    if footprint:
        try:
            _export_time(settings, tmp, practices[len(practices) // 2])
        except Exception as error:  # noqa: BLE001
            print(f"   (export not timed: {error!r})")
    return results


def _memory_kib(pid: int) -> tuple[int, int] | None:
    """(resident, private) KiB of a process, from /proc (None when it is gone or not local)."""
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return None
    fields = {line.split(":")[0]: int(line.split()[1]) for line in rollup.splitlines()[1:] if ":" in line}
    private = fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)
    return fields.get("Rss", 0), private


def _footprint(settings, server) -> None:
    """After every practice was touched: the catalog, the largest backend and the largest worker."""
    with psycopg.connect(libpq_url(settings.database_url), autocommit=True) as conn:
        relations, catalog_bytes = conn.execute(
            "SELECT (SELECT count(*) FROM pg_class),"
            " (SELECT sum(pg_total_relation_size(oid)) FROM pg_class"
            "  WHERE relnamespace = 'pg_catalog'::regnamespace)"
        ).fetchone()
        backends = [
            pid
            for (pid,) in conn.execute(
                "SELECT pid FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ]
    print(f"   catalog: {relations} relations in pg_class, {catalog_bytes / 2**20:.1f} MiB of pg_catalog")

    workers = [pid for pid, parent in _processes() if parent == server.process.pid]
    for label, pids in (("database backend", backends), ("gunicorn worker", workers)):
        sizes = [size for size in map(_memory_kib, pids) if size is not None]
        if not sizes:
            print(f"   {label}: memory not readable here (not on this machine?)")
            continue
        rss, private = max(sizes, key=lambda size: size[1])
        print(
            f"   largest {label} of {len(sizes)}: {rss / 1024:.1f} MiB resident, "
            f"{private / 1024:.1f} MiB private"
        )
    print(f"   (backends are recycled after PORTICO_DB_RECYCLE_USES={settings.db_recycle_uses} checkouts)")


def _export_time(settings, tmp, practice: BenchPractice) -> None:
    """`portico practices export` of one practice, in a process of its own (start-up included)."""
    passphrase = Path(tmp) / "export-passphrase"
    passphrase.write_text("bench export passphrase\n")
    target = Path(tmp) / f"export-{practice.slug}.tar.age"
    env = dict(os.environ)
    env.update(
        DATABASE_URL=settings.database_url,
        SECRET_KEY=settings.secret_key,
        PORTICO_MASTER_KEY=settings.master_key or "",
        PORTICO_DATA_DIR=str(settings.data_dir),
        PORTICO_BASE_DOMAIN=settings.base_domain,
    )
    command = [
        sys.executable, "-c", "from app.cli import main; main()",
        "practices", "export", practice.slug, "--output", str(target), "--passphrase-file", str(passphrase),
    ]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        print(f"   practices export {practice.slug}: failed ({done.stderr.strip()[-300:]})")
        return
    print(
        f"   practices export {practice.slug} (one practice among them): {seconds:.2f} s, "
        f"{target.stat().st_size / 1024:.0f} KiB"
    )


def _timed(client: HttpClient, hosts: list[str], requests: int) -> list[float]:
    """`requests` sequential GETs of the page, round-robin over `hosts`; the seconds each took."""
    seconds = []
    for number in range(requests):
        host = hosts[number % len(hosts)]
        started = time.perf_counter()
        response = client.get(host, TENANT_PATH)
        seconds.append(time.perf_counter() - started)
        if response.status != 200:
            raise RuntimeError(f"{TENANT_PATH} on {host} answered {response.status}")
    return seconds


def _relation_count(url: str) -> int:
    with psycopg.connect(libpq_url(url)) as conn:
        return conn.execute("SELECT count(*) FROM pg_class").fetchone()[0]
