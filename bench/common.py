"""What the benchmarks share: a scratch database, bench settings, practices made directly, a gunicorn
server running `bench.bench_app`, a small keep-alive HTTP client, a load generator and statistics.

Python's resolver does not resolve `*.localhost`, so every request goes to 127.0.0.1 with the Host
header of the apex (`localhost:<port>`) or of a practice (`<slug>.localhost:<port>`).
"""

from __future__ import annotations

import http.client
import multiprocessing
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import psycopg
from psycopg import sql
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from app.config import Settings
from app.embedded_db import libpq_url, normalize_url

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
BENCH_SECRET_KEY = "portico-bench-secret-key"
OWNER_PASSWORD = "correct-horse-battery"

# The bench WSGI module reads these (gunicorn starts it in processes of its own).
ENV_DATABASE_URL = "PORTICO_BENCH_DATABASE_URL"
ENV_BASE_DOMAIN = "PORTICO_BENCH_BASE_DOMAIN"
ENV_DATA_DIR = "PORTICO_BENCH_DATA_DIR"
ENV_PRACTICE_CACHE_SECONDS = "PORTICO_BENCH_PRACTICE_CACHE_SECONDS"
ENV_MASTER_KEY = "PORTICO_BENCH_MASTER_KEY"

TENANT_PATH = "/bench/tenant"
BYPASS_PATH = "/bench/bypass"
PING_PATH = "/ping"  # bench.ping_app: a bare Flask app, served as the bench app is
BENCH_TARGET = "bench.bench_app:build_app()"
PING_TARGET = "bench.ping_app:app"
DOCUMENT_PATH = "/bench/document"  # /<document id>?key=<storage key>: bench/documents.py
PLAIN_FILE_PATH = "/bench/plain-file"  # ?name=<file in the data directory's files/>


# --- settings and the scratch database -------------------------------------------------------------


def bench_settings(
    database_url: str,
    base_domain: str,
    data_dir: Path,
    practice_cache_seconds: int | None = None,
    master_key: str | None = None,
) -> Settings:
    """The settings every bench process uses: a fixed secret key, the run's master key (for what is
    sealed at rest), and the default practice cache unless `practice_cache_seconds` is given."""
    settings = Settings(
        database_url=database_url,
        secret_key=BENCH_SECRET_KEY,
        base_domain=base_domain,
        data_dir=Path(data_dir),
        master_key=master_key,
    )
    if practice_cache_seconds is not None:
        settings.practice_cache_seconds = practice_cache_seconds
    return settings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _server_url() -> str:
    return normalize_url(os.environ.get("DATABASE_URL") or DEFAULT_SERVER_URL)


@contextmanager
def scratch_database() -> Iterator[str]:
    """A new database `portico_bench_<random>` with `public` at head; yields its SQLAlchemy URL.

    Practice ids start at a random offset of their own (role names are cluster-wide, so they must not
    meet another database's practices). On exit the database is dropped, then every practice role it
    created.
    """
    from tenants.migrate import upgrade_public

    server = make_url(_server_url())
    admin = libpq_url(server.render_as_string(hide_password=False))
    name = f"portico_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = server.set(database=name).render_as_string(hide_password=False)
    try:
        engine = create_engine(url)
        try:
            upgrade_public(engine)
            with engine.begin() as conn:
                # Above the range the test suite uses (up to 900,000,000) and below 2**31.
                start = 1_000_000_000 + random.randint(0, 99_999) * 10_000
                conn.exec_driver_sql(f"ALTER SEQUENCE public.practices_id_seq RESTART WITH {start}")
        finally:
            engine.dispose()
        yield url
    finally:
        _drop_database(admin, libpq_url(url), name)


def _drop_database(admin: str, url: str, name: str) -> None:
    roles: list[str] = []
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            roles = [f"tenant_{int(pid)}" for (pid,) in conn.execute("SELECT id FROM public.practices")]
    except psycopg.Error:
        pass  # the registry was never created: no practice roles either
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        for role in roles:
            try:
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
            except psycopg.Error:
                pass  # still used by another database on this server
    print(f"cleanup: dropped database {name} and {len(roles)} practice role(s)")


@contextmanager
def bench_environment(
    base_domain: str, practice_cache_seconds: int | None = None
) -> Iterator[tuple[Settings, Path]]:
    """A scratch database and a temporary directory (data dir, server logs); yields (settings, tmp).
    The run gets a master key of its own (its practices' keys die with the scratch database)."""
    from tenants.encryption import new_master_key

    with tempfile.TemporaryDirectory(prefix="portico-bench-") as tmp, scratch_database() as url:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        yield bench_settings(url, base_domain, data_dir, practice_cache_seconds, new_master_key()), Path(tmp)


@contextmanager
def local_app(settings: Settings) -> Iterator:
    """The application in this process (to provision practices and issue hand-off tokens)."""
    from app import create_app
    from tenants.database import db

    app = create_app(settings)
    try:
        yield app
    finally:
        with app.app_context():
            db.engine.dispose()


# --- practices made directly (no HTTP) ---------------------------------------------------------------


@dataclass(frozen=True)
class BenchPractice:
    id: int
    slug: str
    name: str
    owner_email: str

    def host(self, port: int) -> str:
        return f"{self.slug}.localhost:{port}"


def practice_slug(number: int) -> str:
    return f"practice-{number}"


_worker_app = None
_worker_password_hash: str | None = None


def _init_provisioner(settings: Settings, password_hash: str) -> None:
    global _worker_app, _worker_password_hash
    from app import create_app

    _worker_app = create_app(settings)
    _worker_password_hash = password_hash


def _provision(app, numbers: Sequence[int], password_hash: str) -> list[BenchPractice]:
    """As tests/conftest.py `make_practice` does: `new_practice` + `create_user` for the owner.

    Every owner gets the same password; its argon2 hash is computed once by the caller and stored
    directly, which leaves the database as `create_user(..., password)` would at a fraction of the
    CPU time. The practice's settings row is created too, as it is once a practice has saved its
    settings (`practice_settings()` creates it on first use, but a request that does not commit
    rolls it back, so a GET alone would insert it again every time).
    """
    from blueprints.auth.service import create_user
    from tenants.features import practice_settings
    from tenants.provisioning import new_practice

    made = []
    with app.app_context():
        for number in numbers:
            slug = practice_slug(number)
            name = f"Bench Practice {number}"
            email = f"owner@{slug}.example.com"
            with new_practice(name, slug) as practice:
                owner = create_user(email, f"Owner of {name}", None, role="owner")
                owner.password_hash = password_hash
                practice_settings()
            made.append(BenchPractice(practice.id, practice.slug, practice.name, email))
    return made


def _provision_in_worker(numbers: Sequence[int]) -> list[BenchPractice]:
    return _provision(_worker_app, numbers, _worker_password_hash)


def provision_practices(
    app,
    numbers: Sequence[int],
    jobs: int = 1,
    report: Callable[[int], None] | None = None,
    chunk: int = 25,
) -> list[BenchPractice]:
    """Create one practice (and its owner) per number, in `jobs` processes when jobs > 1."""
    from blueprints.auth.service import hash_password

    password_hash = hash_password(OWNER_PASSWORD)
    numbers = list(numbers)
    made: list[BenchPractice] = []
    if jobs <= 1 or len(numbers) <= chunk:
        for start in range(0, len(numbers), chunk):
            made += _provision(app, numbers[start : start + chunk], password_hash)
            if report:
                report(len(made))
        return made
    # spawn, not fork: a forked child would share the parent's pooled database connections.
    with ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_provisioner,
        initargs=(app.config["PORTICO"], password_hash),
    ) as pool:
        futures = [
            pool.submit(_provision_in_worker, numbers[start : start + chunk])
            for start in range(0, len(numbers), chunk)
        ]
        for future in as_completed(futures):
            made += future.result()
            if report:
                report(len(made))
    return sorted(made, key=lambda p: p.id)


def issue_handoff_token(app, practice: BenchPractice) -> str:
    """A one-time sign-in token for the practice's owner, as signup issues one."""
    from blueprints.auth.service import HANDOFF, find_user_by_email, issue_token
    from tenants.context import PracticeRecord
    from tenants.database import db, practice_scope

    record = PracticeRecord(id=practice.id, slug=practice.slug, name=practice.name)
    with app.app_context(), practice_scope(record):
        token = issue_token(find_user_by_email(practice.owner_email), HANDOFF)
        db.session.commit()
    return token


def log_in_owner(app, client: HttpClient, practice: BenchPractice) -> None:
    """Sign the owner in through the real hand-off URL; the client keeps the session cookie."""
    token = issue_handoff_token(app, practice)
    response = client.get(practice.host(client.port), f"/auth/handoff?token={token}")
    if response.status != 302:
        raise RuntimeError(f"hand-off for {practice.slug} answered {response.status}")


# --- the server ------------------------------------------------------------------------------------


class GunicornServer:
    """gunicorn serving `bench.bench_app` (or `target`) on a free port of 127.0.0.1, with fixed settings."""

    def __init__(
        self,
        settings: Settings,
        port: int,
        log_dir: Path,
        workers: int = 2,
        threads: int = 4,
        target: str = BENCH_TARGET,
    ):
        self.target = target
        self.settings = settings
        self.port = port
        self.workers = workers
        self.threads = threads
        self.log_path = Path(log_dir) / f"gunicorn-{port}.log"
        self.process: subprocess.Popen | None = None

    def describe(self) -> str:
        return (
            f"gunicorn {self.workers} worker(s), gthread x {self.threads} thread(s), keep-alive 30 s, "
            f"on 127.0.0.1:{self.port}"
        )

    def __enter__(self) -> GunicornServer:
        env = dict(os.environ)
        env[ENV_DATABASE_URL] = self.settings.database_url
        env[ENV_BASE_DOMAIN] = self.settings.base_domain
        env[ENV_DATA_DIR] = str(self.settings.data_dir)
        env[ENV_PRACTICE_CACHE_SECONDS] = str(self.settings.practice_cache_seconds)
        env[ENV_MASTER_KEY] = self.settings.master_key or ""
        args = [
            sys.executable, "-m", "gunicorn",
            "--bind", f"127.0.0.1:{self.port}",
            "--workers", str(self.workers),
            "--worker-class", "gthread",
            "--threads", str(self.threads),
            "--keep-alive", "30",
            "--graceful-timeout", "5",
            "--log-level", "warning",
            "--chdir", str(ROOT),
            self.target,
        ]  # fmt: skip
        self._log = open(self.log_path, "ab")  # closed in __exit__
        self.process = subprocess.Popen(args, env=env, cwd=ROOT, stdout=self._log, stderr=self._log)
        try:
            self._wait_ready()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _wait_ready(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited early; see {self.log_path}:\n{self.log_tail()}")
            try:
                client = HttpClient(self.port, timeout=2)
                ok = client.get(f"localhost:{self.port}", "/healthz").status == 200
                client.close()
                if ok:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer within {timeout} s; see {self.log_path}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def __exit__(self, *exc) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


# --- HTTP ------------------------------------------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class HttpClient:
    """One keep-alive connection to 127.0.0.1:<port> that sends any Host header.

    Cookies are kept per host, as a browser keeps host-only cookies. Redirects are not followed.
    """

    def __init__(self, port: int, timeout: float = 60):
        self.port = port
        self.timeout = timeout
        self.cookies: dict[str, dict[str, str]] = {}
        self._conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def close(self) -> None:
        self._conn.close()

    def get(self, host: str, path: str) -> Response:
        return self.request("GET", host, path)

    def post_form(self, host: str, path: str, fields: dict[str, str]) -> Response:
        return self.request("POST", host, path, fields)

    def cookie_header(self, host: str) -> str:
        return "; ".join(f"{name}={value}" for name, value in self.cookies.get(host, {}).items())

    def request(self, method: str, host: str, path: str, fields: dict[str, str] | None = None) -> Response:
        headers = {"Host": host}
        cookie = self.cookie_header(host)
        if cookie:
            headers["Cookie"] = cookie
        body = None
        if fields is not None:
            body = urlencode(fields).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            self._conn.request(method, path, body=body, headers=headers)
            raw = self._conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            # The server closed an idle keep-alive connection before this request reached it.
            self._conn.close()
            self._conn.request(method, path, body=body, headers=headers)
            raw = self._conn.getresponse()
        payload = raw.read()
        self._keep_cookies(host, raw.headers.get_all("Set-Cookie") or [])
        return Response(raw.status, raw.headers, payload)

    def _keep_cookies(self, host: str, set_cookies: list[str]) -> None:
        jar = self.cookies.setdefault(host, {})
        for line in set_cookies:
            pair, _, attributes = line.partition(";")
            name, _, value = pair.strip().partition("=")
            lowered = attributes.lower()
            if "max-age=0" in lowered or "expires=thu, 01 jan 1970" in lowered:
                jar.pop(name, None)
            else:
                jar[name] = value


# --- load and statistics ---------------------------------------------------------------------------


@dataclass
class LoadResult:
    requests: int
    errors: int
    seconds: float
    client_cpu_seconds: float  # CPU time the load generator itself used (all its threads)
    server_cpu_seconds: float | None = None  # gunicorn workers, when measured (see ServerCpu)
    database_cpu_seconds: float | None = None  # the scratch database's backends, when measured

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def run_load(
    port: int, host: str, path: str, cookies: dict[str, str], connections: int, duration: float
) -> LoadResult:
    """`connections` threads, each with its own keep-alive connection, GET `path` for `duration` s.

    Every thread starts from the same cookies and keeps what the server sets (as a browser would).
    """
    counts = [0] * connections
    errors = [0] * connections
    start_line = threading.Barrier(connections + 1)
    deadline = 0.0

    def worker(index: int) -> None:
        client = HttpClient(port)
        client.cookies[host] = dict(cookies)
        start_line.wait()
        done = failed = 0
        try:
            while time.perf_counter() < deadline:
                if client.get(host, path).status != 200:
                    failed += 1
                done += 1
        finally:
            counts[index], errors[index] = done, failed
            client.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(connections)]
    for thread in threads:
        thread.start()
    cpu_began = time.process_time()
    began = time.perf_counter()
    deadline = began + duration
    start_line.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    return LoadResult(sum(counts), sum(errors), elapsed, time.process_time() - cpu_began)


class ServerCpu:
    """CPU time used by the gunicorn workers and by the PostgreSQL backends of one database.

    Read from /proc, so only on Linux and only for a database server on this machine; elsewhere the
    figures are None. CPU per request does not depend on what else the machine is busy with, which
    requests per second do.
    """

    def __init__(self, server: GunicornServer, database_url: str):
        self.master = server.process.pid if server.process else None
        self.database_url = libpq_url(database_url)
        self.available = Path("/proc/self/stat").exists() and self.master is not None
        self.tick = os.sysconf("SC_CLK_TCK") if self.available else 100

    def sample(self) -> tuple[float | None, float | None]:
        if not self.available:
            return None, None
        workers = [pid for pid, parent in _processes() if parent == self.master]
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            backends = [
                pid
                for (pid,) in conn.execute(
                    "SELECT pid FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ]
        # A database server elsewhere has its backends' pids in another pid namespace.
        local = [pid for pid in backends if _command(pid) == "postgres"]
        return self._cpu(workers), (self._cpu(local) if local else None)

    def _cpu(self, pids: Sequence[int]) -> float:
        total = 0
        for pid in pids:
            fields = _stat(pid)
            if fields:
                total += int(fields[11]) + int(fields[12])  # utime, stime (after the command name)
        return total / self.tick

    def measure(self, work: Callable[[], LoadResult]) -> LoadResult:
        app_before, db_before = self.sample()
        result = work()
        app_after, db_after = self.sample()
        if app_before is not None:
            result.server_cpu_seconds = app_after - app_before
        if db_before is not None and db_after is not None:
            result.database_cpu_seconds = db_after - db_before
        return result


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name: state, ppid, ... (None if gone)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()


def _command(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return None


def _processes() -> Iterator[tuple[int, int]]:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields:
                yield int(entry.name), int(fields[1])


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (`fraction` 0..1)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(fraction * len(ordered) + 0.5)))
    return ordered[rank - 1]


def latency_line(label: str, seconds: Sequence[float], width: int = 34) -> str:
    ms = [s * 1000 for s in seconds]
    return (
        f"  {label:<{width}} median {statistics.median(ms):8.2f} ms   p95 {percentile(ms, 0.95):8.2f} ms"
        f"   min {min(ms):8.2f} ms   max {max(ms):8.2f} ms   (n={len(ms)})"
    )


def heading(title: str) -> None:
    print()
    print(f"== {title} ==")
