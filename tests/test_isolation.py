"""Isolation between practices, enforced by the database and checked from the outside."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from app import create_app
from blueprints.auth.models import User
from tenants.context import NoPracticeBound, current_practice
from tenants.database import db, practice_scope
from tests.probes import practice_probe


def test_same_ids_in_two_practices_stay_apart(make_practice, visit, in_practice):
    a, b = make_practice(name="Alpha Clinic"), make_practice(name="Beta Clinic")
    for practice, other in ((a, b), (b, a)):
        owner = visit(practice)
        owner.login(practice.owner_email)
        page = owner.get("/").get_data(as_text=True)
        assert f"Owner of {practice.record.name}" in page
        assert other.record.name not in page and other.slug not in page
    # Both owners are user 1 of their own practice.
    for practice in (a, b):
        with in_practice(practice):
            assert db.session.scalars(select(User.id)).all() == [1]


def test_practice_query_without_a_practice_raises(app):
    with app.app_context():
        with pytest.raises(NoPracticeBound):
            db.session.get(User, 1)
        with pytest.raises(NoPracticeBound):
            db.session.execute(select(User)).all()
        with pytest.raises(NoPracticeBound):
            current_practice()


def test_unqualified_sql_finds_nothing_outside_a_practice(app):
    with app.app_context(), db.engine.connect() as conn:
        assert conn.execute(text("SHOW search_path")).scalar() == "portico_empty"
        with pytest.raises(DBAPIError, match="does not exist"):
            conn.execute(text("SELECT * FROM users"))


def test_another_practices_schema_is_refused_by_postgresql(app, make_practice):
    a, b = make_practice(), make_practice()
    with app.app_context(), practice_scope(a.record):
        with pytest.raises(DBAPIError, match="permission denied"):
            db.session.execute(text(f"SELECT * FROM tenant_{b.id}.users")).all()
    with app.app_context(), practice_scope(a.record):
        with pytest.raises(DBAPIError, match="permission denied"):
            db.session.execute(text("SELECT * FROM public.practices")).all()
    with app.app_context(), practice_scope(a.record):
        role, path = db.session.execute(text("SELECT current_user, current_setting('search_path')")).one()
        assert (role, path) == (f"tenant_{a.id}", f"tenant_{a.id}")


def test_session_cookie_from_one_practice_is_anonymous_at_another(app, make_practice, visit):
    a, b = make_practice(name="Cookie Source"), make_practice(name="Cookie Target")
    owner_a = visit(a)
    owner_a.login(a.owner_email)
    stolen = owner_a.session_cookie()
    assert stolen is not None and stolen.domain in (a.host, f".{a.host}", "")  # host-only

    thief = visit(b)
    thief.client.set_cookie(app.config["SESSION_COOKIE_NAME"], stolen.value, domain=b.host)
    page = thief.get("/").get_data(as_text=True)
    assert "Get started" not in page and "Log out" not in page
    assert "Cookie Source" not in page
    assert thief.post("/get-started", form_page="/login").status_code == 302  # to the login page


@pytest.fixture
def one_connection_app(app):
    """The same application with a pool of exactly one connection, plus two probe routes."""
    settings = app.config["PORTICO"]
    single = create_app(settings, db_url=app.config["SQLALCHEMY_DATABASE_URI"])
    probe = practice_probe("probe")

    single.register_blueprint(probe)
    with single.app_context():
        from sqlalchemy import create_engine

        engine = create_engine(
            single.config["SQLALCHEMY_DATABASE_URI"],
            pool_size=1,
            max_overflow=0,
            connect_args={"options": "-c search_path=portico_empty"},
        )
        db._app_engines[single][None] = engine
    return single


def test_pooled_connection_carries_nothing_into_the_next_request(one_connection_app, make_practice):
    a, b = make_practice(name="Pool Alpha"), make_practice(name="Pool Beta")
    client = one_connection_app.test_client()

    first = client.get("/_probe/state", base_url=f"http://{a.host}").json
    assert first["role"] == f"tenant_{a.id}" and first["users"] == ["Owner of Pool Alpha"]

    assert client.get("/_probe/boom", base_url=f"http://{a.host}").status_code == 500

    second = client.get("/_probe/state", base_url=f"http://{b.host}").json
    assert second["role"] == f"tenant_{b.id}"
    assert second["search_path"] == f"tenant_{b.id}"
    assert second["users"] == ["Owner of Pool Beta"]

    with one_connection_app.app_context():
        engine = db.engine
        assert engine.pool.size() == 1
        with engine.connect() as conn:  # the one pooled connection, back to the application role
            role, path = conn.execute(text("SELECT current_user, current_setting('search_path')")).one()
            assert not role.startswith("tenant_") and path == "portico_empty"
