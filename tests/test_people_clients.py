"""Clients over HTTP: records, search, who sees which client, assignments, portal invitations."""

from __future__ import annotations

import re
from datetime import date, timedelta

from sqlalchemy import select

from blueprints.audit.models import AuditEvent
from blueprints.auth.service import find_user_by_email
from blueprints.people.models import Client, PortalAccess
from tenants.database import db
from tenants.features import practice_settings
from tests.conftest import sent_by

ACTIVATION_LINK = re.compile(r"http://([^/\s]+)(/activate/[A-Za-z0-9_-]+)")
NEW_PASSWORD = "a-fresh-password-123"


def mail_of(mailbox, practice) -> list:
    """The emails this practice sent (other tests' queued jobs may deliver in the same run)."""
    return [m for m in mailbox.messages if sent_by(m, practice)]


def logged_in(visit, practice, email):
    visitor = visit(practice)
    assert visitor.login(email).status_code == 302
    return visitor


def configure(in_practice, practice, **settings):
    with in_practice(practice):
        row = practice_settings()
        for name, value in settings.items():
            setattr(row, name, value)
        db.session.commit()


def client_row(in_practice, practice, client_id):
    with in_practice(practice):
        client = db.session.get(Client, client_id)
        db.session.expunge(client)
        return client


def audit_actions(in_practice, practice, client_id=None) -> list[str]:
    with in_practice(practice):
        query = select(AuditEvent.action).order_by(AuditEvent.id)
        if client_id is not None:
            query = query.where(AuditEvent.client_id == client_id)
        return list(db.session.scalars(query))


def new_client(staff, **fields):
    data = {"first_name": "Robin", "last_name": "Example"} | fields
    return staff.post("/clients/new", data)


def test_staff_add_and_edit_a_client_with_the_sections_the_practice_asks_for(
    make_practice, visit, in_practice
):
    practice = make_practice()
    owner = logged_in(visit, practice, practice.owner_email)
    form = owner.get("/clients/new").get_data(as_text=True)
    assert 'id="section-contact"' in form and 'id="section-demographics"' in form
    assert 'id="section-insurance"' not in form and 'id="section-emergency"' not in form

    response = new_client(
        owner,
        first_name="Robin",
        last_name="Hart",
        preferred_name="Rob",
        date_of_birth="1990-04-02",
        email="robin@example.org",
        phone="+44 20 7946 0000",
        address="1 High Street",
        time_zone="Europe/London",
        insurance_provider="ignored, not asked",
    )
    assert response.status_code == 302
    client_id = int(response.headers["Location"].rsplit("/", 1)[1])
    page = owner.get(f"/clients/{client_id}").get_data(as_text=True)
    assert (
        "Robin Hart" in page and "(Rob)" in page and "robin@example.org" in page and "Europe/London" in page
    )
    assert client_row(in_practice, practice, client_id).insurance_provider is None

    configure(in_practice, practice, ask_insurance=True, ask_emergency_contact=True, ask_contact=False)
    form = owner.get(f"/clients/{client_id}/edit").get_data(as_text=True)
    assert 'id="section-insurance"' in form and 'id="section-emergency"' in form
    assert 'id="section-contact"' not in form and 'value="Hart"' in form
    response = owner.post(
        f"/clients/{client_id}/edit",
        {
            "first_name": "Robin",
            "last_name": "Hart-Jones",
            "preferred_name": "",
            "date_of_birth": "1990-04-02",
            "insurance_provider": "Acme Health",
            "insurance_member_id": "AH-1",
            "emergency_contact_name": "Pat Hart",
            "emergency_contact_phone": "020 7946 0001",
        },
    )
    assert response.status_code == 302
    saved = client_row(in_practice, practice, client_id)
    assert (saved.last_name, saved.insurance_provider, saved.emergency_contact_name) == (
        "Hart-Jones",
        "Acme Health",
        "Pat Hart",
    )
    assert saved.email == "robin@example.org"  # a section no longer asked keeps its data
    assert saved.preferred_name is None  # emptied on purpose
    assert {"created client record", "edited client record"} <= set(audit_actions(in_practice, practice))


def test_wrong_client_data_is_refused_with_a_message(make_practice, make_client, visit, in_practice):
    practice = make_practice()
    owner = logged_in(visit, practice, practice.owner_email)
    cases = [
        ({"last_name": ""}, "Enter the last name."),
        ({"time_zone": "Mars/Olympus_Mons"}, "Choose a time zone from the list"),
        (
            {"date_of_birth": (date.today() + timedelta(days=1)).isoformat()},
            "Enter a date of birth in the past",
        ),
        ({"email": "not an email"}, "Enter a valid email address."),
        ({"phone": "call me maybe"}, "Use digits, spaces and + ( ) - only."),
    ]
    for fields, message in cases:
        response = new_client(owner, **fields)
        assert response.status_code == 400, fields
        assert message in response.get_data(as_text=True)
    with in_practice(practice):
        assert db.session.scalars(select(Client)).all() == []

    existing = make_client(practice, first="Kept", last="Same", time_zone="UTC")
    response = owner.post(
        f"/clients/{existing.id}/edit", {"first_name": "Kept", "last_name": "Same", "time_zone": "Nowhere"}
    )
    assert response.status_code == 400
    assert client_row(in_practice, practice, existing.id).time_zone == "UTC"


def test_client_search_and_status_filter(make_practice, make_client, visit):
    practice = make_practice()
    alex = make_client(
        practice, first="Alexandra", last="Smith", preferred_name="Sasha", email="A.Smith@Mail.org"
    )
    jo = make_client(practice, first="Jo", last="Brown", email="jo@example.org")
    gone = make_client(practice, first="Alexis", last="Archived", status="archived")
    owner = logged_in(visit, practice, practice.owner_email)

    def names(query="", status=None):
        params = {"q": query} | ({"status": status} if status else {})
        page = owner.get("/clients", query_string=params).get_data(as_text=True)
        return {c.name for c in (alex, jo, gone) if c.name in page}

    assert names() == {alex.name, jo.name}
    for query in ("alex", "SMITH", "sasha", "a.smith@mail", "alexandra smith", "Sasha Smith"):
        assert names(query) == {alex.name}, query
    assert names("example.org") == {jo.name}
    assert names("%") == set() and names("_") == set()
    assert names("nobody-like-this") == set()
    assert names(status="archived") == {gone.name}
    assert names("alex", "archived") == {gone.name}
    assert names(status="bogus") == {alex.name, jo.name}
    empty = owner.get("/clients", query_string={"q": "zzz"}).get_data(as_text=True)
    assert "No active clients match" in empty


def test_clinicians_and_interns_see_only_their_assigned_clients(
    make_practice, make_staff, make_client, visit
):
    practice = make_practice()
    clinician_email = make_staff(practice, "clinician")
    intern_email = make_staff(practice, "intern")
    mine = make_client(practice, first="Assigned", clinicians=(clinician_email, intern_email))
    theirs = make_client(practice, first="Elsewhere")

    for email in (clinician_email, intern_email):
        person = logged_in(visit, practice, email)
        listing = person.get("/clients").get_data(as_text=True)
        assert mine.name in listing and theirs.name not in listing
        assert theirs.name not in person.get("/clients", query_string={"q": "Elsewhere"}).get_data(
            as_text=True
        )
        assert person.get(f"/clients/{mine.id}").status_code == 200
        assert person.get(f"/clients/{theirs.id}").status_code == 404
        assert person.get(f"/clients/{theirs.id}/edit").status_code == 404
        for action in ("archive", "unarchive", "test-client", "clinicians", "portal/invite"):
            response = person.post(f"/clients/{theirs.id}/{action}", form_page="/clients/new")
            assert response.status_code == 404, action

    scheduler = logged_in(visit, practice, make_staff(practice, "scheduler"))
    listing = scheduler.get("/clients").get_data(as_text=True)
    assert mine.name in listing and theirs.name in listing


def test_a_clinician_who_adds_a_client_is_assigned_to_it(make_practice, make_staff, visit):
    practice = make_practice()
    clinician = logged_in(visit, practice, make_staff(practice, "clinician", name="Cleo Clinician"))
    response = new_client(clinician, first_name="Newly", last_name="Added")
    assert response.status_code == 302
    page = clinician.get(response.headers["Location"]).get_data(as_text=True)
    assert "Newly Added" in page and "Cleo Clinician" in page


def test_who_may_assign_clinicians(make_practice, make_staff, make_client, visit, in_practice):
    practice = make_practice()
    clinician_email = make_staff(practice, "clinician", name="Casey Clinician")
    other_email = make_staff(practice, "clinician", name="Other Clinician")
    with in_practice(practice):
        clinician_id = find_user_by_email(clinician_email).id
        other_id = find_user_by_email(other_email).id
    client = make_client(practice, first="Needs", clinicians=(other_email,))
    clinician = logged_in(visit, practice, clinician_email)
    other = logged_in(visit, practice, other_email)
    assert clinician.get(f"/clients/{client.id}").status_code == 404

    # Clinicians cannot change assignments (not even for their own clients).
    page = f"/clients/{client.id}"
    assert "Assign</button>" not in other.get(page).get_data(as_text=True)
    assert other.post(f"{page}/clinicians", {"user_id": clinician_id}, form_page=page).status_code == 403
    assert other.post(f"{page}/clinicians/{other_id}/remove", form_page=page).status_code == 403

    scheduler = logged_in(visit, practice, make_staff(practice, "scheduler"))
    assert scheduler.post(f"{page}/clinicians", {"user_id": clinician_id}, form_page=page).status_code == 302
    assert clinician.get(page).status_code == 200
    again = scheduler.post(f"{page}/clinicians", {"user_id": clinician_id}, form_page=page)
    assert again.status_code == 400 and "who is not assigned yet" in again.get_data(as_text=True)
    assert scheduler.post(f"{page}/clinicians", {"user_id": 999999}, form_page=page).status_code == 400
    assert scheduler.post(f"{page}/clinicians/{clinician_id}/remove", form_page=page).status_code == 302
    assert clinician.get(page).status_code == 404
    actions = audit_actions(in_practice, practice, client.id)
    assert "assigned clinician" in actions and "unassigned clinician" in actions


def test_viewing_a_record_is_audited(make_practice, make_staff, make_client, visit, in_practice):
    practice = make_practice()
    email = make_staff(practice, "clinician", name="Audited Viewer")
    client = make_client(practice, clinicians=(email,))
    assert logged_in(visit, practice, email).get(f"/clients/{client.id}").status_code == 200
    with in_practice(practice):
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "viewed client record")
        ).one()
        assert (event.client_id, event.actor_name, event.actor_kind) == (client.id, "Audited Viewer", "staff")


def test_archive_and_unarchive(make_practice, make_staff, make_client, visit, in_practice):
    practice = make_practice()
    intern_email = make_staff(practice, "intern")
    client = make_client(practice, first="Archivable", clinicians=(intern_email,))
    page = f"/clients/{client.id}"
    intern = logged_in(visit, practice, intern_email)
    assert intern.post(f"{page}/archive", form_page=page).status_code == 403
    owner = logged_in(visit, practice, practice.owner_email)
    assert owner.post(f"{page}/archive", form_page=page).status_code == 302
    assert client.name not in owner.get("/clients").get_data(as_text=True)
    assert client.name in owner.get("/clients?status=archived").get_data(as_text=True)
    assert "Archived" in owner.get(page).get_data(as_text=True)
    assert owner.post(f"{page}/unarchive", form_page=page).status_code == 302
    assert client_row(in_practice, practice, client.id).status == "active"


def test_marking_a_test_client(make_practice, make_staff, make_client, visit, in_practice):
    practice = make_practice()
    clinician_email = make_staff(practice, "clinician")
    client = make_client(practice, first="Preview", clinicians=(clinician_email,))
    page = f"/clients/{client.id}"
    clinician = logged_in(visit, practice, clinician_email)
    assert "Mark as a test client" not in clinician.get(page).get_data(as_text=True)
    assert clinician.post(f"{page}/test-client", {"is_test": "1"}, form_page=page).status_code == 403
    owner = logged_in(visit, practice, practice.owner_email)
    assert owner.post(f"{page}/test-client", {"is_test": "1"}, form_page=page).status_code == 302
    assert client_row(in_practice, practice, client.id).is_test
    assert "Test client" in owner.get("/clients").get_data(as_text=True)
    assert owner.post(f"{page}/test-client", {"is_test": "0"}, form_page=page).status_code == 302
    assert not client_row(in_practice, practice, client.id).is_test


def activation_path(mailbox, practice, email) -> str:
    messages = mailbox.to(email)
    assert messages, f"no email to {email}"
    host, path = ACTIVATION_LINK.search(mailbox.body(messages[-1])).groups()
    assert host == practice.host
    return path


def test_inviting_a_client_to_the_portal_end_to_end(
    make_practice, make_staff, make_client, visit, mailbox, run_jobs, in_practice
):
    practice = make_practice(name="Harbour Therapy")
    clinician_email = make_staff(practice, "clinician")
    email = f"quinn@{practice.slug}.example.com"
    client = make_client(practice, first="Quinn", email=email, clinicians=(clinician_email,))
    page = f"/clients/{client.id}"
    clinician = logged_in(visit, practice, clinician_email)

    # The portal is off: no invitation button, and its address answers 404.
    assert "Invite to the portal" not in clinician.get(page).get_data(as_text=True)
    assert clinician.post(f"{page}/portal/invite", form_page=page).status_code == 404
    configure(in_practice, practice, portal_enabled=True)

    assert "Invite to the portal" in clinician.get(page).get_data(as_text=True)
    assert clinician.post(f"{page}/portal/invite", form_page=page).status_code == 302
    assert "Invited" in clinician.get(page).get_data(as_text=True)
    run_jobs()
    [message] = mailbox.to(email)
    assert message["Subject"] == "Your Harbour Therapy client portal"
    path = activation_path(mailbox, practice, email)

    quinn = visit(practice)
    assert quinn.get(path).status_code == 200
    response = quinn.post(path, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/portal/choose"
    assert quinn.get("/portal/choose").headers["Location"] == "/portal"
    home = quinn.get("/portal").get_data(as_text=True)
    assert f"Record of <strong>{client.name}" in home
    assert visit(practice).login(email, NEW_PASSWORD).headers["Location"] == "/portal/choose"
    assert quinn.get("/clients").status_code == 403  # a client login is not staff

    actions = audit_actions(in_practice, practice, client.id)
    assert "granted portal access" in actions and "sent portal invite" in actions

    # Revoking the client's own access ends it at the next request.
    with in_practice(practice):
        access_id = db.session.scalars(
            select(PortalAccess.id).where(PortalAccess.client_id == client.id)
        ).one()
    owner = logged_in(visit, practice, practice.owner_email)
    assert owner.post(f"{page}/portal/{access_id}/revoke", form_page=page).status_code == 302
    assert quinn.get("/portal").headers["Location"] == "/portal/choose"
    assert "revoked portal access" in audit_actions(in_practice, practice, client.id)


def test_portal_invite_refusals(
    make_practice, make_staff, make_client, visit, mailbox, run_jobs, in_practice
):
    practice = make_practice()
    configure(in_practice, practice, portal_enabled=True)
    owner = logged_in(visit, practice, practice.owner_email)
    no_email = make_client(practice, first="Silent")
    page = f"/clients/{no_email.id}"
    assert "Add an email address to the record" in owner.get(page).get_data(as_text=True)
    refused = owner.post(f"{page}/portal/invite", form_page=page)
    assert refused.status_code == 400 and "Add an email address" in refused.get_data(as_text=True)

    staff_email = make_staff(practice, "scheduler")
    clash = make_client(practice, first="Clash", email=staff_email)
    page = f"/clients/{clash.id}"
    refused = owner.post(f"{page}/portal/invite", form_page=page)
    assert refused.status_code == 400 and "belongs to a staff account" in refused.get_data(as_text=True)

    intern_email = make_staff(practice, "intern")
    supervised = make_client(
        practice, first="Supervised", email="sup@example.org", clinicians=(intern_email,)
    )
    intern = logged_in(visit, practice, intern_email)
    page = f"/clients/{supervised.id}"
    assert "Invite to the portal" not in intern.get(page).get_data(as_text=True)
    assert intern.post(f"{page}/portal/invite", form_page=page).status_code == 403

    run_jobs()
    assert mail_of(mailbox, practice) == []
    with in_practice(practice):
        assert db.session.scalars(select(PortalAccess)).all() == []
        assert find_user_by_email("sup@example.org") is None


def test_family_members_sharing_one_email_share_one_login(
    make_practice, make_client, visit, mailbox, run_jobs, in_practice
):
    practice = make_practice(name="Family Practice")
    configure(in_practice, practice, portal_enabled=True)
    shared = f"family@{practice.slug}.example.com"
    alex = make_client(practice, first="Alex", email=shared)
    sam = make_client(practice, first="Sam", email=shared)
    kim = make_client(practice, first="Kim", email=shared.upper())
    owner = logged_in(visit, practice, practice.owner_email)
    for client in (alex, sam):
        page = f"/clients/{client.id}"
        assert owner.post(f"{page}/portal/invite", form_page=page).status_code == 302
    run_jobs()
    assert len(mailbox.to(shared)) == 2  # one invitation per record, either link works once
    family = visit(practice)
    assert (
        family.post(
            activation_path(mailbox, practice, shared), {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
        ).status_code
        == 302
    )
    choose = family.get("/portal/choose").get_data(as_text=True)
    assert alex.name in choose and sam.name in choose and kim.name not in choose

    # Once the login has a password, a further record only needs a "log in" note.
    mailbox.clear()
    page = f"/clients/{kim.id}"
    assert owner.post(f"{page}/portal/invite", form_page=page).status_code == 302
    run_jobs()
    [message] = mailbox.to(shared)
    body = mailbox.body(message)
    assert message["Subject"] == "A record was added to your Family Practice portal"
    assert "/activate/" not in body and f"http://{practice.host}/login" in body and kim.name in body
    assert visit(practice).login(shared, NEW_PASSWORD).status_code == 302
    choose = family.get("/portal/choose").get_data(as_text=True)
    assert all(c.name in choose for c in (alex, sam, kim))
    with in_practice(practice):
        grants = db.session.scalars(select(PortalAccess)).all()
        assert len({g.user_id for g in grants}) == 1 and {g.relationship_kind for g in grants} == {"self"}


def test_nav_shows_clients_to_all_staff(make_practice, make_staff, visit):
    practice = make_practice()
    for role in ("scheduler", "clinician", "intern"):
        page = logged_in(visit, practice, make_staff(practice, role)).get("/").get_data(as_text=True)
        assert 'href="/clients"' in page


def test_client_ids_of_another_practice_are_404_and_nothing_of_it_shows(
    make_practice, make_client, visit, mailbox, run_jobs, in_practice
):
    """Staff of one practice asking for the other practice's client ids get 404 and see nothing of it."""
    a, b = make_practice(name="Alpha Care"), make_practice(name="Beta Care")
    for practice in (a, b):
        configure(in_practice, practice, portal_enabled=True)
    mine = make_client(a, first="Alpha", last="Person", email="alpha.person@example.org")
    theirs = [make_client(b, first="Beta", last=f"Secret{n}", email=f"beta{n}@example.org") for n in range(3)]
    owner_a = logged_in(visit, a, a.owner_email)
    for client in theirs[1:]:  # ids that do not exist in practice A
        page = f"/clients/{client.id}"
        assert owner_a.get(page).status_code == 404
        assert owner_a.get(f"{page}/edit").status_code == 404
        for action in (
            "archive",
            "unarchive",
            "test-client",
            "clinicians",
            "portal/invite",
            "portal/1/revoke",
        ):
            assert owner_a.post(f"{page}/{action}", form_page="/clients/new").status_code == 404, action
    listing = owner_a.get("/clients").get_data(as_text=True) + owner_a.get(
        "/clients", query_string={"q": "Beta"}
    ).get_data(as_text=True)
    assert "Secret" not in listing and "Beta Care" not in listing
    page = f"/clients/{mine.id}"
    assert owner_a.post(f"{page}/portal/invite", form_page=page).status_code == 302
    run_jobs()
    assert mail_of(mailbox, b) == []
    [message] = mail_of(mailbox, a)
    assert message["To"] == "alpha.person@example.org"
    body = mailbox.body(message)
    assert "Beta" not in body and b.slug not in body and a.host in body
    with in_practice(b):
        assert all(c.status == "active" for c in db.session.scalars(select(Client)))
        assert db.session.scalars(select(PortalAccess)).all() == []
