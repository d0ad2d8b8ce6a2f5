"""Refusals found by a security review: each bad input is a clear 4xx and changes nothing."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import select

from blueprints.auth.models import User
from blueprints.people.models import Client
from tenants.database import db
from tenants.features import practice_settings


@pytest.fixture
def portal_practice(make_practice, in_practice):
    practice = make_practice(name="Hardened Practice")
    with in_practice(practice):
        practice_settings().portal_enabled = True
        db.session.commit()
    return practice


def owner_of(visit, practice):
    owner = visit(practice)
    owner.login(practice.owner_email)
    return owner


def test_minors_get_no_profile_links(portal_practice, make_client, visit, in_practice, mailbox, run_jobs):
    teen = make_client(
        portal_practice,
        first="Teen",
        email=f"parent@{portal_practice.slug}.example.com",
        date_of_birth=date(date.today().year - 15, 1, 1),
    )
    owner = owner_of(visit, portal_practice)
    response = owner.post(f"/clients/{teen.id}/profile-links", form_page=f"/clients/{teen.id}")
    assert response.status_code in (302, 400)
    asked = visit(portal_practice).post("/l/new-link", {"email": teen.email}, form_page="/l/not-a-token")
    assert asked.status_code == 200
    run_jobs()
    assert [m for m in mailbox.to(teen.email) if "link" in m["Subject"].lower()] == []
    # A link made for a minor before this rule (or by hand) opens nothing.
    from blueprints.profile_links.service import create_link

    with in_practice(portal_practice):
        token = create_link(db.session.get(Client, teen.id))
        db.session.commit()
    holder = visit(portal_practice)
    holder.post(f"/l/{token}", form_page=f"/l/{token}")
    assert holder.get("/portal/appointments").status_code == 302  # to the login page


def test_logging_out_of_a_profile_link_session_ends_it_for_copied_cookies(
    app, portal_practice, make_client, visit, in_practice
):
    adult = make_client(portal_practice, first="Adult", email=f"adult@{portal_practice.slug}.example.com")
    from blueprints.profile_links.service import create_link

    with in_practice(portal_practice):
        token = create_link(db.session.get(Client, adult.id))
        db.session.commit()
    holder = visit(portal_practice)
    holder.post(f"/l/{token}", form_page=f"/l/{token}")
    assert holder.get("/portal/appointments").status_code == 200
    copied = holder.session_cookie().value
    holder.post("/logout", form_page="/portal/appointments")
    thief = visit(portal_practice)
    thief.client.set_cookie(app.config["SESSION_COOKIE_NAME"], copied, domain=portal_practice.host)
    assert thief.get("/portal/appointments").status_code == 302


@pytest.mark.parametrize(
    "path",
    [
        "/clients/99999999999999999999999",
        "/clients/99999999999999999999999/messages",
        "/calendar/appointments/99999999999999999999999",
        "/requests/99999999999999999999999",
        "/services/99999999999999999999999",
        "/staff/99999999999999999999999",
    ],
)
def test_ids_beyond_a_bigint_are_not_found(portal_practice, visit, path):
    assert owner_of(visit, portal_practice).get(path).status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/audit?page=999999999999999999999",
        "/audit?client=99999999999999999999999",
        "/requests?date_to=9999-12-31",
        "/calendar?date=9999-12-31",
        "/calendar?date=0001-01-01",
        "/clients?q=%00",
    ],
)
def test_out_of_range_filters_are_a_400_not_a_500(portal_practice, visit, path):
    assert owner_of(visit, portal_practice).get(path).status_code == 400


def test_nul_bytes_are_refused(portal_practice, visit):
    response = visit(portal_practice).post("/login", {"email": "a\x00b@example.com", "password": "x" * 12})
    assert response.status_code == 400


def test_an_older_reset_link_dies_when_the_password_changes(portal_practice, visit, in_practice):
    from blueprints.auth.service import PASSWORD_RESET, issue_token

    with in_practice(portal_practice):
        owner = db.session.scalars(select(User)).one()
        first, second = issue_token(owner, PASSWORD_RESET), issue_token(owner, PASSWORD_RESET)
        db.session.commit()
    visitor = visit(portal_practice)
    new = {"password": "first-new-password", "confirm": "first-new-password"}
    assert visitor.post(f"/reset-password/{first}", new).status_code == 302
    assert visitor.get(f"/reset-password/{second}").status_code == 410


@pytest.mark.parametrize("name", ["Evil\r\nBcc: x@example.com", "Tab\tName", "Nul\x01Name"])
def test_practice_names_are_single_lines(apex, portal_practice, visit, name):
    data = {
        "practice_name": name,
        "owner_name": "Eve",
        "email": "eve@example.com",
        "password": "a-long-enough-password",
        "subdomain": "line-break-test",
    }
    response = apex.post("/signup", data)
    assert response.status_code == 400 and "single line" in response.get_data(as_text=True)
    owner = owner_of(visit, portal_practice)
    page = owner.get("/settings").get_data(as_text=True)
    fields = dict(re.findall(r'name="([a-z_]+)"[^>]*value="([^"]*)"', page))
    fields.update(name=name)
    assert owner.post("/settings", fields).status_code == 400


def test_preview_ends_when_the_staff_member_loses_the_role(portal_practice, make_staff, visit, in_practice):
    email = make_staff(portal_practice, "scheduler")
    from blueprints.people.operations.access import create_client

    with in_practice(portal_practice):
        test_client = create_client("Test", "Client", is_test=True)
        db.session.commit()
        test_id = test_client.id
    scheduler = visit(portal_practice)
    scheduler.login(email)
    assert (
        scheduler.post("/settings/preview", {"client_id": test_id}, form_page="/settings/preview").status_code
        == 302
    )
    assert scheduler.get("/portal").status_code == 200
    with in_practice(portal_practice):
        from blueprints.auth.service import find_user_by_email

        find_user_by_email(email).role = "intern"
        db.session.commit()
    assert scheduler.get("/portal").status_code != 200


def test_one_account_is_throttled_across_addresses(portal_practice, visit):
    statuses = []
    for attempt in range(21):
        visitor = visit(portal_practice)
        visitor.client.environ_base["REMOTE_ADDR"] = f"10.9.0.{attempt + 1}"
        statuses.append(visitor.login(portal_practice.owner_email, "wrong-password-x").status_code)
    assert statuses[:20] == [400] * 20 and statuses[20] == 429
