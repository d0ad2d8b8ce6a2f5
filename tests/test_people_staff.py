"""Staff over HTTP: invites by email, activation links, roles, deactivation, the last owner."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from blueprints.audit.models import AuditEvent
from blueprints.auth.models import OneTimeToken, User
from blueprints.auth.service import find_user_by_email
from tenants.database import db
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


def is_logged_in(visitor) -> bool:
    return "Log out" in visitor.get("/").get_data(as_text=True)


def activation_path(mailbox, practice, email) -> str:
    messages = mailbox.to(email)
    assert messages, f"no email to {email}"
    host, path = ACTIVATION_LINK.search(mailbox.body(messages[-1])).groups()
    assert host == practice.host
    return path


def user_id(in_practice, practice, email) -> int:
    with in_practice(practice):
        return find_user_by_email(email).id


def invite(owner, name, email, role="clinician", form_page=None):
    return owner.post("/staff/invite", {"name": name, "email": email, "role": role}, form_page=form_page)


def test_owner_invites_a_staff_member_who_activates_by_email(
    make_practice, visit, mailbox, run_jobs, in_practice
):
    practice = make_practice(name="Invite Practice")
    owner = logged_in(visit, practice, practice.owner_email)
    email = f"dana@{practice.slug}.example.com"
    response = invite(owner, "Dana Clinician", email)
    assert response.status_code == 302 and response.headers["Location"] == "/staff"
    listing = owner.get("/staff").get_data(as_text=True)
    assert "Dana Clinician" in listing and "Invited" in listing

    run_jobs()
    [message] = mailbox.to(email)
    assert message["Subject"] == "You are invited to Invite Practice on Portico"
    assert "Clinician" in mailbox.body(message)
    path = activation_path(mailbox, practice, email)

    dana = visit(practice)
    page = dana.get(path)
    assert page.status_code == 200 and page.headers["Referrer-Policy"] == "no-referrer"
    assert email in page.get_data(as_text=True)
    mismatch = dana.post(path, {"password": NEW_PASSWORD, "confirm": "something-else-1"})
    assert mismatch.status_code == 400 and "The passwords differ." in mismatch.get_data(as_text=True)
    short = dana.post(path, {"password": "short", "confirm": "short"})
    assert short.status_code == 400 and "Use at least 10 characters" in short.get_data(as_text=True)

    response = dana.post(path, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert is_logged_in(dana)
    assert "Dana Clinician" in dana.get("/").get_data(as_text=True)
    assert visit(practice).login(email, NEW_PASSWORD).status_code == 302
    assert "Active" in owner.get("/staff").get_data(as_text=True)

    with in_practice(practice):
        user = find_user_by_email(email)
        assert user.role == "clinician" and user.activated_at is not None
        events = db.session.scalars(select(AuditEvent)).all()
        actions = [event.action for event in events]
        assert "invited staff" in actions and "activated account" in actions
        path_token = path.rsplit("/", 1)[1]
        assert all(path_token not in (event.detail or "") for event in events)


def test_activation_links_are_single_use_and_forged_or_expired_ones_are_refused(
    make_practice, visit, mailbox, run_jobs, in_practice
):
    practice = make_practice()
    owner = logged_in(visit, practice, practice.owner_email)
    first, second = (f"{n}@{practice.slug}.example.com" for n in ("first", "second"))
    invite(owner, "First Person", first)
    invite(owner, "Second Person", second)
    run_jobs()
    used = activation_path(mailbox, practice, first)
    expired = activation_path(mailbox, practice, second)

    assert visit(practice).post(used, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}).status_code == 302
    replay = visit(practice)
    for response in (
        replay.get(used),
        replay.post(used, {"password": "x" * 12, "confirm": "x" * 12}, form_page="/login"),
    ):
        assert response.status_code == 410
        assert "expired or was already used" in response.get_data(as_text=True)
        assert response.headers["Referrer-Policy"] == "no-referrer"
    assert visit(practice).login(first, "x" * 12).status_code == 400  # the replay changed nothing

    forged = visit(practice).get("/activate/" + "A" * 43)
    assert forged.status_code == 410 and "expired or was already used" in forged.get_data(as_text=True)

    with in_practice(practice):
        db.session.execute(
            update(OneTimeToken)
            .where(OneTimeToken.user_id == find_user_by_email(second).id)
            .values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
        db.session.commit()
    late = visit(practice)
    assert late.get(expired).status_code == 410
    refused = late.post(expired, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}, form_page="/login")
    assert refused.status_code == 410
    with in_practice(practice):
        assert find_user_by_email(second).password_hash is None


def test_resending_an_invite_replaces_the_link(make_practice, visit, mailbox, run_jobs, in_practice):
    practice = make_practice()
    owner = logged_in(visit, practice, practice.owner_email)
    email = f"late@{practice.slug}.example.com"
    invite(owner, "Late Reader", email)
    run_jobs()
    old = activation_path(mailbox, practice, email)
    member = user_id(in_practice, practice, email)
    page = f"/staff/{member}"
    assert "Re-send the invitation" in owner.get(page).get_data(as_text=True)
    assert owner.post(f"/staff/{member}/resend", form_page=page).status_code == 302
    run_jobs()
    assert len(mailbox.to(email)) == 2
    new = activation_path(mailbox, practice, email)
    assert new != old
    assert visit(practice).get(old).status_code == 410
    assert visit(practice).post(new, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}).status_code == 302

    refused = owner.post(f"/staff/{member}/resend", form_page=page)
    assert refused.status_code == 400
    assert "has already activated their account" in refused.get_data(as_text=True)


def test_invite_refusals_change_nothing(make_practice, make_staff, visit, mailbox, run_jobs, in_practice):
    practice = make_practice()
    owner = logged_in(visit, practice, practice.owner_email)
    taken = invite(owner, "Copy Cat", practice.owner_email.upper())
    assert taken.status_code == 400
    assert "already uses that email address" in taken.get_data(as_text=True)
    assert invite(owner, "", f"noname@{practice.slug}.example.com").status_code == 400
    bad = invite(owner, "Bad Address", "not-an-email")
    assert bad.status_code == 400 and "Enter a valid email address." in bad.get_data(as_text=True)
    odd_role = invite(owner, "Odd Role", f"odd@{practice.slug}.example.com", role="superuser")
    assert odd_role.status_code == 400 and "Choose one of the roles" in odd_role.get_data(as_text=True)

    admin = logged_in(visit, practice, make_staff(practice, "admin"))
    form = admin.get("/staff/invite").get_data(as_text=True)
    assert 'value="owner"' not in form and 'value="admin"' in form
    owner_by_admin = invite(admin, "Would Be Owner", f"boss@{practice.slug}.example.com", role="owner")
    assert owner_by_admin.status_code == 400
    assert "Only an owner can make someone an owner" in owner_by_admin.get_data(as_text=True)
    assert invite(admin, "New Admin", f"admin2@{practice.slug}.example.com", role="admin").status_code == 302

    run_jobs()
    assert [m["To"] for m in mail_of(mailbox, practice)] == [f"admin2@{practice.slug}.example.com"]
    with in_practice(practice):
        assert find_user_by_email(f"boss@{practice.slug}.example.com") is None
        assert find_user_by_email(f"odd@{practice.slug}.example.com") is None


@pytest.mark.parametrize("role", ["scheduler", "clinician", "intern"])
def test_other_roles_get_403_on_staff_pages(make_practice, make_staff, visit, in_practice, role):
    practice = make_practice()
    person = logged_in(visit, practice, make_staff(practice, role))
    owner_id = user_id(in_practice, practice, practice.owner_email)
    assert person.get("/staff").status_code == 403
    assert person.get("/staff/invite").status_code == 403
    assert person.get(f"/staff/{owner_id}").status_code == 403
    for action in ("role", "deactivate", "reactivate", "resend"):
        response = person.post(f"/staff/{owner_id}/{action}", {"role": role}, form_page="/clients/new")
        assert response.status_code == 403, action
    sneaky = f"sneaky@{practice.slug}.example.com"
    assert invite(person, "Sneaky", sneaky, form_page="/clients/new").status_code == 403
    nav = person.get("/").get_data(as_text=True)
    assert 'href="/clients"' in nav and 'href="/staff"' not in nav
    with in_practice(practice):
        assert find_user_by_email(f"sneaky@{practice.slug}.example.com") is None
        assert db.session.get(User, owner_id).is_active_account


def test_anonymous_visitors_are_sent_to_login(make_practice, visit):
    practice = make_practice()
    response = visit(practice).get("/staff")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_staff_nav_entry_for_owner_and_admin(make_practice, make_staff, visit):
    practice = make_practice()
    for email in (practice.owner_email, make_staff(practice, "admin")):
        page = logged_in(visit, practice, email).get("/").get_data(as_text=True)
        assert 'href="/staff"' in page and 'href="/clients"' in page


def test_role_changes_and_admin_limits(make_practice, make_staff, make_client, visit, in_practice):
    practice = make_practice()
    owner = logged_in(visit, practice, practice.owner_email)
    clinician_email = make_staff(practice, "clinician")
    clinician_id = user_id(in_practice, practice, clinician_email)
    someone = make_client(practice, first="Unassigned")
    clinician = logged_in(visit, practice, clinician_email)
    assert clinician.get(f"/clients/{someone.id}").status_code == 404

    page = f"/staff/{clinician_id}"
    assert owner.post(f"/staff/{clinician_id}/role", {"role": "scheduler"}, form_page=page).status_code == 302
    assert clinician.get(f"/clients/{someone.id}").status_code == 200  # schedulers see every client
    bad = owner.post(f"/staff/{clinician_id}/role", {"role": "wizard"}, form_page=page)
    assert bad.status_code == 400 and "Choose one of the roles" in bad.get_data(as_text=True)

    admin = logged_in(visit, practice, make_staff(practice, "admin"))
    owner_id = user_id(in_practice, practice, practice.owner_email)
    owner_page = f"/staff/{owner_id}"
    assert "Only an owner can change an owner" in admin.get(owner_page).get_data(as_text=True)
    for action, data in (("role", {"role": "admin"}), ("deactivate", {})):
        response = admin.post(f"/staff/{owner_id}/{action}", data, form_page=page)
        assert response.status_code == 400
        assert "Only an owner can" in response.get_data(as_text=True)
    promote = admin.post(f"/staff/{clinician_id}/role", {"role": "owner"}, form_page=page)
    assert promote.status_code == 400
    with in_practice(practice):
        assert db.session.get(User, owner_id).role == "owner"
        assert db.session.get(User, owner_id).is_active_account
        assert db.session.get(User, clinician_id).role == "scheduler"
        assert "changed staff role" in db.session.scalars(select(AuditEvent.action)).all()


def test_the_last_owner_cannot_be_demoted_or_deactivated(make_practice, make_staff, visit, in_practice):
    practice = make_practice()
    owner = logged_in(visit, practice, practice.owner_email)
    owner_id = user_id(in_practice, practice, practice.owner_email)
    page = f"/staff/{owner_id}"
    demote = owner.post(f"/staff/{owner_id}/role", {"role": "admin"}, form_page=page)
    assert demote.status_code == 400 and "last owner" in demote.get_data(as_text=True)
    deactivate = owner.post(f"/staff/{owner_id}/deactivate", form_page=page)
    assert deactivate.status_code == 400 and "last owner" in deactivate.get_data(as_text=True)
    assert is_logged_in(owner)

    second_email = make_staff(practice, "owner")
    second_id = user_id(in_practice, practice, second_email)
    second = logged_in(visit, practice, second_email)
    # With two owners one may step down; then the other is the last one again.
    assert (
        owner.post(f"/staff/{owner_id}/role", {"role": "scheduler"}, form_page=page).headers["Location"]
        == "/"
    )
    assert owner.get("/staff").status_code == 403
    refused = second.post(f"/staff/{second_id}/role", {"role": "clinician"}, form_page=page)
    assert refused.status_code == 400 and "last owner" in refused.get_data(as_text=True)
    with in_practice(practice):
        assert db.session.get(User, owner_id).role == "scheduler"
        assert db.session.get(User, second_id).role == "owner"
        assert db.session.get(User, second_id).is_active_account


def test_deactivation_ends_a_logged_in_staff_members_session_at_once(
    make_practice, make_staff, visit, in_practice
):
    practice = make_practice()
    owner = logged_in(visit, practice, practice.owner_email)
    email = make_staff(practice, "scheduler", name="Sam Scheduler")
    member = user_id(in_practice, practice, email)
    laptop, phone = logged_in(visit, practice, email), logged_in(visit, practice, email)
    assert laptop.get("/clients").status_code == 200

    page = f"/staff/{member}"
    assert owner.post(f"/staff/{member}/deactivate", form_page=page).status_code == 302
    for device in (laptop, phone):
        response = device.get("/clients")
        assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert visit(practice).login(email).status_code == 400
    assert "Deactivated" in owner.get("/staff").get_data(as_text=True)
    with in_practice(practice):
        assert "deactivated staff" in db.session.scalars(select(AuditEvent.action)).all()

    assert owner.post(f"/staff/{member}/reactivate", form_page=page).status_code == 302
    assert visit(practice).login(email).status_code == 302
    assert not is_logged_in(laptop)  # the old sessions stay ended


def test_staff_ids_of_another_practice_are_404(make_practice, make_staff, make_client, visit, in_practice):
    """Staff of the other practice: their ids answer 404 here and their names never show."""
    a, b = make_practice(name="Alpha Rooms"), make_practice(name="Beta Rooms")
    for _ in range(3):
        make_staff(b, "clinician", name="Beta Only Clinician")
    b_id = user_id(in_practice, b, make_staff(b, "admin", name="Beta Only Admin"))
    owner_a = logged_in(visit, a, a.owner_email)
    assert owner_a.get(f"/staff/{b_id}").status_code == 404
    for action in ("role", "deactivate", "reactivate", "resend"):
        assert (
            owner_a.post(f"/staff/{b_id}/{action}", {"role": "intern"}, form_page="/staff/invite").status_code
            == 404
        )
    listing = owner_a.get("/staff").get_data(as_text=True)
    assert "Beta Only" not in listing and "Beta Rooms" not in listing
    # A client login is not a staff member either.
    make_client(a, email=f"client@{a.slug}.example.com", login=True)
    assert owner_a.get(f"/staff/{user_id(in_practice, a, f'client@{a.slug}.example.com')}").status_code == 404
    with in_practice(b):
        assert db.session.get(User, b_id).role == "admin" and db.session.get(User, b_id).is_active_account


def test_an_activation_link_of_another_practice_is_refused(make_practice, visit, mailbox, run_jobs):
    """The other practice's activation link does nothing here."""
    a, b = make_practice(), make_practice()
    owner_b = logged_in(visit, b, b.owner_email)
    email = f"moved@{b.slug}.example.com"
    invite(owner_b, "Beta Person", email)
    run_jobs()
    path = activation_path(mailbox, b, email)
    elsewhere = visit(a)
    assert elsewhere.get(path).status_code == 410
    refused = elsewhere.post(path, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}, form_page="/login")
    assert refused.status_code == 410
    assert visit(b).get(path).status_code == 200  # still good at home
