"""One pooled connection alternating between two practices: nothing of one survives into the other.

The role switch travels in the same round trip as BEGIN (`tenants.database.begin_in_practice`) and
the practice settings are cached per process (`tenants.features.cached_practice_settings`); with a
pool of exactly one connection, every request below runs on the same database backend, so anything
left behind by the previous practice (role, search_path, rows, settings) would show.
"""

from __future__ import annotations

import pytest
from flask import Blueprint, jsonify
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import DBAPIError

from app import create_app
from app.web import staff_required
from blueprints.auth.models import User
from tenants.context import current_practice
from tenants.database import EMPTY_SCHEMA, db, practice_scope
from tenants.features import PracticeSettings, cached_practice_settings
from tests.conftest import Visitor


@pytest.fixture
def single_connection_app(app):
    settings = app.config["PORTICO"]
    single = create_app(settings, db_url=app.config["SQLALCHEMY_DATABASE_URI"])
    probe = Blueprint("pool_probe", __name__)

    @probe.get("/_pool/state")
    def state():
        backend, role, path, in_transaction = db.session.execute(
            text(
                "SELECT pg_backend_pid(), current_user, current_setting('search_path'), "
                "now() = statement_timestamp()"
            )
        ).one()
        return jsonify(
            backend=backend,
            role=role,
            search_path=path,
            users=db.session.scalars(select(User.name)).all(),
            practice=current_practice().id,
            # The staff two-factor gate's read, through the per-process cache.
            require_staff_mfa=cached_practice_settings().require_staff_mfa,
            time_zone=cached_practice_settings().time_zone,
        )

    @probe.get("/_pool/other/<int:other>")
    def other(other: int):
        try:
            db.session.execute(text(f"SELECT name FROM tenant_{int(other)}.users")).all()
        except DBAPIError:
            return jsonify(refused=True)
        return jsonify(refused=False)

    @probe.get("/_pool/staff")
    @staff_required()
    def staff():
        return "ok"

    single.register_blueprint(probe)
    with single.app_context():
        db._app_engines[single][None] = create_engine(
            single.config["SQLALCHEMY_DATABASE_URI"],
            pool_size=1,
            max_overflow=0,
            connect_args={"options": f"-c search_path={EMPTY_SCHEMA}"},
        )
    return single


def test_one_connection_alternating_two_practices_keeps_them_apart(single_connection_app, make_practice):
    a, b = make_practice(name="Alternate Alpha"), make_practice(name="Alternate Beta")
    # Different settings in each, so a settings row served to the wrong practice would show.
    with single_connection_app.app_context():
        for practice, mfa, zone in ((a, True, "Europe/Paris"), (b, False, "America/Chicago")):
            with practice_scope(practice.record):
                row = db.session.get(PracticeSettings, 1) or PracticeSettings(id=1)
                row.require_staff_mfa, row.time_zone = mfa, zone
                db.session.add(row)
                db.session.commit()
    client = single_connection_app.test_client()
    expected = {
        a.id: (["Owner of Alternate Alpha"], True, "Europe/Paris"),
        b.id: (["Owner of Alternate Beta"], False, "America/Chicago"),
    }
    backends = set()
    for turn in range(6):
        practice, other = (a, b) if turn % 2 == 0 else (b, a)
        state = client.get("/_pool/state", base_url=f"http://{practice.host}").json
        backends.add(state["backend"])
        assert state["practice"] == practice.id
        assert (state["role"], state["search_path"]) == (f"tenant_{practice.id}", f"tenant_{practice.id}")
        assert (state["users"], state["require_staff_mfa"], state["time_zone"]) == expected[practice.id]
        # The other practice's schema is refused while this one is bound, on the same backend.
        refused = client.get(f"/_pool/other/{other.id}", base_url=f"http://{practice.host}").json
        assert refused == {"refused": True}
        with single_connection_app.app_context(), db.engine.connect() as conn:
            # Between requests: the one connection is back to the application role, empty path.
            role, path = conn.execute(text("SELECT current_user, current_setting('search_path')")).one()
            assert not role.startswith("tenant_") and path == EMPTY_SCHEMA
    assert len(backends) == 1  # truly one connection throughout


def test_a_settings_change_reaches_the_cache_of_every_process(single_connection_app, make_practice):
    """The cache key holds the practice id and the row's version (xmin): a change committed by any
    process (here, a plain session standing in for another worker) is read on the next request,
    where the signed-in user's statement brings the new version."""
    a = make_practice(name="Cached Settings")
    owner = Visitor(single_connection_app, a.host)
    owner.login(a.owner_email)
    first = owner.get("/_pool/state").json
    assert owner.get("/_pool/state").json == first  # served from the cache now
    assert first["require_staff_mfa"] is False
    for change, check in (
        ("time_zone = 'Asia/Tokyo'", lambda r: r.json["time_zone"] == "Asia/Tokyo"),
        # The staff two-factor gate sees the change at once: the owner has no second factor yet.
        ("require_staff_mfa = true", lambda r: r.status_code == 302 and "security" in r.location),
    ):
        with single_connection_app.app_context(), practice_scope(a.record):
            db.session.execute(text(f"UPDATE practice_settings SET {change}"))
            db.session.commit()
        assert check(owner.get("/_pool/state")), change


def _count_statements(app):
    """Statements sent through cursors and pool checkouts, while the block runs."""
    from sqlalchemy import event

    counts = {"statements": [], "checkouts": 0}

    def statement(conn, cursor, sql, parameters, context, executemany):
        counts["statements"].append(sql)

    def checkout(dbapi_connection, record, proxy):
        counts["checkouts"] += 1

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine.pool, "checkout", checkout)

    def stop():
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine.pool, "checkout", checkout)

    return counts, stop


def test_a_staff_page_is_one_statement_and_a_static_file_none(single_connection_app, make_practice):
    """BEGIN and the role switch go in one round trip (not through a cursor); the user and the
    settings version in one statement; the two-factor gate's settings from the process cache; a
    static file on the practice's host, signed in, opens no transaction at all."""
    a = make_practice(name="Lean Request")
    owner = Visitor(single_connection_app, a.host)
    owner.login(a.owner_email)
    assert owner.get("/_pool/staff").status_code == 200  # warms the settings cache
    counts, stop = _count_statements(single_connection_app)
    try:
        assert owner.get("/_pool/staff").status_code == 200
        # (The test app caches no host lookup: practice_cache_seconds=0. Its registry read aside.)
        staff_statements = [sql for sql in counts["statements"] if "public.practices" not in sql]
        counts["statements"].clear()
        assert owner.get("/static/favicon.svg").status_code == 200
        static = [sql for sql in counts["statements"] if "public.practices" not in sql]
    finally:
        stop()
    assert len(staff_statements) == 1, staff_statements
    assert "settings_version" in staff_statements[0] and "SET LOCAL" not in staff_statements[0]
    assert static == []


def test_a_pooled_connection_is_recycled_after_its_uses_and_pinged_after_idleness(app):
    """PORTICO_DB_RECYCLE_USES bounds what one backend accumulates (each practice schema it touches
    stays in its catalog cache); a connection idle past PORTICO_DB_PING_IDLE_SECONDS is checked first,
    and one that died while idle is replaced rather than handed to a request."""
    import time

    from tenants.database import install_pool_hygiene

    engine = create_engine(
        app.config["SQLALCHEMY_DATABASE_URI"], pool_size=1, max_overflow=0, pool_pre_ping=False
    )
    install_pool_hygiene(engine, recycle_uses=3, ping_after_idle_seconds=0.2)
    try:

        def backend() -> int:
            with engine.connect() as conn:
                return conn.execute(text("SELECT pg_backend_pid()")).scalar_one()

        first = [backend() for _ in range(3)]
        fourth = backend()
        assert len(set(first)) == 1 and fourth != first[0]  # a fresh backend after three uses
        # Kill the backend while the connection is idle in the pool: the next checkout pings it,
        # finds it dead, and hands out a new connection instead of an error.
        with create_engine(app.config["SQLALCHEMY_DATABASE_URI"]).connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": fourth})
        time.sleep(0.3)
        assert backend() not in (fourth, first[0])
    finally:
        engine.dispose()
