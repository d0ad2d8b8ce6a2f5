"""Guardians and minors over HTTP: invitations, switching between minors, permissions, revocation,
majority, the minor's own login, the guardian feature toggle, and isolation between practices."""

from __future__ import annotations

import re
from datetime import date, timedelta

from sqlalchemy import select

from blueprints.audit.models import AuditEvent
from blueprints.auth.service import find_user_by_email
from blueprints.people.models import GUARDIAN_PERMISSIONS, Client, PortalAccess
from tenants.database import db
from tenants.features import practice_settings
from tests.conftest import sent_by

ACTIVATION_LINK = re.compile(r"http://([^/\s]+)(/activate/[A-Za-z0-9_-]+)")
NEW_PASSWORD = "a-fresh-password-123"


def mail_of(mailbox, practice) -> list:
    """The emails this practice sent (other tests' queued jobs may deliver in the same run)."""
    return [m for m in mailbox.messages if sent_by(m, practice)]


ALL_ON = {"can_appointments": "y", "can_forms": "y", "can_documents": "y", "can_messages": "y"}


def years_ago(years: int, days: int = 0) -> date:
    today = date.today()
    return today.replace(year=today.year - years) - timedelta(days=days)


def logged_in(visit, practice, email, password="correct-horse-battery"):
    visitor = visit(practice)
    assert visitor.login(email, password).status_code == 302
    return visitor


def open_portal(in_practice, practice, **settings):
    with in_practice(practice):
        row = practice_settings()
        row.portal_enabled = True
        for name, value in settings.items():
            setattr(row, name, value)
        db.session.commit()


def activation_path(mailbox, practice, email) -> str:
    messages = mailbox.to(email)
    assert messages, f"no email to {email}"
    host, path = ACTIVATION_LINK.search(mailbox.body(messages[-1])).groups()
    assert host == practice.host
    return path


def add_guardian(staff, client, name, email, **permissions):
    page = f"/clients/{client.id}/guardians/new"
    return staff.post(page, {"name": name, "email": email, **(permissions or ALL_ON)}, form_page=page)


def guardian_access_id(in_practice, practice, client, email) -> int:
    with in_practice(practice):
        user = find_user_by_email(email)
        return db.session.scalars(
            select(PortalAccess.id).where(
                PortalAccess.client_id == client.id, PortalAccess.user_id == user.id
            )
        ).one()


def audit_actions(in_practice, practice) -> list[str]:
    with in_practice(practice):
        return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def set_date_of_birth(in_practice, practice, client, born):
    with in_practice(practice):
        db.session.get(Client, client.id).date_of_birth = born
        db.session.commit()


def test_a_guardian_of_two_minors_activates_logs_in_and_switches_between_them(
    make_practice, make_client, visit, mailbox, run_jobs, in_practice
):
    practice = make_practice(name="Willow Family Therapy")
    open_portal(in_practice, practice)
    mia = make_client(practice, first="Mia", last="Lane", date_of_birth=years_ago(8))
    teo = make_client(practice, first="Teo", last="Lane", date_of_birth=years_ago(15))
    stranger = make_client(practice, first="Other", last="Child", date_of_birth=years_ago(9))
    owner = logged_in(visit, practice, practice.owner_email)
    parent = f"parent@{practice.slug}.example.com"

    form = owner.get(f"/clients/{mia.id}/guardians/new").get_data(as_text=True)
    assert "Add a guardian for Mia Lane" in form
    assert add_guardian(owner, mia, "Pat Lane", parent).status_code == 302
    detail = owner.get(f"/clients/{mia.id}").get_data(as_text=True)
    assert "Pat Lane" in detail and "Invited" in detail
    run_jobs()
    [invitation] = mailbox.to(parent)
    assert invitation["Subject"] == "You are invited to the Willow Family Therapy portal"
    assert "guardian of Mia Lane" in mailbox.body(invitation)

    guardian = visit(practice)
    path = activation_path(mailbox, practice, parent)
    response = guardian.post(path, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.headers["Location"] == "/portal/choose"

    # A second minor for a login that already has a password: a "new minor" note, no new link.
    mailbox.clear()
    assert add_guardian(owner, teo, "Pat Lane", parent.upper()).status_code == 302
    run_jobs()
    [note] = mailbox.to(parent)
    assert note["Subject"] == "A minor was added to your Willow Family Therapy portal"
    assert "/activate/" not in mailbox.body(note) and "Teo Lane" in mailbox.body(note)

    guardian = logged_in(visit, practice, parent, NEW_PASSWORD)
    choose = guardian.get("/portal/choose").get_data(as_text=True)
    assert "Mia Lane" in choose and "Teo Lane" in choose and stranger.name not in choose
    assert guardian.post(f"/portal/open/{mia.id}", form_page="/portal/choose").status_code == 302
    home = guardian.get("/portal").get_data(as_text=True)
    assert "You are acting for <strong>Mia Lane</strong>" in home
    switch = home[home.index('id="switch-records"') :]
    assert "Teo Lane" in switch and "Mia Lane" not in switch
    assert guardian.post(f"/portal/open/{teo.id}", form_page="/portal").status_code == 302
    assert "You are acting for <strong>Teo Lane</strong>" in guardian.get("/portal").get_data(as_text=True)
    assert guardian.post(f"/portal/open/{stranger.id}", form_page="/portal").status_code == 404

    actions = audit_actions(in_practice, practice)
    assert actions.count("granted guardian access") == 2 and actions.count("sent portal invite") == 2
    with in_practice(practice):
        user = find_user_by_email(parent)
        assert user.kind == "client" and user.activated_at is not None


def test_revoking_a_guardian_ends_access_at_the_next_request(
    make_practice, make_client, grant_portal, visit, in_practice
):
    practice = make_practice()
    open_portal(in_practice, practice)
    mia = make_client(practice, first="Mia", date_of_birth=years_ago(8))
    teo = make_client(practice, first="Teo", date_of_birth=years_ago(10))
    parent = f"parent@{practice.slug}.example.com"
    grant_portal(practice, mia, parent)
    grant_portal(practice, teo, parent)
    guardian = logged_in(visit, practice, parent)
    assert guardian.post(f"/portal/open/{mia.id}", form_page="/portal/choose").status_code == 302
    assert guardian.get("/portal").status_code == 200

    owner = logged_in(visit, practice, practice.owner_email)
    access_id = guardian_access_id(in_practice, practice, mia, parent)
    page = f"/clients/{mia.id}"
    assert owner.post(f"{page}/guardians/{access_id}/revoke", form_page=page).status_code == 302
    assert "Revoked" in owner.get(page).get_data(as_text=True)

    response = guardian.get("/portal")
    assert response.status_code == 302 and response.headers["Location"] == "/portal/choose"
    choose = guardian.get("/portal/choose")
    assert choose.status_code == 302  # only Teo is left: opened straight away
    assert guardian.post(f"/portal/open/{mia.id}", form_page="/portal").status_code == 404
    assert mia.name not in guardian.get("/portal").get_data(as_text=True)
    assert "revoked guardian access" in audit_actions(in_practice, practice)

    # Adding the guardian again restores the relationship.
    assert add_guardian(owner, mia, "Pat", parent).status_code == 302
    assert guardian.post(f"/portal/open/{mia.id}", form_page="/portal").status_code == 302


def test_a_guardians_access_ends_when_the_minor_comes_of_age(
    make_practice, make_client, grant_portal, visit, in_practice
):
    practice = make_practice()
    open_portal(in_practice, practice)
    mia = make_client(practice, first="Mia", date_of_birth=years_ago(17, days=-1))  # 18 tomorrow
    parent = f"parent@{practice.slug}.example.com"
    grant_portal(practice, mia, parent)
    guardian = logged_in(visit, practice, parent)
    assert guardian.get("/portal/choose").headers["Location"] == "/portal"  # the only record opens
    assert guardian.get("/portal").status_code == 200

    set_date_of_birth(in_practice, practice, mia, years_ago(18))  # 18 today
    assert guardian.get("/portal").headers["Location"] == "/portal/choose"
    assert "no portal access at the moment" in guardian.get("/portal/choose").get_data(as_text=True)
    assert guardian.post(f"/portal/open/{mia.id}", form_page="/portal/choose").status_code == 404
    owner = logged_in(visit, practice, practice.owner_email)
    page = owner.get(f"/clients/{mia.id}").get_data(as_text=True)
    assert "Ended: no longer a minor" in page and "Add a guardian" not in page


def test_the_minors_own_login_continues_after_the_guardian_is_revoked(
    make_practice, make_client, visit, mailbox, run_jobs, in_practice
):
    practice = make_practice()
    open_portal(in_practice, practice)
    teen_email = f"teo@{practice.slug}.example.com"
    teo = make_client(practice, first="Teo", last="Lane", date_of_birth=years_ago(15), email=teen_email)
    owner = logged_in(visit, practice, practice.owner_email)
    page = f"/clients/{teo.id}"
    assert "Give Teo Lane their own login" in owner.get(page).get_data(as_text=True)
    assert owner.post(f"{page}/portal/invite", form_page=page).status_code == 302
    parent = f"parent@{practice.slug}.example.com"
    assert add_guardian(owner, teo, "Pat Lane", parent).status_code == 302
    run_jobs()
    teen = visit(practice)
    teen.post(
        activation_path(mailbox, practice, teen_email), {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    guardian = visit(practice)
    guardian.post(
        activation_path(mailbox, practice, parent), {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    assert "You are acting for" in guardian.get("/portal", follow_redirects=True).get_data(as_text=True)

    access_id = guardian_access_id(in_practice, practice, teo, parent)
    assert owner.post(f"{page}/guardians/{access_id}/revoke", form_page=page).status_code == 302
    assert guardian.get("/portal").headers["Location"] == "/portal/choose"
    assert "Record of <strong>Teo Lane" in teen.get("/portal", follow_redirects=True).get_data(as_text=True)
    assert logged_in(visit, practice, teen_email, NEW_PASSWORD).get("/portal/choose").status_code == 302

    # The minor's own login and a guardian's login are kept apart.
    refused = add_guardian(owner, teo, "Teo Again", teen_email)
    assert refused.status_code == 400 and "own login" in refused.get_data(as_text=True)


def test_editing_a_guardians_permissions(make_practice, make_client, grant_portal, visit, in_practice):
    practice = make_practice()
    open_portal(in_practice, practice)
    mia = make_client(practice, first="Mia", date_of_birth=years_ago(8))
    parent = f"parent@{practice.slug}.example.com"
    owner = logged_in(visit, practice, practice.owner_email)
    assert add_guardian(owner, mia, "Pat", parent).status_code == 302
    grant_portal(practice, mia, parent)  # gives the login a password; the grant stays as it was
    guardian = logged_in(visit, practice, parent)
    assert guardian.get("/portal/choose").status_code == 302
    assert guardian.get("/portal/appointments").status_code == 200

    access_id = guardian_access_id(in_practice, practice, mia, parent)
    page = f"/clients/{mia.id}/guardians/{access_id}"
    form = owner.get(page).get_data(as_text=True)
    assert 'id="can_appointments" name="can_appointments" type="checkbox" value="y"' in form
    response = owner.post(page, {"can_forms": "y", "minor_messages": "deny"})
    assert response.status_code == 302
    assert guardian.get("/portal/appointments").status_code == 403
    bad = owner.post(page, {"minor_messages": "sometimes"})
    assert bad.status_code == 400
    with in_practice(practice):
        access = db.session.get(PortalAccess, access_id)
        assert (access.can_appointments, access.can_forms, access.can_messages, access.minor_messages) == (
            False,
            True,
            False,
            "deny",
        )
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "changed guardian access")
        ).one()
        assert "forms" in event.detail and "deny" in event.detail


def test_every_permission_is_offered_and_billing_is_off_unless_ticked(
    make_practice, make_client, visit, in_practice
):
    """Billing came back with payments (issue 14): offered, off by default, saved like the others."""
    practice = make_practice()
    open_portal(in_practice, practice)
    mia = make_client(practice, first="Mia", date_of_birth=years_ago(8))
    parent = f"parent@{practice.slug}.example.com"
    owner = logged_in(visit, practice, practice.owner_email)
    form = owner.get(f"/clients/{mia.id}/guardians/new").get_data(as_text=True)
    assert "See and manage appointments" in form and "Message the practice on the minor" in form
    assert "Complete forms" in form and 'name="can_forms"' in form
    assert "See shared documents and upload" in form and 'name="can_documents"' in form
    assert "See and pay the minor&#39;s invoices" in form and 'name="can_billing"' in form

    added = add_guardian(owner, mia, "Pat", parent, can_appointments="y")
    assert added.status_code == 302
    access_id = guardian_access_id(in_practice, practice, mia, parent)

    def stored():
        with in_practice(practice):
            access = db.session.get(PortalAccess, access_id)
            return {name: getattr(access, f"can_{name}") for name in GUARDIAN_PERMISSIONS}

    assert stored() == dict(appointments=True, forms=False, documents=False, messages=False, billing=False)
    page = f"/clients/{mia.id}/guardians/{access_id}"
    saved = owner.post(page, {"can_messages": "y", "can_billing": "y", "minor_messages": "default"})
    assert saved.status_code == 302
    assert stored() == dict(appointments=False, forms=False, documents=False, messages=True, billing=True)
    saved = owner.post(
        page, {"can_appointments": "y", "can_forms": "y", "can_documents": "y", "minor_messages": "default"}
    )
    assert saved.status_code == 302
    assert stored() == dict(appointments=True, forms=True, documents=True, messages=False, billing=False)

    # The client's record says what the guardian may do.
    record = owner.get(f"/clients/{mia.id}").get_data(as_text=True)
    assert "May: appointments, complete forms, documents. Minor" in record


def test_a_guardian_cannot_be_added_to_an_adult_or_a_record_without_a_birth_date(
    make_practice, make_client, make_staff, visit, mailbox, run_jobs, in_practice
):
    practice = make_practice()
    open_portal(in_practice, practice)
    adult = make_client(practice, first="Grown", last="Up", date_of_birth=years_ago(18))
    unknown = make_client(practice, first="No", last="Birthday")
    owner = logged_in(visit, practice, practice.owner_email)
    assert "Guardians can be added to a minor's record only" in owner.get(f"/clients/{adult.id}").get_data(
        as_text=True
    )
    response = add_guardian(owner, adult, "Pat", "pat@example.org")
    assert response.status_code == 400 and "Grown Up is not a minor" in response.get_data(as_text=True)
    response = add_guardian(owner, unknown, "Pat", "pat@example.org")
    assert response.status_code == 400 and "no date of birth on file" in response.get_data(as_text=True)

    child = make_client(practice, first="Kid", date_of_birth=years_ago(6))
    staff_email = make_staff(practice, "scheduler")
    response = add_guardian(owner, child, "Staff Person", staff_email)
    assert response.status_code == 400 and "belongs to a staff account" in response.get_data(as_text=True)
    assert add_guardian(owner, child, "", "pat@example.org").status_code == 400
    assert add_guardian(owner, child, "Pat", "not-an-email").status_code == 400

    run_jobs()
    assert mail_of(mailbox, practice) == []
    with in_practice(practice):
        assert db.session.scalars(select(PortalAccess)).all() == []
        assert find_user_by_email("pat@example.org") is None


def test_who_may_manage_guardians(make_practice, make_staff, make_client, visit, in_practice):
    practice = make_practice()
    open_portal(in_practice, practice)
    intern_email = make_staff(practice, "intern")
    clinician_email = make_staff(practice, "clinician")
    child = make_client(practice, first="Kid", date_of_birth=years_ago(6), clinicians=(intern_email,))
    intern = logged_in(visit, practice, intern_email)
    assert intern.get(f"/clients/{child.id}/guardians/new").status_code == 403
    assert "Add a guardian" not in intern.get(f"/clients/{child.id}").get_data(as_text=True)
    clinician = logged_in(visit, practice, clinician_email)
    assert clinician.get(f"/clients/{child.id}/guardians/new").status_code == 404  # not their client
    response = clinician.post(
        f"/clients/{child.id}/guardians/new",
        {"name": "Pat", "email": "pat@example.org", **ALL_ON},
        form_page="/clients/new",
    )
    assert response.status_code == 404


def test_with_the_guardian_feature_off_its_pages_404_and_disappear(
    make_practice, make_client, grant_portal, visit, in_practice
):
    practice = make_practice()
    open_portal(in_practice, practice)
    mia = make_client(practice, first="Mia", date_of_birth=years_ago(8))
    parent = f"parent@{practice.slug}.example.com"
    grant_portal(practice, mia, parent)
    access_id = guardian_access_id(in_practice, practice, mia, parent)
    open_portal(in_practice, practice, guardian_access_enabled=False)

    owner = logged_in(visit, practice, practice.owner_email)
    page = f"/clients/{mia.id}"
    detail = owner.get(page).get_data(as_text=True)
    assert 'id="guardians"' not in detail and "Add a guardian" not in detail and parent not in detail
    assert owner.get(f"{page}/guardians/new").status_code == 404
    assert owner.get(f"{page}/guardians/{access_id}").status_code == 404
    assert (
        owner.post(
            f"{page}/guardians/new", {"name": "X", "email": "x@example.org"}, form_page=page
        ).status_code
        == 404
    )
    assert owner.post(f"{page}/guardians/{access_id}/revoke", form_page=page).status_code == 404
    assert owner.post(f"{page}/portal/{access_id}/revoke", form_page=page).status_code == 404
    assert "no portal access" in logged_in(visit, practice, parent).get("/portal/choose").get_data(
        as_text=True
    )

    # Turned on again: the relationship (its data untouched) comes back.
    open_portal(in_practice, practice, guardian_access_enabled=True)
    assert parent in owner.get(page).get_data(as_text=True)
    assert logged_in(visit, practice, parent).get("/portal/choose").status_code == 302


def test_guardian_pages_of_another_practice_are_404(
    make_practice, make_client, grant_portal, visit, mailbox, run_jobs, in_practice
):
    """Guardian ids and minors of the other practice answer 404; its guardians' logins are not ours."""
    a, b = make_practice(name="Alpha Kids"), make_practice(name="Beta Kids")
    for practice in (a, b):
        open_portal(in_practice, practice)
    minors_b = [make_client(b, first="Beta", last=f"Minor{n}", date_of_birth=years_ago(7)) for n in range(3)]
    parent_b = "shared.parent@example.org"
    for minor in minors_b:
        grant_portal(b, minor, parent_b)
    last = minors_b[-1]
    access_b = guardian_access_id(in_practice, b, last, parent_b)

    owner_a = logged_in(visit, a, a.owner_email)
    page = f"/clients/{last.id}"
    assert owner_a.get(f"{page}/guardians/new").status_code == 404
    assert owner_a.get(f"{page}/guardians/{access_b}").status_code == 404
    assert owner_a.post(f"{page}/guardians/{access_b}/revoke", form_page="/clients/new").status_code == 404
    assert visit(a).login(parent_b).status_code == 400  # B's guardian has no login at A

    # The same person may be a guardian at A too: a separate login, seeing only A's minor.
    mine = make_client(a, first="Alpha", last="Minor", date_of_birth=years_ago(9))
    assert add_guardian(owner_a, mine, "Shared Parent", parent_b).status_code == 302
    run_jobs()
    [message] = mailbox.to(parent_b)
    assert "Beta" not in mailbox.body(message) and a.host in mailbox.body(message)
    visitor = visit(a)
    visitor.post(activation_path(mailbox, a, parent_b), {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert "Alpha Minor" in visitor.get("/portal", follow_redirects=True).get_data(as_text=True)
    for minor in minors_b[1:]:
        assert visitor.post(f"/portal/open/{minor.id}", form_page="/portal").status_code == 404
    with in_practice(b):
        assert db.session.get(PortalAccess, access_b).revoked_at is None
