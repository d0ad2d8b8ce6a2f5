"""Load: `portico serve` itself (deploy/gunicorn.conf.py, as in production) under a bounded loopback load.

A scratch database gets `--load-practices` practices (default 20), each owner signed in once through
the hand-off URL. `portico serve` starts on a free port of 127.0.0.1 with `--load-workers` gthread
workers (default 5) and then `--load-clients` client threads (default 16), each with one keep-alive
connection, send GETs for `--seconds` (default 60) round-robin over the practices and these routes:
the owner's home and client list, the practice's login page, and the apex's /healthz.

A request whose connection the server closed or reset under it (RemoteDisconnected,
ConnectionResetError, BrokenPipeError) is counted as a reset and not retried: a browser or a proxy
would have shown or logged an error for it. Printed: req/s, p50/p95/p99 per route, resets, 5xx, and
how many times gunicorn recycled a worker (`max_requests`). Loopback only; nothing is asserted.
"""

from __future__ import annotations

import http.client
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import (
    BENCH_SECRET_KEY,
    ROOT,
    bench_environment,
    free_port,
    heading,
    issue_handoff_token,
    local_app,
    percentile,
    provision_practices,
)

# (label, path, signed in, on the apex)
ROUTES = (
    ("owner home /", "/", True, False),
    ("client list /clients", "/clients", True, False),
    ("login page /login", "/login", False, False),
    ("apex /healthz", "/healthz", False, True),
)
RESETS = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


def add_arguments(parser) -> None:
    group = parser.add_argument_group("load")
    group.add_argument("--seconds", type=float, default=60, help="load duration (default 60 s)")
    group.add_argument("--load-clients", type=int, default=16, help="client threads (default 16)")
    group.add_argument("--load-practices", type=int, default=20, help="practices (default 20)")
    group.add_argument("--load-workers", type=int, default=5, help="gunicorn workers (default 5)")
    group.add_argument(
        "--idle-chance",
        type=float,
        default=0.0,
        help="chance that a client then leaves its connection idle for 4-6 s (default 0: never), as a "
        "proxy or browser does between bursts: near gunicorn's old 5 s keep-alive timeout",
    )


@dataclass
class RouteFigures:
    seconds: list[float] = field(default_factory=list)
    resets: int = 0
    server_errors: int = 0
    other_status: int = 0
    failures: int = 0  # timeouts and other exceptions


class PorticoServe:
    """`portico serve --bind 127.0.0.1:<port>` with the bench's settings; gunicorn's log to a file."""

    def __init__(self, settings, port: int, log_dir: Path, workers: int, threads: int):
        self.settings, self.port, self.workers, self.threads = settings, port, workers, threads
        self.log_path = Path(log_dir) / f"portico-serve-{port}.log"

    def __enter__(self) -> PorticoServe:
        env = {key: value for key, value in os.environ.items() if not key.startswith("PORTICO_")}
        env.update(
            DATABASE_URL=self.settings.database_url,
            SECRET_KEY=BENCH_SECRET_KEY,
            PORTICO_MASTER_KEY=self.settings.master_key,
            PORTICO_BASE_DOMAIN=self.settings.base_domain,
            PORTICO_DATA_DIR=str(self.settings.data_dir),
            WEB_CONCURRENCY=str(self.workers),
            PORTICO_THREADS=str(self.threads),
        )
        self._log = open(self.log_path, "ab")
        portico = Path(sys.executable).parent / "portico"
        command = [str(portico)] if portico.exists() else [sys.executable, "-m", "app.cli"]
        self.process = subprocess.Popen(
            [*command, "serve", "--bind", f"127.0.0.1:{self.port}"],
            env=env,
            cwd=ROOT,
            stdout=self._log,
            stderr=self._log,
        )
        deadline = time.monotonic() + 300  # a busy 2-core machine takes a while to boot 5 workers
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"portico serve exited early; see {self.log_path}")
            try:
                status, _ = _get(_connect(self.port), f"localhost:{self.port}", "/healthz", "")
                if status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.3)
        self.__exit__()
        tail = "\n".join(self.log_path.read_text(errors="replace").splitlines()[-20:])
        raise RuntimeError(f"portico serve did not answer:\n{tail}")

    def recycles(self) -> int:
        return self.log_path.read_text(errors="replace").count("Autorestarting worker")

    def __exit__(self, *exc) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def _connect(port: int) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", port, timeout=30)


def _get(conn: http.client.HTTPConnection, host: str, path: str, cookie: str) -> tuple[int, bytes]:
    headers = {"Host": host}
    if cookie:
        headers["Cookie"] = cookie
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    return response.status, response.read()


def _session_cookie(app, practice, port: int) -> str:
    """Sign the owner in through the hand-off URL; the session cookie the server set."""
    conn = _connect(port)
    token = issue_handoff_token(app, practice)
    conn.request("GET", f"/auth/handoff?token={token}", headers={"Host": practice.host(port)})
    response = conn.getresponse()
    response.read()
    conn.close()
    cookies = [line.split(";", 1)[0] for line in response.headers.get_all("Set-Cookie") or []]
    if response.status != 302 or not cookies:
        raise RuntimeError(f"hand-off for {practice.slug} answered {response.status}")
    return "; ".join(cookies)


def generate_load(
    port: int, practices, cookies: dict[int, str], clients: int, seconds: float, idle_chance: float = 0.0
):
    figures: dict[str, RouteFigures] = defaultdict(RouteFigures)
    lock = threading.Lock()
    start_line = threading.Barrier(clients + 1)
    deadline = [0.0]

    def client(index: int) -> None:
        mine: dict[str, RouteFigures] = defaultdict(RouteFigures)
        chance = random.Random(index)
        conn = _connect(port)
        step = index
        start_line.wait()
        while time.monotonic() < deadline[0]:
            practice = practices[step % len(practices)]
            label, path, signed_in, apex = ROUTES[(step // len(practices) + index) % len(ROUTES)]
            step += 1
            host = f"localhost:{port}" if apex else practice.host(port)
            started = time.perf_counter()
            try:
                status, _ = _get(conn, host, path, cookies[practice.id] if signed_in else "")
            except RESETS:
                mine[label].resets += 1
                conn.close()
                conn = _connect(port)
                continue
            except (OSError, http.client.HTTPException):
                mine[label].failures += 1
                conn.close()
                conn = _connect(port)
                continue
            mine[label].seconds.append(time.perf_counter() - started)
            if status >= 500:
                mine[label].server_errors += 1
            elif status != 200:
                mine[label].other_status += 1
            if idle_chance and chance.random() < idle_chance:
                time.sleep(chance.uniform(4.0, 6.0))
        conn.close()
        with lock:
            for name, part in mine.items():
                total = figures[name]
                total.seconds += part.seconds
                total.resets += part.resets
                total.server_errors += part.server_errors
                total.other_status += part.other_status
                total.failures += part.failures

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    deadline[0] = time.monotonic() + seconds
    started = time.perf_counter()
    start_line.wait()
    for thread in threads:
        thread.join()
    return figures, time.perf_counter() - started


def run(args) -> None:
    heading(f"load: portico serve under {args.seconds:.0f} s of loopback GETs")
    port = free_port()
    with (
        bench_environment(f"localhost:{port}") as (settings, tmp),
        local_app(settings) as app,
    ):
        practices = provision_practices(app, range(1, args.load_practices + 1))
        with PorticoServe(settings, port, tmp, args.load_workers, args.threads) as server:
            cookies = {p.id: _session_cookie(app, p, port) for p in practices}
            print(
                f"portico serve (deploy/gunicorn.conf.py): {args.load_workers} workers x {args.threads} "
                f"threads; {args.load_clients} client threads; {len(practices)} practices "
                "(the machine is shared: figures vary from run to run)"
            )
            if os.environ.get("GUNICORN_CMD_ARGS"):
                print(f"GUNICORN_CMD_ARGS: {os.environ['GUNICORN_CMD_ARGS']}")
            if args.idle_chance:
                print(f"each client idles 4-6 s after a request with chance {args.idle_chance}")
            figures, elapsed = generate_load(
                port, practices, cookies, args.load_clients, args.seconds, args.idle_chance
            )
            recycles = server.recycles()
        report(figures, elapsed, recycles)  # before the scratch database is dropped (it takes a while)


def report(figures, elapsed: float, recycles: int) -> None:
    answered = sum(len(f.seconds) for f in figures.values())
    resets = sum(f.resets for f in figures.values())
    sent = answered + resets + sum(f.failures for f in figures.values())
    rate = answered / elapsed
    print(f"{answered} answered in {elapsed:.1f} s: {rate:.1f} req/s; worker recycles: {recycles}")
    columns = ("count", "p50 ms", "p95 ms", "p99 ms", "resets", "5xx", "other")
    print(f"{'route':<24} " + " ".join(f"{name:>8}" for name in columns))
    for label, *_ in ROUTES:
        f = figures[label]
        if not f.seconds:
            print(f"{label:<24} {0:>8} {'-':>8} {'-':>8} {'-':>8} {f.resets:>8} {0:>8} {f.failures:>8}")
            continue
        p50, p95, p99 = (percentile(f.seconds, q) * 1000 for q in (0.5, 0.95, 0.99))
        print(
            f"{label:<24} {len(f.seconds):>8} {p50:>8.1f} {p95:>8.1f} {p99:>8.1f} {f.resets:>8} "
            f"{f.server_errors:>8} {f.other_status + f.failures:>8}"
        )
    print(f"connection resets: {resets} of {sent} requests ({100 * resets / max(sent, 1):.2f}%)")
