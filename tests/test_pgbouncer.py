"""Behind PgBouncer in transaction pooling (PORTICO_PGBOUNCER=1): isolation holds with more clients
than server connections.

A PgBouncer of the test's own (free port, config in a temporary directory, pool of 2 server
connections to the test database as the application role) sits between a second application
(`pgbouncer=True`: no automatic prepared statements, no startup options) and PostgreSQL. Eight
threads alternate practices through it; no practice may see another's data, and nothing may fail.
Skipped only where the `pgbouncer` binary is missing (`scripts/system-deps` installs Debian's).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from app import create_app
from blueprints.auth.models import User
from tenants.database import EMPTY_SCHEMA, db, practice_scope
from tests.probes import practice_probe

PGBOUNCER = os.environ.get("PORTICO_PGBOUNCER_BINARY") or shutil.which("pgbouncer") or next(
    (path for path in ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer") if os.path.exists(path)), None
)
pytestmark = pytest.mark.skipif(PGBOUNCER is None, reason="the pgbouncer binary is not installed")

SERVER_CONNECTIONS = 2
THREADS = 8
ROUNDS = 30


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def pgbouncer(database_urls):
    """PgBouncer in transaction mode in front of the test database; yields its URL for the app role."""
    app_url = make_url(database_urls.app)
    # Not under pytest's tmp_path: run as `nobody` (below), PgBouncer must be able to reach it.
    directory = Path(tempfile.mkdtemp(prefix="portico-pgbouncer-"))
    port = _free_port()
    quote = '"'
    (directory / "userlist.txt").write_text(
        f"{quote}{app_url.username}{quote} {quote}{app_url.password or ''}{quote}\n"
    )
    # The empty search_path Portico otherwise asks for in the startup packet (which PgBouncer 1.18
    # refuses): here set on every server connection (deploy/OPERATIONS.md sets it on the role).
    (directory / "pgbouncer.ini").write_text(
        f"""[databases]
portico = host={app_url.host or "127.0.0.1"} port={app_url.port or 5432} dbname={app_url.database} \
connect_query='SET search_path TO {EMPTY_SCHEMA}'

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {directory / "userlist.txt"}
stats_users = {app_url.username}
pool_mode = transaction
default_pool_size = {SERVER_CONNECTIONS}
max_db_connections = {SERVER_CONNECTIONS}
max_client_conn = 200
logfile = {directory / "pgbouncer.log"}
"""
    )
    command = [PGBOUNCER, str(directory / "pgbouncer.ini")]
    if os.geteuid() == 0:  # PgBouncer refuses to run as root
        nobody = pwd.getpwnam("nobody")
        directory.chmod(0o755)
        for path in directory.iterdir():
            os.chown(path, nobody.pw_uid, nobody.pw_gid)
        os.chown(directory, nobody.pw_uid, nobody.pw_gid)
        command[1:1] = ["-u", "nobody"]
    output = open(directory / "output.txt", "wb")  # closed below
    process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    url = app_url.set(port=port, database="portico").render_as_string(hide_password=False)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with psycopg.connect(url.replace("+psycopg", ""), connect_timeout=2) as conn:
                    conn.execute("SELECT 1")
                break
            except psycopg.OperationalError:
                if process.poll() is not None or time.monotonic() > deadline:
                    logs = [directory / "pgbouncer.log", directory / "output.txt"]
                    text = "".join(path.read_text(errors="replace") for path in logs if path.exists())
                    pytest.fail(f"PgBouncer did not start:\n{text[-2000:]}")
                time.sleep(0.2)
        yield url, port, app_url.username
    finally:
        process.terminate()
        process.wait(10)
        output.close()
        shutil.rmtree(directory, ignore_errors=True)


def admin_console(port: int, user: str, command: str) -> list[list[str]]:
    """A SHOW command on PgBouncer's console (simple query protocol only: psql speaks it)."""
    output = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-p", str(port), "-U", user, "-d", "pgbouncer", "-AtF|", "-c", command],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [line.split("|") for line in output.splitlines() if line]


@pytest.fixture(scope="module")
def bouncer_app(app, pgbouncer):
    """The application with DATABASE_URL through PgBouncer and PORTICO_PGBOUNCER on, plus probes."""
    url, _, _ = pgbouncer
    behind = create_app(replace(app.config["PORTICO"], pgbouncer=True), db_url=url)
    behind.config.update(TESTING=True)
    probe = practice_probe("bouncer_probe")

    behind.register_blueprint(probe)
    yield behind
    with behind.app_context():
        for engine in db.engines.values():
            engine.dispose()


def test_settings_turn_prepares_and_startup_options_off(bouncer_app):
    with bouncer_app.app_context():
        connect_args = bouncer_app.config["SQLALCHEMY_ENGINE_OPTIONS"]["connect_args"]
        assert connect_args == {"prepare_threshold": None}
        with db.engine.connect() as conn:
            assert conn.connection.driver_connection.prepare_threshold is None


def test_isolation_through_pgbouncer(bouncer_app, make_practice, pgbouncer):
    _, port, user = pgbouncer
    practices = [make_practice(name=f"Bouncer {letter}") for letter in "ABCD"]
    problems: list[str] = []
    seen = {p.id: 0 for p in practices}
    lock = threading.Lock()
    start = threading.Barrier(THREADS)

    def client(index: int) -> None:
        web = bouncer_app.test_client()
        start.wait()
        for round_number in range(ROUNDS):
            practice = practices[(index + round_number) % len(practices)]
            try:
                if round_number % 7 == 3:  # a request that fails mid-transaction, then the next one
                    if web.get("/_probe/boom", base_url=f"http://{practice.host}").status_code != 500:
                        problems.append(f"boom at {practice.slug} did not answer 500")
                response = web.get("/_probe/state", base_url=f"http://{practice.host}")
                state = response.json
                expected = {
                    "role": f"tenant_{practice.id}",
                    "search_path": f"tenant_{practice.id}",
                    "users": [f"Owner of {practice.record.name}"],
                    "practice": practice.id,
                }
                if response.status_code != 200 or state != expected:
                    problems.append(f"{practice.slug}: {response.status_code} {state}")
                # A committed transaction too: a COMMIT (unlike a rollback) keeps what psycopg has
                # prepared on the connection, so a prepared statement would meet another server.
                with bouncer_app.app_context(), practice_scope(practice.record):
                    names = db.session.scalars(select(User.name)).all()
                    db.session.commit()
                if names != expected["users"]:
                    problems.append(f"{practice.slug} in a practice scope: {names}")
                with lock:
                    seen[practice.id] += 1
            except Exception as error:  # every error is a failure of the test
                problems.append(f"{practice.slug}: {type(error).__name__}: {error}")

    threads = [threading.Thread(target=client, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    clients_during = None
    while any(thread.is_alive() for thread in threads):
        clients_during = max(clients_during or 0, len(admin_console(port, user, "SHOW CLIENTS")))
        time.sleep(0.05)
    for thread in threads:
        thread.join()
    assert problems == []
    assert all(count == THREADS * ROUNDS // len(practices) for count in seen.values()), seen
    servers = admin_console(port, user, "SHOW SERVERS")
    assert 1 <= len(servers) <= SERVER_CONNECTIONS
    assert clients_during > SERVER_CONNECTIONS + 1  # more clients than server connections (+ psql)


def test_practice_and_role_checks_through_pgbouncer(bouncer_app, make_practice):
    a, b = make_practice(), make_practice()
    with bouncer_app.app_context():
        with db.engine.connect() as conn:  # outside any practice: the empty search_path
            assert conn.execute(text("SHOW search_path")).scalar() == EMPTY_SCHEMA
            with pytest.raises(DBAPIError, match="does not exist"):
                conn.execute(text("SELECT * FROM users"))
        for _ in range(8):  # past psycopg's default prepare threshold (5): nothing is prepared
            with practice_scope(a.record):
                with pytest.raises(DBAPIError, match="permission denied"):
                    db.session.execute(text(f"SELECT * FROM tenant_{b.id}.users")).all()
            with practice_scope(b.record):
                assert db.session.scalars(select(User.id)).all() == [1]


def test_repeated_statements_from_many_clients_through_pgbouncer(bouncer_app):
    """The same statement, committed again and again by more clients than server connections: with
    psycopg's automatic prepares on, a statement prepared on one server connection is looked up (or
    prepared twice) on another, and fails. PORTICO_PGBOUNCER turns them off."""
    errors: list[str] = []

    def client() -> None:
        with bouncer_app.app_context():
            engine = db.engine
        for number in range(30):
            try:
                with engine.begin() as conn:
                    answer = conn.execute(text("SELECT CAST(:n AS int) + 1"), {"n": number}).scalar()
                assert answer == number + 1
            except Exception as error:  # every error is a failure of the test
                errors.append(f"{type(error).__name__}: {str(error).splitlines()[0]}")

    threads = [threading.Thread(target=client) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
