"""Test fixtures: a real PostgreSQL database of its own, a real SMTP server, and practice helpers.

DATABASE_URL (when set) names the server, as a superuser; otherwise an embedded PostgreSQL is started.
Either way the run gets a fresh database and its own two roles, as in production: the application runs
as `portico_app_<hex>` (no superuser, NOINHERIT) and migrates and provisions as `portico_owner_<hex>`
(roles are cluster-wide, hence the suffix). The database and every role the run created are dropped
at the end.
"""

from __future__ import annotations

import itertools
import os
import random
import re
import secrets
import socket
import tempfile
import threading
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from aiosmtpd.controller import Controller
from psycopg import sql
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from app import create_app, jobs
from app.config import Settings
from app.embedded_db import DatabaseUrls, embedded_server, libpq_url, normalize_url
from blueprints.auth.service import create_user
from tenants.context import PracticeRecord
from tenants.database import db, owner_engine, practice_scope
from tenants.encryption import new_master_key
from tenants.migrate import upgrade_public
from tenants.provisioning import new_practice
from tenants.registry import invalidate_cache
from tenants.roles import app_role, grant_app_role, set_up_database
from tests.fixtures_documents import (  # noqa: F401  (fixtures)
    clamd,
    s3_server,
    use_clamd,
    use_local_storage,
    use_s3,
)

OWNER_PASSWORD = "correct-horse-battery"


def _server_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        return normalize_url(url)
    return normalize_url(embedded_server(Path(tempfile.gettempdir()) / "portico-test-server"))


@dataclass(frozen=True)
class RunDatabase(DatabaseUrls):
    admin: str = ""  # the server's superuser, on the test database: for what no Portico role may do


@pytest.fixture(scope="session")
def database_urls():
    server = make_url(_server_url())
    run = uuid.uuid4().hex[:10]
    name, owner, application = f"portico_test_{run}", f"portico_owner_{run}", f"portico_app_{run}"
    password = secrets.token_urlsafe(18)
    admin = libpq_url(server.render_as_string(hide_password=False))
    set_up_database(admin, name, owner=owner, app=application, password=password)
    on_test_database = server.set(database=name)

    def url(role: str) -> str:
        return on_test_database.set(username=role, password=password).render_as_string(hide_password=False)

    yield RunDatabase(
        app=url(application), owner=url(owner), admin=on_test_database.render_as_string(hide_password=False)
    )
    try:  # every practice of this run, however it was made (fixtures, signups over HTTP, the CLI)
        with psycopg.connect(libpq_url(url(owner))) as conn:
            _created_roles.update(
                f"tenant_{pid}" for (pid,) in conn.execute("SELECT id FROM public.practices")
            )
    except psycopg.Error:
        pass
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        for (role,) in conn.execute(
            "SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)", (sorted(_created_roles),)
        ).fetchall():
            try:
                conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
            except psycopg.Error:
                pass  # still used by another database on this server
        for role in (application, owner):  # after the practice roles, which the owner made
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


@pytest.fixture(scope="session")
def admin_engine(database_urls):
    """The server's superuser on the test database: for tests that look at raw rows across schemas
    (what no Portico role may do: that is the point of the roles)."""
    engine = create_engine(database_urls.admin)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def database_url(database_urls):
    """The application role's URL (DATABASE_URL)."""
    return database_urls.app


_created_roles: set[str] = set()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Mailbox:
    """What the test SMTP server received."""

    def __init__(self):
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):
        from email import message_from_bytes, policy

        message = message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append(message)
        return "250 OK"

    def clear(self):
        self.messages.clear()

    def to(self, address: str) -> list:
        return [m for m in self.messages if address.lower() in m["To"].lower()]

    @staticmethod
    def body(message) -> str:
        return message.get_body(("plain",)).get_content()


@pytest.fixture(scope="session")
def smtp_server():
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, mailbox
    controller.stop()


@pytest.fixture(scope="session")
def app(database_urls, smtp_server, tmp_path_factory):
    controller, _ = smtp_server
    settings = Settings(
        database_url=database_urls.app,
        owner_database_url=database_urls.owner,
        secret_key="test-secret-key",
        base_domain="localhost",
        data_dir=tmp_path_factory.mktemp("portico-data"),
        smtp_url=f"smtp://127.0.0.1:{controller.port}",
        practice_cache_seconds=0,
        master_key=TEST_MASTER_KEY,
        # Tests of other features see their messages at once; tests of the hold set it themselves.
        message_hold_seconds=0,
    )
    flask_app = create_app(settings)
    # Cheap argon2 parameters for speed; production uses RFC 9106's low-memory profile.
    flask_app.config.update(TESTING=True, PASSWORD_HASH_PROFILE="CHEAPEST")
    with flask_app.app_context():
        upgrade_public(owner_engine())
        # Each test run numbers its practices from its own offset: role names are cluster-wide.
        with owner_engine().begin() as conn:
            grant_app_role(conn, app_role())
            conn.exec_driver_sql(
                f"ALTER SEQUENCE public.practices_id_seq RESTART WITH {random.randint(1000, 9_000_000) * 100}"
            )
    yield flask_app


@pytest.fixture
def mailbox(smtp_server):
    _, box = smtp_server
    box.clear()
    return box


@pytest.fixture
def run_jobs(app):
    """Run every queued job now, as `portico worker` would."""

    def run():
        # In a thread of its own: the browser tests' Playwright keeps an event loop in this one.
        failures = []

        def work():
            try:
                jobs.run_worker(app, wait=False, concurrency=1)
            except BaseException as error:  # re-raised below, in the test's thread
                failures.append(error)

        worker = threading.Thread(target=work)
        worker.start()
        worker.join(60)
        if failures:
            raise failures[0]

    return run


_counter = itertools.count(1)


@dataclass
class PracticeFixture:
    record: PracticeRecord
    owner_email: str
    owner_password: str = OWNER_PASSWORD
    people: dict = field(default_factory=dict)

    @property
    def id(self) -> int:
        return self.record.id

    @property
    def slug(self) -> str:
        return self.record.slug

    @property
    def host(self) -> str:
        return f"{self.record.slug}.localhost"


@pytest.fixture
def make_practice(app):
    def make(name: str | None = None, slug: str | None = None) -> PracticeFixture:
        number = next(_counter)
        slug = slug or f"p{number}-{uuid.uuid4().hex[:6]}"
        name = name or f"Practice {number} {slug}"
        email = f"owner@{slug}.example.com"
        with app.app_context():
            with new_practice(name, slug) as practice:
                create_user(email, f"Owner of {name}", OWNER_PASSWORD, role="owner")
        _created_roles.add(practice.role_name)
        invalidate_cache()
        return PracticeFixture(record=practice, owner_email=email)

    return make


CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*?value="([^"]+)"')


class Visitor:
    """A browser-like client of one host (practice or apex), with its own cookie jar."""

    def __init__(self, app, host: str, scheme: str = "http"):
        self.app = app
        self.client = app.test_client()
        self.host = host
        self.base_url = f"{scheme}://{host}"

    def get(self, path: str, **kwargs):
        return self.client.get(path, base_url=self.base_url, **kwargs)

    def csrf_token(self, page: str) -> str:
        response = self.get(page)
        match = CSRF_FIELD.search(response.get_data(as_text=True))
        assert match, f"no CSRF token on {page} ({response.status_code})"
        return match.group(1)

    def post(self, path: str, data: dict | None = None, form_page: str | None = None, **kwargs):
        """POST like a browser: with the CSRF token of the page the form is on (`form_page`)."""
        data = dict(data or {})
        if form_page is not False and "csrf_token" not in data:
            data["csrf_token"] = self.csrf_token(form_page or path)
        return self.client.post(path, base_url=self.base_url, data=data, **kwargs)

    def login(self, email: str, password: str = OWNER_PASSWORD):
        return self.post("/login", {"email": email, "password": password})

    def session_cookie(self):
        return self.client.get_cookie(self.app.config["SESSION_COOKIE_NAME"], domain=self.host)


@pytest.fixture
def visit(app):
    def make(host_or_practice, scheme: str = "http") -> Visitor:
        host = host_or_practice.host if isinstance(host_or_practice, PracticeFixture) else host_or_practice
        return Visitor(app, host, scheme)

    return make


@pytest.fixture
def apex(visit):
    return visit("localhost")


@pytest.fixture
def portico(app, tmp_path):
    """`portico ARGS…` (the CLI), against the test database, with `tmp_path` as the data directory;
    returns its output and checks its exit code (`expect`)."""
    from click.testing import CliRunner

    from app.cli import main

    env = {
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "PORTICO_OWNER_DATABASE_URL": app.config["PORTICO"].owner_database_url,
        "PORTICO_DATA_DIR": str(tmp_path),
        "PORTICO_BASE_DOMAIN": "localhost",
    }

    def run(*args, expect=0):
        result = CliRunner().invoke(main, list(args), env=env)
        assert result.exit_code == expect, result.output
        invalidate_cache()
        return result.output

    return run


@pytest.fixture
def in_practice(app):
    """`with in_practice(p):` runs a block as practice p (its role, schema and session)."""

    @contextmanager
    def scope(practice):
        record = practice.record if isinstance(practice, PracticeFixture) else practice
        with app.app_context(), practice_scope(record):
            yield record

    return scope


@pytest.fixture
def make_staff(in_practice):
    """Add a staff member with a password; returns their email."""

    def make(practice: PracticeFixture, role: str = "clinician", name: str | None = None) -> str:
        email = f"{role}-{uuid.uuid4().hex[:6]}@{practice.slug}.example.com"
        with in_practice(practice):
            create_user(email, name or f"{role.title()} {email[:12]}", OWNER_PASSWORD, role=role)
            db.session.commit()
        return email

    return make


@dataclass
class ClientFixture:
    id: int
    name: str
    email: str | None


@pytest.fixture
def make_client(in_practice):
    """Add a client record (optionally with a portal login of their own and clinicians)."""
    from blueprints.auth.service import find_user_by_email, hash_password
    from blueprints.people.operations.access import (
        assign_clinician,
        create_client,
        grant_access,
        portal_account,
    )

    def make(
        practice: PracticeFixture,
        first: str = "Casey",
        last: str | None = None,
        date_of_birth=None,
        email: str | None = None,
        login: bool = False,
        clinicians: tuple[str, ...] = (),
        **fields,
    ) -> ClientFixture:
        last = last or f"Client{uuid.uuid4().hex[:4]}"
        with in_practice(practice):
            client = create_client(first, last, date_of_birth=date_of_birth, email=email, **fields)
            for clinician_email in clinicians:
                assign_clinician(client, find_user_by_email(clinician_email))
            if login:
                user = portal_account(email, f"{first} {last}")
                user.password_hash = hash_password(OWNER_PASSWORD)
                grant_access(user, client, "self")
            db.session.commit()
            return ClientFixture(client.id, f"{first} {last}", email)

    return make


@pytest.fixture
def grant_portal(in_practice):
    """Give the login `email` (created if needed, password OWNER_PASSWORD) access to a client."""
    from blueprints.auth.service import hash_password
    from blueprints.people.models import Client
    from blueprints.people.operations.access import grant_access, portal_account

    def grant(
        practice: PracticeFixture, client: ClientFixture, email: str, relationship: str = "guardian", **perms
    ):
        with in_practice(practice):
            user = portal_account(email, f"Person {email.split('@')[0]}")
            if user.password_hash is None:
                user.password_hash = hash_password(OWNER_PASSWORD)
            grant_access(user, db.session.get(Client, client.id), relationship, **perms)
            db.session.commit()

    return grant


@pytest.fixture
def open_for_booking(in_practice):
    """Portal and self-scheduling on, one service offered by `clinician_email`, daily hours; returns
    the service id. Extra keyword arguments set practice settings."""
    from datetime import time

    from blueprints.auth.service import find_user_by_email
    from blueprints.scheduling.operations.availability import set_weekly_hours
    from blueprints.scheduling.operations.catalog import add_service
    from tenants.features import practice_settings

    def setup(practice, clinician_email, service_name="Therapy", hours=(8, 20), **settings_values):
        with in_practice(practice):
            settings = practice_settings()
            values = dict(portal_enabled=True, self_scheduling_enabled=True, self_rescheduling_enabled=True)
            for name, value in {**values, **settings_values}.items():
                setattr(settings, name, value)
            clinician = find_user_by_email(clinician_email)
            offered = add_service(service_name, 50, [clinician], service_code="90834")
            set_weekly_hours(None, range(7), time(hours[0]), time(hours[1]))
            db.session.commit()
            return offered.id

    return setup


# Encryption at rest needs a master key: one per test run, for the app fixture and for the commands
# and workers the tests start (they read it from the environment).
TEST_MASTER_KEY = os.environ.setdefault("PORTICO_MASTER_KEY", new_master_key())


def sent_by(message, practice: PracticeFixture) -> bool:
    """Whether `message` came from `practice` (emails name their practice as the sender)."""
    return message["From"].addresses[0].display_name == practice.record.name
