"""Signup on the apex host: the form's rules, the hand-off to the new host, races and leftovers."""

from __future__ import annotations

import threading
import uuid
from urllib.parse import urlsplit

import psycopg
import pytest

from app.embedded_db import libpq_url


def signup_data(**overrides):
    fresh = f"s-{uuid.uuid4().hex[:8]}"
    slug = overrides.pop("subdomain") if "subdomain" in overrides else fresh
    data = {
        "practice_name": "Riverside Counselling",
        "owner_name": "Rita River",
        "email": f"rita@{fresh}.example.com",
        "password": "a-long-enough-password",
        "subdomain": slug,
    }
    data.update(overrides)
    return data


def practice_rows(app, slug):
    with psycopg.connect(libpq_url(app.config["SQLALCHEMY_DATABASE_URI"])) as conn:
        return conn.execute("SELECT id FROM public.practices WHERE lower(slug) = %s", (slug,)).fetchall()


def leftovers(app, practice_id):
    with psycopg.connect(libpq_url(app.config["SQLALCHEMY_DATABASE_URI"])) as conn:
        schema = conn.execute(
            "SELECT 1 FROM pg_namespace WHERE nspname = %s", (f"tenant_{practice_id}",)
        ).fetchone()
        role = conn.execute(
            "SELECT 1 FROM pg_roles WHERE rolname = %s", (f"tenant_{practice_id}",)
        ).fetchone()
        row = conn.execute("SELECT 1 FROM public.practices WHERE id = %s", (practice_id,)).fetchone()
    return [name for name, found in (("schema", schema), ("role", role), ("row", row)) if found]


def test_signup_hands_the_owner_over_logged_in(app, apex, visit):
    data = signup_data(practice_name="Harbour Light Therapy")
    response = apex.post("/signup", data)
    assert response.status_code == 303
    target = urlsplit(response.headers["Location"])
    assert target.netloc == f"{data['subdomain']}.localhost"
    assert target.path == "/auth/handoff"

    owner = visit(target.netloc)
    landed = owner.get(f"{target.path}?{target.query}")
    assert landed.status_code == 302 and landed.headers["Location"] == "/"  # the token leaves the URL
    home = owner.get("/").get_data(as_text=True)
    assert "Harbour Light Therapy" in home
    assert f"{data['subdomain']}.localhost" in home
    assert "Get started" in home

    # The hand-off token is single use.
    assert visit(target.netloc).get(f"{target.path}?{target.query}").status_code == 400


def test_handoff_token_is_bound_to_its_practice(app, apex, visit, make_practice):
    other = make_practice()
    response = apex.post("/signup", signup_data())
    target = urlsplit(response.headers["Location"])
    assert visit(other).get(f"{target.path}?{target.query}").status_code == 400


def test_portal_is_closed_until_the_owner_gets_started(app, apex, visit):
    data = signup_data(practice_name="Closed Until Ready")
    target = urlsplit(apex.post("/signup", data).headers["Location"])
    stranger = visit(target.netloc)
    assert "not open yet" in stranger.get("/").get_data(as_text=True)

    owner = visit(target.netloc)
    owner.get(f"{target.path}?{target.query}")
    response = owner.post("/get-started", form_page="/")
    assert response.status_code == 302
    assert "client portal is open" in owner.get("/").get_data(as_text=True)
    assert "Welcome to Closed Until Ready" in stranger.get("/").get_data(as_text=True)


def test_get_started_needs_a_staff_login(app, visit, make_practice):
    practice = make_practice()
    stranger = visit(practice)
    response = stranger.post("/get-started", form_page="/login")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert "not open yet" in stranger.get("/").get_data(as_text=True)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("subdomain", "ab", "3 to 40"),
        ("subdomain", "Bad--Name", "two hyphens"),
        ("subdomain", "admin", "reserved"),
        ("subdomain", "xn--acme", "reserved"),
        ("subdomain", "9lives", "starting with a letter"),
        ("subdomain", "", "This field is required"),
        ("password", "short", "Use at least 10 characters"),
        ("email", "not-an-email", "Invalid email"),
        ("practice_name", "", "This field is required"),
        ("owner_name", "", "This field is required"),
    ],
)
def test_bad_input_rerenders_the_form_and_creates_nothing(app, apex, field, value, message):
    data = signup_data(**{field: value})
    response = apex.post("/signup", data)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page
    assert 'name="practice_name"' in page  # the form again, with what was typed
    if field != "subdomain":
        assert practice_rows(app, data["subdomain"]) == []


def test_taken_address_is_refused_case_insensitively(app, apex, make_practice):
    practice = make_practice()
    response = apex.post("/signup", signup_data(subdomain=practice.slug.upper()))
    assert response.status_code == 400
    assert "already taken" in response.get_data(as_text=True)
    assert len(practice_rows(app, practice.slug)) == 1


def test_live_address_check(apex, make_practice):
    practice = make_practice()
    assert apex.get("/signup/check?subdomain=fresh-address-x").json["available"] is True
    taken = apex.get(f"/signup/check?subdomain={practice.slug}").json
    assert taken == {"available": False, "message": "That address is already taken. Please choose another."}
    assert "reserved" in apex.get("/signup/check?subdomain=support").json["message"]


def test_signup_pages_exist_only_on_the_apex(visit, make_practice):
    practice = make_practice()
    assert visit(practice).get("/signup").status_code == 404
    assert visit(practice).get("/signup/check?subdomain=abc").status_code == 404


def test_signup_without_csrf_token_is_refused(app, apex):
    data = signup_data()
    response = apex.post("/signup", data, form_page=False)
    assert response.status_code == 400
    assert practice_rows(app, data["subdomain"]) == []


def test_two_simultaneous_signups_for_one_address_exactly_one_wins(app, visit):
    slug = f"race-{uuid.uuid4().hex[:6]}"
    visitors = [visit("localhost") for _ in range(2)]
    prepared = [(v, {**signup_data(subdomain=slug), "csrf_token": v.csrf_token("/signup")}) for v in visitors]
    barrier = threading.Barrier(len(prepared))
    statuses = []

    def attempt(visitor, data):
        barrier.wait()
        statuses.append(visitor.post("/signup", data).status_code)

    threads = [threading.Thread(target=attempt, args=pair) for pair in prepared]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [303, 400]
    assert len(practice_rows(app, slug)) == 1


def test_failed_signup_leaves_no_schema_role_or_row(app, apex, monkeypatch):
    from blueprints.signup import service

    created = {}

    def failing_create_user(*args, **kwargs):
        from tenants.context import current_practice

        created["id"] = current_practice().id
        raise RuntimeError("disk full")

    monkeypatch.setattr(service, "create_user", failing_create_user)
    data = signup_data()
    response = apex.post("/signup", data)
    assert response.status_code == 500
    assert "Nothing was changed" in response.get_data(as_text=True)
    assert leftovers(app, created["id"]) == []
    assert practice_rows(app, data["subdomain"]) == []


# --- "Find my practice / Log in" on the apex page ----------------------------------------------------


def test_the_apex_page_offers_find_my_practice(apex):
    page = apex.get("/").get_data(as_text=True)
    assert "Find my practice / Log in" in page and 'action="/find"' in page
    assert "Onboarding" not in page and "documents" not in page  # nothing Portico does not do yet


@pytest.mark.parametrize(
    "typed",
    [
        "{slug}",
        "  {SLUG}  ",
        "{slug}.localhost",
        "{slug}.localhost:5000",
        "http://{slug}.localhost:5000/login?next=/portal",
        "https://{slug}.localhost/",
        "{slug}.localhost/some/page",
    ],
)
def test_find_my_practice_goes_to_its_login_page(apex, make_practice, typed):
    practice = make_practice()
    address = typed.format(slug=practice.slug, SLUG=practice.slug.upper())
    response = apex.get("/find", query_string={"address": address})
    assert response.status_code == 303
    assert response.headers["Location"] == f"http://{practice.slug}.localhost/login"


def test_find_my_practice_follows_a_renamed_address(app, apex, make_practice):
    from tenants.registry import rename_practice

    practice = make_practice()
    new_slug = f"renamed-{practice.slug}"
    with app.app_context():
        rename_practice(practice.slug, new_slug)
    response = apex.get("/find", query_string={"address": practice.slug})
    assert (
        response.status_code == 303 and response.headers["Location"] == f"http://{new_slug}.localhost/login"
    )


def test_find_my_practice_names_no_practice_and_hides_suspended_ones(app, apex, make_practice):
    from tenants.registry import set_status

    other = make_practice(name="Quiet Neighbour Practice")
    suspended, deleted = make_practice(name="Suspended Practice"), make_practice(name="Deleted Practice")
    with app.app_context():
        set_status(suspended.slug, "suspended")
        set_status(deleted.slug, "deleted")
    answers = {}
    for typed in ("no-such-practice", suspended.slug, deleted.slug, "acme.example.com", "http://", "a b"):
        response = apex.get("/find", query_string={"address": typed})
        page = response.get_data(as_text=True)
        assert response.status_code == 400, typed
        message = "We could not find a practice portal at that address."
        assert message in page and "Find my practice / Log in" in page, typed
        for named in (other, suspended, deleted):
            assert named.record.name not in page
        answers[typed] = page.replace(typed, "")
    # A suspended or deleted practice gets the very same answer as an unknown address.
    assert answers[suspended.slug] == answers["no-such-practice"] == answers[deleted.slug]
    blank = apex.get("/find", query_string={"address": " "})
    assert blank.status_code == 400 and "Enter your practice&#39;s portal address." in blank.get_data(
        as_text=True
    )


def test_find_my_practice_is_on_the_apex_only(visit, make_practice):
    practice = make_practice()
    assert visit(practice).get("/find", query_string={"address": practice.slug}).status_code == 404


def test_the_practice_welcome_page_claims_only_what_exists(app, visit, make_practice, in_practice):
    from tenants.database import db
    from tenants.features import practice_settings

    practice = make_practice()
    with in_practice(practice):
        practice_settings().portal_enabled = True
        db.session.commit()
    page = visit(practice).get("/").get_data(as_text=True)
    assert "Log in to see your appointments and messages." in page
    assert "forms" not in page and "documents" not in page
