"""The audit log: what logging in records, the owner's page, its filters, and append-only storage."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.exc import DBAPIError

from blueprints.audit.models import AuditEvent
from blueprints.audit.service import record
from blueprints.auth.models import User
from blueprints.auth.service import find_user_by_email
from tenants.database import db

WRONG_PASSWORD = "definitely-not-it"


def events_of(in_practice, practice, action: str | None = None) -> list[AuditEvent]:
    with in_practice(practice):
        query = select(AuditEvent).order_by(AuditEvent.id)
        if action:
            query = query.where(AuditEvent.action == action)
        found = db.session.scalars(query).all()
        db.session.expunge_all()
        return found


def user_id(in_practice, practice, email: str) -> int:
    with in_practice(practice):
        return find_user_by_email(email).id


def add_events(in_practice, practice, count: int, **fields) -> None:
    with in_practice(practice):
        for number in range(count):
            record(f"test event {number}", **{"actor_kind": "system", **fields})
        db.session.commit()


def rows(html: str) -> list[str]:
    return re.findall(r'<tr class="audit-event">(.*?)</tr>', html, re.S)


def test_logins_and_failed_logins_are_recorded_without_email_or_password(
    make_practice, make_staff, visit, in_practice
):
    practice = make_practice()
    clinician = make_staff(practice, "clinician")
    visit(practice).login(clinician, WRONG_PASSWORD)
    visit(practice).login("stranger@example.com", WRONG_PASSWORD)
    visit(practice).login(clinician)

    failed = events_of(in_practice, practice, "login failed")
    clinician_id = user_id(in_practice, practice, clinician)
    assert [(e.actor_kind, e.actor_user_id) for e in failed] == [("staff", clinician_id), ("anonymous", None)]
    [logged_in] = events_of(in_practice, practice, "logged in")
    assert (logged_in.actor_kind, logged_in.actor_user_id) == ("staff", clinician_id)
    assert logged_in.ip_address == "127.0.0.1"
    for event in events_of(in_practice, practice):
        text = " ".join(str(value) for value in vars(event).values())
        assert clinician not in text and "stranger@example.com" not in text
        assert WRONG_PASSWORD not in text and "correct-horse-battery" not in text


def test_only_owners_see_the_audit_log(make_practice, make_staff, make_client, visit):
    practice = make_practice()
    owner = visit(practice)
    owner.login(practice.owner_email)
    assert owner.get("/audit").status_code == 200
    for role in ("admin", "scheduler", "clinician", "intern"):
        staff = visit(practice)
        staff.login(make_staff(practice, role))
        assert staff.get("/audit").status_code == 403, role
        assert ">Audit log</a>" not in staff.get("/").get_data(as_text=True)
    client = make_client(practice, email=f"client@{practice.slug}.example.com", login=True)
    person = visit(practice)
    person.login(client.email)
    assert person.get("/audit").status_code == 403
    assert visit(practice).get("/audit").status_code == 302  # to the login page


def test_the_log_lists_newest_first_and_filters_by_person_and_client(
    make_practice, make_staff, make_client, visit, in_practice
):
    practice = make_practice()
    clinician = make_staff(practice, "clinician", name="Dana Clinician")
    client = make_client(practice, first="Jordan", last="Example")
    clinician_id = user_id(in_practice, practice, clinician)
    visit(practice).login(clinician)
    add_events(
        in_practice,
        practice,
        1,
        actor_kind="staff",
        actor_user_id=clinician_id,
        actor_name="Dana Clinician",
        client_id=client.id,
    )
    owner = visit(practice)
    owner.login(practice.owner_email)

    page = owner.get("/audit").get_data(as_text=True)
    actions = [re.search(r'<td data-label="What">([^<]+)</td>', row).group(1) for row in rows(page)]
    assert actions == ["logged in", "test event 0", "logged in"]  # newest first
    assert "Dana Clinician (staff)" in page  # people in the log are offered as a filter

    by_person = owner.get(f"/audit?person={clinician_id}").get_data(as_text=True)
    assert len(rows(by_person)) == 2 and all("Dana Clinician" in row for row in rows(by_person))
    owner_id = user_id(in_practice, practice, practice.owner_email)
    assert len(rows(owner.get(f"/audit?person={owner_id}").get_data(as_text=True))) == 1

    by_client = owner.get(f"/audit?client={client.id}").get_data(as_text=True)
    [row] = rows(by_client)
    assert "test event 0" in row and "Jordan Example" in row
    assert rows(owner.get(f"/audit?client={client.id + 100}").get_data(as_text=True)) == []
    assert "No events match these filters." in owner.get(f"/audit?client={client.id + 100}").get_data(
        as_text=True
    )


@pytest.mark.parametrize("query", ["client=abc", "client=0", "person=someone", "page=0", "page=x"])
def test_bad_filters_are_refused_with_a_message(make_practice, visit, query):
    practice = make_practice()
    owner = visit(practice)
    owner.login(practice.owner_email)
    response = owner.get(f"/audit?{query}")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'id="filter-errors"' in page and rows(page) == []


def test_the_log_is_paginated_fifty_per_page(make_practice, visit, in_practice):
    practice = make_practice()
    add_events(in_practice, practice, 119)
    owner = visit(practice)
    owner.login(practice.owner_email)  # the 120th event
    first = owner.get("/audit").get_data(as_text=True)
    assert len(rows(first)) == 50 and "page 1 of 3" in first
    assert "logged in" in rows(first)[0] and 'id="newer-page"' not in first
    assert 'href="/audit?page=2"' in first
    second = owner.get("/audit?page=2").get_data(as_text=True)
    assert len(rows(second)) == 50 and "test event 69<" in rows(second)[0]
    third = owner.get("/audit?page=3").get_data(as_text=True)
    assert len(rows(third)) == 20 and "test event 0<" in rows(third)[-1]
    assert 'id="older-page"' not in third and 'href="/audit?page=2"' in third
    assert rows(owner.get("/audit?page=4").get_data(as_text=True)) == []


def test_filters_carry_over_to_the_next_page(make_practice, visit, in_practice):
    practice = make_practice()
    add_events(in_practice, practice, 60, client_id=7)
    add_events(in_practice, practice, 5, client_id=8)
    owner = visit(practice)
    owner.login(practice.owner_email)
    first = owner.get("/audit?client=7").get_data(as_text=True)
    assert len(rows(first)) == 50 and 'href="/audit?client=7&amp;page=2"' in first
    assert len(rows(owner.get("/audit?client=7&page=2").get_data(as_text=True))) == 10


def test_the_audit_table_refuses_update_and_delete(make_practice, in_practice):
    practice = make_practice()
    add_events(in_practice, practice, 1)
    with in_practice(practice):
        with pytest.raises(DBAPIError, match="append-only"):
            db.session.execute(update(AuditEvent).values(detail="rewritten"))
    with in_practice(practice):
        with pytest.raises(DBAPIError, match="append-only"):
            db.session.execute(delete(AuditEvent))
    [event] = events_of(in_practice, practice)
    assert event.action == "test event 0" and event.detail is None


def test_audit_page_shows_nothing_of_another_practice(make_practice, make_client, visit, in_practice):
    """Other practice: A's audit log holds none of B's events, people or clients."""
    a = make_practice(name="Alpha Audit")
    b = make_practice(name="Beta Audit")
    b_client = make_client(b, first="Bertha", last="Beta")
    add_events(in_practice, b, 3, actor_kind="staff", actor_name="Beta Staffer", client_id=b_client.id)
    visit(b).login(b.owner_email)
    visit(b).login(b.owner_email, WRONG_PASSWORD)

    owner = visit(a)
    owner.login(a.owner_email)
    page = owner.get("/audit").get_data(as_text=True)
    assert len(rows(page)) == 1  # A's owner logging in, nothing else
    for text in ("Beta Staffer", "Owner of Beta Audit", "Bertha", "test event", "login failed"):
        assert text not in page
    assert rows(owner.get(f"/audit?client={b_client.id}").get_data(as_text=True)) == []
    with in_practice(a):
        assert db.session.scalars(select(User.name)).all() == ["Owner of Alpha Audit"]
