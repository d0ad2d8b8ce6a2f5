"""Secure messaging over HTTP: who reads which thread (teens' privacy from guardians), staff replies and
their notifications (no message text, a working profile link), and who may open which conversation."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from blueprints.audit.models import AuditEvent
from blueprints.messaging.models import Message
from tenants.database import db
from tenants.features import practice_settings

LINK = re.compile(r"http://([^/\s]+)(/l/[A-Za-z0-9_-]+)")
ANY_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def years_ago(years: int) -> date:
    today = date.today()
    return today.replace(year=today.year - years) - timedelta(days=30)


def staff_post(visitor, path: str, data: dict | None = None):
    token = ANY_CSRF.search(visitor.get("/").get_data(as_text=True)).group(1)
    return visitor.post(path, {**(data or {}), "csrf_token": token}, form_page=False)


def set_settings(in_practice, practice, **settings):
    with in_practice(practice):
        row = practice_settings()
        for name, value in settings.items():
            setattr(row, name, value)
        db.session.commit()


def open_record(visitor, client_id: int):
    response = visitor.post(f"/portal/open/{client_id}", form_page="/portal/choose")
    assert response.status_code == 302, response.status_code


def any_csrf(visitor, page: str = "/portal") -> str:
    """The session's CSRF token, from any page that has a form (the layout's log-out button will do)."""
    return ANY_CSRF.search(visitor.get(page).get_data(as_text=True)).group(1)


def write(visitor, body: str):
    return visitor.post("/portal/messages", {"body": body, "csrf_token": any_csrf(visitor)}, form_page=False)


@dataclass
class Family:
    practice: object
    clinician: str
    teen: object
    child: object
    guardian: str


@pytest.fixture
def family(make_practice, make_staff, make_client, grant_portal, in_practice):
    """A guardian of a teen (15, with a login of their own) and of a child (8); their clinician."""

    def make(teen_messages: str = "default", child_messages: str = "default", **guardian_perms) -> Family:
        practice = make_practice(name="Family Practice")
        set_settings(in_practice, practice, portal_enabled=True)
        clinician = make_staff(practice, "clinician")
        teen = make_client(
            practice,
            first="Tess",
            date_of_birth=years_ago(15),
            email=f"tess@{practice.slug}.example.com",
            login=True,
            clinicians=(clinician,),
        )
        child = make_client(practice, first="Cody", date_of_birth=years_ago(8), clinicians=(clinician,))
        guardian = f"parent@{practice.slug}.example.com"
        grant_portal(practice, teen, guardian, minor_messages=teen_messages, **guardian_perms)
        grant_portal(practice, child, guardian, minor_messages=child_messages, **guardian_perms)
        return Family(practice, clinician, teen, child, guardian)

    return make


def test_a_teens_messages_are_hidden_from_the_guardian(family, visit, in_practice):
    fam = family()
    teen = visit(fam.practice)
    teen.login(fam.teen.email)
    teen.get("/portal/choose")
    assert write(teen, "I feel anxious about school").status_code == 302

    guardian = visit(fam.practice)
    guardian.login(fam.guardian)
    open_record(guardian, fam.teen.id)
    page = guardian.get("/portal/messages")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "anxious about school" not in html
    assert f"Your messages about {fam.teen.name.split()[0]}" in html
    assert write(guardian, "Tess will be late on Monday").status_code == 302

    # The teen sees their own conversation only, not what guardians write.
    html = teen.get("/portal/messages").get_data(as_text=True)
    assert "anxious about school" in html and "late on Monday" not in html

    with in_practice(fam.practice):
        threads = {m.body: m.thread for m in db.session.scalars(select(Message))}
        assert threads == {"I feel anxious about school": "client", "Tess will be late on Monday": "guardian"}
        details = [e.detail or "" for e in db.session.scalars(select(AuditEvent))]
        assert not any("anxious" in d or "late on" in d for d in details)

    staff = visit(fam.practice)
    staff.login(fam.clinician)
    html = staff.get(f"/clients/{fam.teen.id}/messages").get_data(as_text=True)
    assert "anxious about school" in html and "late on Monday" in html


def test_a_younger_childs_messages_are_visible_to_the_guardian(family, visit):
    fam = family()
    staff = visit(fam.practice)
    staff.login(fam.clinician)
    response = staff_post(
        staff, f"/clients/{fam.child.id}/messages", {"thread": "client", "body": "Hi Cody, see you Tuesday"}
    )
    assert response.status_code == 302

    guardian = visit(fam.practice)
    guardian.login(fam.guardian)
    open_record(guardian, fam.child.id)
    html = guardian.get("/portal/messages").get_data(as_text=True)
    assert "see you Tuesday" in html
    assert "Cody" in html and "own messages" in html
    assert write(guardian, "Thanks from Cody's parent").status_code == 302
    html = guardian.get("/portal/messages").get_data(as_text=True)
    assert "Thanks from Cody&#39;s parent" in html


@pytest.mark.parametrize(
    "teen_setting, child_setting, teen_visible, child_visible",
    [("allow", "default", True, True), ("default", "deny", False, False), ("deny", "allow", False, True)],
)
def test_minor_messages_allow_and_deny_are_honoured(
    family, visit, teen_setting, child_setting, teen_visible, child_visible
):
    fam = family(teen_messages=teen_setting, child_messages=child_setting)
    staff = visit(fam.practice)
    staff.login(fam.clinician)
    for minor, text in ((fam.teen, "note for the teen"), (fam.child, "note for the child")):
        staff_post(staff, f"/clients/{minor.id}/messages", {"thread": "client", "body": text})

    guardian = visit(fam.practice)
    guardian.login(fam.guardian)
    open_record(guardian, fam.teen.id)
    assert ("note for the teen" in guardian.get("/portal/messages").get_data(as_text=True)) is teen_visible
    open_record(guardian, fam.child.id)
    assert ("note for the child" in guardian.get("/portal/messages").get_data(as_text=True)) is child_visible


def test_a_minor_with_their_own_login_sees_only_their_own_record(family, visit):
    fam = family()
    staff = visit(fam.practice)
    staff.login(fam.clinician)
    staff_post(staff, f"/clients/{fam.child.id}/messages", {"thread": "client", "body": "for the sibling"})
    staff_post(staff, f"/clients/{fam.teen.id}/messages", {"thread": "guardian", "body": "for the parent"})

    teen = visit(fam.practice)
    teen.login(fam.teen.email)
    assert teen.get("/portal/choose").headers["Location"] == "/portal"  # one record: their own
    assert (
        teen.post(f"/portal/open/{fam.child.id}", {"csrf_token": any_csrf(teen)}, form_page=False).status_code
        == 404
    )
    html = teen.get("/portal/messages").get_data(as_text=True)
    assert "for the sibling" not in html and "for the parent" not in html and "Cody" not in html


def test_guardian_without_messaging_grant_has_no_messages(family, visit):
    fam = family(can_messages=False)
    guardian = visit(fam.practice)
    guardian.login(fam.guardian)
    open_record(guardian, fam.teen.id)
    assert guardian.get("/portal/messages").status_code == 403
    assert write(guardian, "hello").status_code == 403
    assert ">Messages</a>" not in guardian.get("/portal").get_data(as_text=True)
    # For the child they still see the child's own conversation, but cannot write for them.
    open_record(guardian, fam.child.id)
    page = guardian.get("/portal/messages")
    assert page.status_code == 200 and 'id="message-form"' not in page.get_data(as_text=True)
    assert write(guardian, "hello").status_code == 403


def test_staff_reply_emails_no_text_but_a_working_profile_link(
    make_practice, make_staff, make_client, visit, mailbox, run_jobs, in_practice
):
    practice = make_practice(name="Quiet Practice")
    set_settings(in_practice, practice, portal_enabled=True)
    clinician = make_staff(practice, "clinician", name="Dr Ada")
    client = make_client(practice, first="Morgan", email="morgan@example.com", clinicians=(clinician,))
    staff = visit(practice)
    staff.login(clinician)
    body = "Your results look fine, let us talk on Friday"
    response = staff_post(staff, f"/clients/{client.id}/messages", {"thread": "client", "body": body})
    assert response.status_code == 302
    assert "1 recipient" in staff.get(response.headers["Location"]).get_data(as_text=True)
    run_jobs()
    [message] = mailbox.to("morgan@example.com")
    text = mailbox.body(message)
    assert message["Subject"] == "You have a new message from Quiet Practice"
    assert "results" not in text and "Friday" not in text and "results" not in message["Subject"]
    host, path = LINK.search(text).groups()
    assert host == practice.host

    person = visit(practice)
    assert person.get(path).status_code == 200
    assert person.post(path, form_page=path).headers["Location"] == "/portal/appointments"
    assert person.get("/portal/messages").headers["Location"].startswith("/verify")
    with in_practice(practice):
        assert not any("Friday" in (e.detail or "") for e in db.session.scalars(select(AuditEvent)))


def test_staff_reply_in_the_guardian_thread_tells_guardians_who_may_message(
    family, grant_portal, visit, mailbox, run_jobs
):
    fam = family()
    other_parent = f"other@{fam.practice.slug}.example.com"
    grant_portal(fam.practice, fam.teen, other_parent, can_messages=False)
    staff = visit(fam.practice)
    staff.login(fam.clinician)
    response = staff_post(
        staff, f"/clients/{fam.teen.id}/messages", {"thread": "guardian", "body": "Please call the office"}
    )
    assert response.status_code == 302
    run_jobs()
    [message] = mailbox.to(fam.guardian)
    text = mailbox.body(message)
    assert "call the office" not in text
    assert mailbox.to(other_parent) == [] and mailbox.to(fam.teen.email) == []
    # The guardian's OWN link: it opens the guardian's session acting for the teen (never the teen's
    # record as the teen, with their private thread), and asks for the password before messages.
    host, path = LINK.search(text).groups()
    assert host == fam.practice.host
    person = visit(fam.practice)
    assert person.get(path).status_code == 200
    assert person.post(path, form_page=path).status_code == 302
    assert "You are acting for" in person.get("/portal").get_data(as_text=True)
    assert person.get("/portal/messages").headers["Location"].startswith("/verify")


def test_empty_and_overlong_messages_are_refused(family, visit, in_practice):
    fam = family()
    teen = visit(fam.practice)
    teen.login(fam.teen.email)
    teen.get("/portal/choose")
    response = write(teen, "   ")
    assert response.status_code == 400 and "Write a message first." in response.get_data(as_text=True)
    response = write(teen, "x" * 5001)
    assert response.status_code == 400 and "at most 5000 characters" in response.get_data(as_text=True)
    assert write(teen, "x" * 5000).status_code == 302
    staff = visit(fam.practice)
    staff.login(fam.clinician)
    response = staff_post(staff, f"/clients/{fam.teen.id}/messages", {"thread": "client", "body": ""})
    assert response.status_code == 400
    response = staff_post(staff, f"/clients/{fam.teen.id}/messages", {"thread": "nowhere", "body": "hi"})
    assert response.status_code == 400 and "Not a valid choice" in response.get_data(as_text=True)
    with in_practice(fam.practice):
        assert [len(m.body) for m in db.session.scalars(select(Message))] == [5000]


def test_preview_is_read_only(make_practice, make_client, visit, in_practice):
    practice = make_practice()
    set_settings(in_practice, practice, portal_enabled=True)
    test_client = make_client(practice, first="Test", email="test@example.com", is_test=True)
    owner = visit(practice)
    owner.login(practice.owner_email)
    with owner.client.session_transaction(base_url=owner.base_url) as session:
        session["preview_client_id"] = test_client.id
    assert owner.get("/portal/messages").status_code == 200
    token = ANY_CSRF.search(owner.get("/portal/messages").get_data(as_text=True)).group(1)
    response = owner.post("/portal/messages", {"body": "from preview", "csrf_token": token}, form_page=False)
    assert response.status_code == 403
    with in_practice(practice):
        assert db.session.scalars(select(Message)).all() == []


def test_clinicians_open_only_their_clients_conversations(
    make_practice, make_staff, make_client, visit, in_practice
):
    practice = make_practice()
    set_settings(in_practice, practice, portal_enabled=True)
    clinician, intern, scheduler = (
        make_staff(practice, role) for role in ("clinician", "intern", "scheduler")
    )
    mine = make_client(practice, clinicians=(clinician,))
    theirs = make_client(practice)

    staff = visit(practice)
    staff.login(clinician)
    assert staff.get(f"/clients/{mine.id}/messages").status_code == 200
    assert staff.get(f"/clients/{theirs.id}/messages").status_code == 404
    response = staff_post(staff, f"/clients/{theirs.id}/messages", {"thread": "client", "body": "x"})
    assert response.status_code == 404
    assert staff.get("/clients/999999/messages").status_code == 404
    other = visit(practice)
    other.login(intern)
    assert other.get(f"/clients/{mine.id}/messages").status_code == 404
    desk = visit(practice)
    desk.login(scheduler)
    assert desk.get(f"/clients/{theirs.id}/messages").status_code == 200
    assert visit(practice).get(f"/clients/{mine.id}/messages").headers["Location"].startswith("/login")
    with in_practice(practice):
        assert db.session.scalars(select(Message)).all() == []


def test_other_practice_ids_and_messages_never_show(make_practice, make_client, visit, in_practice):
    """Isolation: A's staff asking for the other practice's client ids get 404; nothing of B shows in A."""
    a, b = make_practice(), make_practice()
    for practice in (a, b):
        set_settings(in_practice, practice, portal_enabled=True)
    a_client = make_client(a, first="Ann")
    b_clients = [make_client(b, first=f"Bob{i}") for i in range(3)]
    b_staff = visit(b)
    b_staff.login(b.owner_email)
    for b_client in b_clients:
        staff_post(b_staff, f"/clients/{b_client.id}/messages", {"thread": "client", "body": "secret of B"})

    a_staff = visit(a)
    a_staff.login(a.owner_email)
    assert a_staff.get(f"/clients/{b_clients[-1].id}/messages").status_code == 404
    response = staff_post(a_staff, f"/clients/{b_clients[-1].id}/messages", {"thread": "client", "body": "x"})
    assert response.status_code == 404
    html = a_staff.get(f"/clients/{a_client.id}/messages").get_data(as_text=True)
    assert "secret of B" not in html and "Bob" not in html
    assert b_staff.get(f"/clients/{b_clients[0].id}/messages").status_code == 200
    with in_practice(a):
        assert db.session.scalars(select(Message)).all() == []


def test_messaging_off_means_404_and_no_nav_and_data_kept(family, visit, in_practice):
    fam = family()
    teen = visit(fam.practice)
    teen.login(fam.teen.email)
    teen.get("/portal/choose")
    assert ">Messages</a>" in teen.get("/portal").get_data(as_text=True)
    write(teen, "kept while off")
    staff = visit(fam.practice)
    staff.login(fam.clinician)

    set_settings(in_practice, fam.practice, messaging_enabled=False)
    assert teen.get("/portal/messages").status_code == 404
    token = ANY_CSRF.search(teen.get("/portal").get_data(as_text=True)).group(1)
    assert (
        teen.post("/portal/messages", {"body": "more", "csrf_token": token}, form_page=False).status_code
        == 404
    )
    assert ">Messages</a>" not in teen.get("/portal").get_data(as_text=True)
    assert staff.get(f"/clients/{fam.teen.id}/messages").status_code == 404

    set_settings(in_practice, fam.practice, messaging_enabled=True)
    assert "kept while off" in teen.get("/portal/messages").get_data(as_text=True)


def test_staff_messages_panel(app, family):
    from flask import render_template_string
    from flask_login import login_user

    from blueprints.auth.service import find_user_by_email
    from blueprints.people.models import Client

    fam = family()
    with app.test_request_context("/", base_url=f"http://{fam.practice.host}"):
        app.preprocess_request()
        login_user(find_user_by_email(fam.clinician))
        html = render_template_string(
            '{% include "messaging/_client_panel.html" ignore missing %}',
            client=db.session.get(Client, fam.teen.id),
        )
    assert "Open messages" in html and f"/clients/{fam.teen.id}/messages" in html
