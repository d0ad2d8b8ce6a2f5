"""Passwordless profile links and the step-up of a profile-link session, over HTTP."""

from __future__ import annotations

import hashlib
import re
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from blueprints.audit.models import AuditEvent
from blueprints.auth.service import find_user_by_email
from blueprints.people.models import Client
from blueprints.profile_links import service
from blueprints.profile_links.models import ProfileLink, StepUpCode
from tenants.database import db, practice_scope
from tenants.features import practice_settings

LINK = re.compile(r"http://([^/\s]+)(/l/[A-Za-z0-9_-]+)")
CODE = re.compile(r"verification code is ([0-9]{6})")
ANY_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
NEUTRAL = "This link cannot be used"


@pytest.fixture
def open_portal(in_practice):
    def turn_on(practice, **settings):
        with in_practice(practice):
            row = practice_settings()
            row.portal_enabled = True
            for name, value in settings.items():
                setattr(row, name, value)
            db.session.commit()

    return turn_on


@pytest.fixture
def setting(in_practice):
    def change(practice, **settings):
        with in_practice(practice):
            row = practice_settings()
            for name, value in settings.items():
                setattr(row, name, value)
            db.session.commit()

    return change


def staff_post(visitor, path: str, data: dict | None = None):
    """POST as logged-in staff, with the session's CSRF token (taken from any page that has one)."""
    token = ANY_CSRF.search(visitor.get("/").get_data(as_text=True)).group(1)
    return visitor.post(path, {**(data or {}), "csrf_token": token}, form_page=False)


def emailed_links(mailbox, address: str) -> list[str]:
    return [
        LINK.search(mailbox.body(m)).group(2) for m in mailbox.to(address) if LINK.search(mailbox.body(m))
    ]


@pytest.fixture
def issue_link(in_practice):
    """Create a link directly (as an automated email would); returns its path."""
    from blueprints.people.models import Client

    def issue(practice, client) -> str:
        with in_practice(practice):
            raw = service.create_link(db.session.get(Client, client.id))
            db.session.commit()
        return f"/l/{raw}"

    return issue


def follow_link(visitor, path: str):
    """Open a profile link like a person: the confirmation page, then its button."""
    page = visitor.get(path)
    assert page.status_code == 200, page.status_code
    return visitor.post(path, form_page=path)


def is_neutral(response) -> bool:
    return response.status_code == 404 and NEUTRAL in response.get_data(as_text=True)


def audit_events(in_practice, practice) -> list[AuditEvent]:
    with in_practice(practice):
        return list(db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)))


# ---------------------------------------------------------------------------------------------
# Links
# ---------------------------------------------------------------------------------------------


def test_staff_email_a_link_scanner_gets_consume_nothing_and_the_post_opens_appointments(
    make_practice, open_portal, make_staff, make_client, visit, mailbox, run_jobs, in_practice
):
    practice = make_practice(name="Harbour Therapy")
    open_portal(practice)
    clinician = make_staff(practice, "clinician")
    client = make_client(practice, first="Robin", email="robin@example.com", clinicians=(clinician,))
    staff = visit(practice)
    staff.login(clinician)

    response = staff_post(staff, f"/clients/{client.id}/profile-links")
    assert response.status_code == 302 and response.headers["Location"] == f"/clients/{client.id}"
    run_jobs()
    [message] = mailbox.to("robin@example.com")
    assert message["Subject"] == "Your link to the Harbour Therapy portal"
    host, path = LINK.search(mailbox.body(message)).groups()
    assert host == practice.host
    token = path.rsplit("/", 1)[1]
    assert len(token) >= 43  # 256 random bits
    with in_practice(practice):
        [link] = db.session.scalars(select(ProfileLink)).all()
        assert link.token_hash == hashlib.sha256(token.encode()).hexdigest() and token not in link.token_hash
        assert link.client_id == client.id and link.expires_at > datetime.now(UTC) + timedelta(days=13)

    person = visit(practice)
    for _ in range(2):  # a mail scanner, then the person: GETs use nothing up
        page = person.get(path)
        assert page.status_code == 200
        assert "Continue to Harbour Therapy portal" in page.get_data(as_text=True)
        assert page.headers["Referrer-Policy"] == "no-referrer"
    with in_practice(practice):
        assert db.session.scalars(select(ProfileLink)).one().used_at is None

    response = person.post(path, form_page=path)
    assert response.status_code == 302
    assert response.headers["Location"] == "/portal/appointments"
    assert token not in response.headers["Location"]
    assert response.headers["Referrer-Policy"] == "no-referrer"
    landing = person.get("/portal/appointments")
    assert landing.status_code == 200
    assert f"Record of <strong>{client.name}" in landing.get_data(as_text=True)

    # Used once: the same link now gets the neutral page, for a GET and a POST alike.
    assert is_neutral(visit(practice).get(path))
    assert is_neutral(person.post(path, form_page="/l/new-link"))

    events = audit_events(in_practice, practice)
    actions = [e.action for e in events]
    assert "sent a profile link" in actions and "opened a profile link" in actions
    assert all(token not in (e.detail or "") for e in events)


def test_staff_cannot_send_a_link_for_a_client_they_may_not_see(
    make_practice, open_portal, make_staff, make_client, visit, mailbox, run_jobs
):
    practice = make_practice()
    open_portal(practice)
    clinician = make_staff(practice, "clinician")
    stranger = make_client(practice, email="stranger@example.com")
    no_email = make_client(practice, clinicians=(clinician,))
    staff = visit(practice)
    staff.login(clinician)
    assert staff_post(staff, f"/clients/{stranger.id}/profile-links").status_code == 404
    assert staff_post(staff, "/clients/999999/profile-links").status_code == 404
    response = staff_post(staff, f"/clients/{no_email.id}/profile-links")
    assert response.status_code == 400
    assert "no email address on file" in response.get_data(as_text=True)
    assert (
        visit(practice).post(f"/clients/{stranger.id}/profile-links", form_page="/login").status_code == 302
    )
    run_jobs()
    assert mailbox.to("stranger@example.com") == []


def test_expired_revoked_malformed_and_archived_links_get_the_same_neutral_page(
    make_practice, open_portal, make_client, issue_link, visit, in_practice
):
    practice = make_practice()
    open_portal(practice)
    client = make_client(practice, email="pat@example.com")
    expired, revoked, archived_path = issue_link(practice, client), issue_link(practice, client), None
    with in_practice(practice):
        db.session.execute(
            update(ProfileLink)
            .where(ProfileLink.token_hash == hashlib.sha256(expired[3:].encode()).hexdigest())
            .values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
        staff = find_user_by_email(practice.owner_email)
        record = db.session.get(Client, client.id)
        service.revoke_link(staff, record, service.find_live_link(revoked[3:]).id)  # NotFound if not
        db.session.commit()
    archived = make_client(practice, email="gone@example.com")
    archived_path = issue_link(practice, archived)
    with in_practice(practice):
        db.session.get(Client, archived.id).status = "archived"
        db.session.commit()

    visitor = visit(practice)
    pages = []
    for path in (expired, revoked, archived_path, "/l/abc", "/l/" + "A" * 43, "/l/%3Cscript%3E"):
        response = visitor.get(path)
        assert is_neutral(response), path
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert "Email me a new link" in response.get_data(as_text=True)
        pages.append(ANY_CSRF.sub("", response.get_data(as_text=True)))
        assert is_neutral(visitor.post(path, form_page="/l/new-link"))
    assert len(set(pages)) == 1  # one page for every reason


def test_another_practices_token_gets_the_neutral_page_on_this_host_other_practice(
    make_practice, open_portal, make_client, issue_link, visit
):
    """Isolation: a link of the other practice (B) opened on practice A's host gets the same neutral page."""
    a, b = make_practice(), make_practice()
    open_portal(a)
    open_portal(b)
    make_client(a, email="a@example.com")
    b_client = make_client(b, first="Bea", email="bea@example.com")
    b_link = issue_link(b, b_client)
    at_a = visit(a)
    assert is_neutral(at_a.get(b_link))
    assert is_neutral(at_a.post(b_link, form_page="/l/new-link"))
    assert at_a.get("/portal/appointments").status_code == 302  # no session was started
    # The link still works at its own practice.
    assert follow_link(visit(b), b_link).headers["Location"] == "/portal/appointments"


def test_staff_revoke_one_link_and_all_links(
    make_practice, open_portal, make_staff, make_client, issue_link, visit, in_practice
):
    practice = make_practice()
    open_portal(practice)
    scheduler = make_staff(practice, "scheduler")
    client = make_client(practice, email="kim@example.com")
    other = make_client(practice, email="lee@example.com")
    first, second, third = (issue_link(practice, client) for _ in range(3))
    others_link = issue_link(practice, other)
    with in_practice(practice):
        first_id = service.find_live_link(first[3:]).id
        others_id = service.find_live_link(others_link[3:]).id

    staff = visit(practice)
    staff.login(scheduler)
    # A link id of another client, or one that does not exist, is not found for this client.
    assert staff_post(staff, f"/clients/{client.id}/profile-links/{others_id}/revoke").status_code == 404
    assert staff_post(staff, f"/clients/{client.id}/profile-links/999999/revoke").status_code == 404
    assert staff_post(staff, f"/clients/{client.id}/profile-links/{first_id}/revoke").status_code == 302
    assert staff_post(staff, f"/clients/{client.id}/profile-links/{first_id}/revoke").status_code == 404

    person = visit(practice)
    assert is_neutral(person.get(first))
    assert person.get(second).status_code == 200 and person.get(third).status_code == 200

    assert staff_post(staff, f"/clients/{client.id}/profile-links/revoke-all").status_code == 302
    assert is_neutral(person.get(second)) and is_neutral(person.get(third))
    assert person.get(others_link).status_code == 200  # another client's link is untouched

    events = [e for e in audit_events(in_practice, practice) if e.action == "revoked profile links"]
    assert len(events) == 2 and all(e.client_id == client.id for e in events)


def test_two_racing_uses_of_one_link_start_one_session(app, make_practice, make_client, issue_link):
    practice = make_practice()
    client = make_client(practice, email="race@example.com")
    token = issue_link(practice, client)[3:]
    barrier, results = threading.Barrier(2), []

    def use():
        with app.app_context(), practice_scope(practice.record):
            barrier.wait()
            results.append(service.consume_link(token) is not None)
            time.sleep(0.3)  # hold the row until the other use has tried too
            db.session.commit()

    workers = [threading.Thread(target=use) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(10)
    assert sorted(results) == [False, True]


def test_email_me_a_new_link_answers_alike_and_is_rate_limited(
    make_practice, open_portal, make_client, visit, mailbox, run_jobs
):
    practice = make_practice()
    open_portal(practice)
    make_client(practice, first="Noa", email="noa@example.com")
    visitor = visit(practice)
    form_page = "/l/" + "x" * 43  # the neutral page, where the form is

    known = visitor.post("/l/new-link", {"email": "NOA@example.com"}, form_page=form_page)
    unknown = visitor.post("/l/new-link", {"email": "nobody@example.com"}, form_page=form_page)
    assert known.status_code == unknown.status_code == 200
    assert known.get_data(as_text=True) == unknown.get_data(as_text=True)
    assert "If that address is on file" in known.get_data(as_text=True)
    assert known.headers["Referrer-Policy"] == "no-referrer"

    bad = visitor.post("/l/new-link", {"email": "not an address"}, form_page=form_page)
    assert bad.status_code == 400 and "Enter a valid email address." in bad.get_data(as_text=True)

    run_jobs()
    assert mailbox.to("nobody@example.com") == []
    [path] = emailed_links(mailbox, "noa@example.com")
    assert follow_link(visit(practice), path).headers["Location"] == "/portal/appointments"

    statuses = [
        visitor.post("/l/new-link", {"email": "nobody@example.com"}, form_page=form_page).status_code
        for _ in range(3)
    ]
    assert statuses == [200, 200, 429]
    assert "Too many attempts" in visitor.post(
        "/l/new-link", {"email": "x@example.com"}, form_page=form_page
    ).get_data(as_text=True)


def test_new_link_request_never_reaches_another_practices_client_other_practice(
    make_practice, open_portal, make_client, visit, mailbox, run_jobs
):
    """An address on file only at practice B gets nothing when asked for at practice A."""
    a, b = make_practice(), make_practice()
    open_portal(a)
    open_portal(b)
    make_client(b, email="only-at-b@example.com")
    response = visit(a).post("/l/new-link", {"email": "only-at-b@example.com"}, form_page="/l/new-link")
    assert response.status_code == 200
    run_jobs()
    assert mailbox.to("only-at-b@example.com") == []


def test_profile_links_off_means_404_everywhere_and_sessions_end(
    make_practice, open_portal, setting, make_staff, make_client, issue_link, visit
):
    practice = make_practice()
    open_portal(practice)
    admin = make_staff(practice, "admin")
    client = make_client(practice, email="off@example.com")
    path = issue_link(practice, client)
    person = visit(practice)
    follow_link(person, path)
    unused = issue_link(practice, client)
    assert person.get("/portal/appointments").status_code == 200

    setting(practice, profile_links_enabled=False)
    anyone = visit(practice)
    response = anyone.get(unused)
    assert response.status_code == 404 and NEUTRAL not in response.get_data(as_text=True)
    assert anyone.get("/l/new-link").status_code == 404
    assert anyone.get("/verify").status_code == 404
    assert person.get("/portal/appointments").status_code == 302  # the link session no longer counts
    staff = visit(practice)
    staff.login(admin)
    assert staff_post(staff, f"/clients/{client.id}/profile-links").status_code == 404
    assert staff_post(staff, f"/clients/{client.id}/profile-links/revoke-all").status_code == 404

    setting(practice, profile_links_enabled=True)  # data kept: the unused link works again
    assert anyone.get(unused).status_code == 200


def test_staff_panel_lists_live_links_and_hides_when_off(
    app, make_practice, open_portal, setting, make_staff, make_client, issue_link
):
    from flask import render_template_string
    from flask_login import login_user

    from blueprints.auth.service import find_user_by_email
    from blueprints.people.models import Client

    practice = make_practice()
    open_portal(practice)
    clinician = make_staff(practice, "clinician")
    mine = make_client(practice, email="mine@example.com", clinicians=(clinician,))
    theirs = make_client(practice, email="theirs@example.com")
    issue_link(practice, mine)
    issue_link(practice, mine)

    def panel(client_id: int) -> str:
        with app.test_request_context("/", base_url=f"http://{practice.host}"):
            app.preprocess_request()
            login_user(find_user_by_email(clinician))
            return render_template_string(
                '{% include "profile_links/_client_panel.html" ignore missing %}',
                client=db.session.get(Client, client_id),
            )

    html = panel(mine.id)
    assert "Email a profile link" in html and html.count(">Revoke</button>") == 2 and "Revoke all" in html
    assert panel(theirs.id).strip() == ""  # not assigned: nothing
    setting(practice, profile_links_enabled=False)
    assert panel(mine.id).strip() == ""


# ---------------------------------------------------------------------------------------------
# Step-up
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def link_session(make_practice, open_portal, make_client, issue_link, visit):
    """A practice, a client with an email (and optionally a login), and a visitor in a link session."""

    def make(login: bool = False, email: str = "sky@example.com"):
        practice = make_practice(name="Step Practice")
        open_portal(practice)
        client = make_client(practice, first="Sky", email=email, login=login)
        visitor = visit(practice)
        follow_link(visitor, issue_link(practice, client))
        return practice, client, visitor

    return make


def send_code(visitor, mailbox, run_jobs, address="sky@example.com") -> str:
    mailbox.clear()
    response = visitor.post("/verify/send-code", {"next": "/portal/messages"}, form_page="/verify")
    assert response.status_code == 302, response.status_code
    run_jobs()
    [message] = mailbox.to(address)
    return CODE.search(mailbox.body(message)).group(1)


def try_code(visitor, code: str):
    return visitor.post(
        "/verify", {"method": "code", "code": code, "next": "/portal/messages"}, form_page="/verify"
    )


def test_link_session_sees_appointments_but_messages_ask_for_a_step_up(link_session):
    _, _, visitor = link_session()
    assert visitor.get("/portal/appointments").status_code == 200
    response = visitor.get("/portal/messages")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/verify?next=/portal/messages")
    page = visitor.get("/verify?next=/portal/messages").get_data(as_text=True)
    assert "Email me a code" in page and "s***@example.com" in page
    assert "portal password" not in page  # no login of their own


def test_emailed_code_works_once(link_session, mailbox, run_jobs, issue_link, visit, in_practice):
    practice, client, visitor = link_session()
    code = send_code(visitor, mailbox, run_jobs)
    assert visitor.get("/portal/messages").status_code == 302  # sending alone unlocks nothing

    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    response = try_code(visitor, wrong)
    assert response.status_code == 400 and "That code is not right. 4 tries left." in response.get_data(
        as_text=True
    )
    response = try_code(visitor, "12ab")
    assert response.status_code == 400 and "The code has six digits." in response.get_data(as_text=True)

    response = try_code(visitor, code)
    assert response.status_code == 302 and response.headers["Location"] == "/portal/messages"
    assert visitor.get("/portal/messages").status_code == 200

    # Reused in another link session: refused.
    again = visit(practice)
    follow_link(again, issue_link(practice, client))
    response = try_code(again, code)
    assert response.status_code == 400 and "already used" in response.get_data(as_text=True)
    assert again.get("/portal/messages").status_code == 302

    events = audit_events(in_practice, practice)
    assert {"sent a step-up code", "failed to step up", "stepped up"} <= {e.action for e in events}
    assert all(code not in (e.detail or "") for e in events)


def test_forged_and_expired_codes_are_refused(link_session, mailbox, run_jobs, in_practice):
    practice, client, visitor = link_session()
    response = try_code(visitor, "123456")  # nothing was ever sent
    assert response.status_code == 400 and "That code is not valid" in response.get_data(as_text=True)

    code = send_code(visitor, mailbox, run_jobs)
    with in_practice(practice):
        db.session.execute(update(StepUpCode).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
        db.session.commit()
    response = try_code(visitor, code)
    assert response.status_code == 400 and "That code has expired" in response.get_data(as_text=True)
    assert visitor.get("/portal/messages").status_code == 302


def test_sixth_try_is_refused_even_with_the_right_code(link_session, mailbox, run_jobs):
    _, _, visitor = link_session()
    code = send_code(visitor, mailbox, run_jobs)
    wrong = f"{(int(code) + 7) % 1_000_000:06d}"
    for tries_left in (4, 3, 2, 1):
        assert f"{tries_left} tr" in try_code(visitor, wrong).get_data(as_text=True)
    assert "no longer works" in try_code(visitor, wrong).get_data(as_text=True)
    response = try_code(visitor, code)
    assert response.status_code == 400 and "no longer works" in response.get_data(as_text=True)
    assert visitor.get("/portal/messages").status_code == 302

    # A new code replaces the dead one, and the old code does not come back to life.
    fresh = send_code(visitor, mailbox, run_jobs)
    if fresh != code:
        assert try_code(visitor, code).status_code == 400
    assert try_code(visitor, fresh).status_code == 302


def test_a_new_code_ends_the_previous_one(link_session, mailbox, run_jobs):
    _, _, visitor = link_session()
    first = send_code(visitor, mailbox, run_jobs)
    second = send_code(visitor, mailbox, run_jobs)
    if first != second:
        assert try_code(visitor, first).status_code == 400
    assert try_code(visitor, second).status_code == 302


def test_sending_codes_is_rate_limited(link_session, mailbox, run_jobs):
    _, _, visitor = link_session()
    statuses = [
        visitor.post("/verify/send-code", {"next": "/portal/messages"}, form_page="/verify").status_code
        for _ in range(4)
    ]
    assert statuses == [302, 302, 302, 429]


def test_password_step_up(link_session):
    _, client, visitor = link_session(login=True)
    page = visitor.get("/verify?next=/portal/messages").get_data(as_text=True)
    assert "Your portal password" in page
    response = visitor.post(
        "/verify",
        {"method": "password", "password": "not-the-password", "next": "/portal/messages"},
        form_page="/verify",
    )
    assert response.status_code == 400 and "That password is not right." in response.get_data(as_text=True)
    assert visitor.get("/portal/messages").status_code == 302
    response = visitor.post(
        "/verify",
        {"method": "password", "password": "correct-horse-battery", "next": "/portal/messages"},
        form_page="/verify",
    )
    assert response.status_code == 302 and response.headers["Location"] == "/portal/messages"
    assert visitor.get("/portal/messages").status_code == 200


def test_step_up_goes_only_to_paths_on_this_host(link_session):
    _, _, visitor = link_session(login=True)
    response = visitor.post(
        "/verify",
        {"method": "password", "password": "correct-horse-battery", "next": "https://evil.example.com/"},
        form_page="/verify",
    )
    assert response.status_code == 302 and response.headers["Location"] == "/portal"


def test_verify_is_for_link_sessions_only(make_practice, open_portal, make_client, visit):
    practice = make_practice()
    open_portal(practice)
    make_client(practice, email="own@example.com", login=True)
    anonymous = visit(practice)
    assert anonymous.get("/verify").headers["Location"].startswith("/login")
    client = visit(practice)
    client.login("own@example.com")
    client.get("/portal/choose")
    response = client.get("/verify?next=/portal/messages")
    assert response.status_code == 302 and response.headers["Location"] == "/portal/messages"
