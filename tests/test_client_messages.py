"""Automated client messages of other features (forms to complete, a document shared), a minor's
guardians each told with their OWN profile link within their grant, and texts for every event.
Mail goes to the real test SMTP server (aiosmtpd)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from blueprints.auth.models import User
from blueprints.notifications.automated import message_settings
from blueprints.people.models import Client, PortalAccess
from tenants.database import db
from tenants.features import practice_settings
from tests import test_sms
from tests.conftest import Mailbox
from tests.fixtures_documents import pdf_bytes
from tests.test_automated_messages import end_holds

texting, twilio = test_sms.texting, test_sms.twilio  # fixtures of the SMS tests

LINK = re.compile(r"http://[^/\s]+(/l/[A-Za-z0-9_-]{43})")
FORM_TITLE = "Zebra intake questionnaire"


def _owner():
    return db.session.scalars(select(User).where(User.role == "owner")).first()


def _share_forms(in_practice, practice, client_id, count=1):
    from blueprints.onboarding.operations import library, record

    with in_practice(practice):
        owner = _owner()
        client = db.session.get(Client, client_id)
        for number in range(count):
            form = library.import_form(
                owner,
                {
                    "resourceType": "Questionnaire",
                    "status": "active",
                    "title": f"{FORM_TITLE} {number}",
                    "item": [{"linkId": "why", "type": "text", "text": "Why now?"}],
                },
            )
            record.share_form(owner, client, form.id)
        db.session.commit()


@pytest.fixture
def adult(make_practice, make_client, in_practice):
    practice = make_practice()
    email = f"adult-{uuid.uuid4().hex[:6]}@example.net"
    client = make_client(practice, "Robin", email=email, login=True)
    with in_practice(practice):
        practice_settings().portal_enabled = True
        db.session.commit()
    return practice, client


def test_forms_to_complete_are_held_collapsed_and_never_name_a_form(
    adult, in_practice, mailbox: Mailbox, run_jobs
):
    practice, client = adult
    _share_forms(in_practice, practice, client.id, count=2)
    run_jobs()
    end_holds(in_practice, practice)
    run_jobs()
    [message] = mailbox.to(client.email)  # two forms shared in a row: one message
    body = Mailbox.body(message)
    assert message["Subject"] == f"{practice.record.name}: forms to complete"
    assert "Hello Robin," in body and LINK.search(body)
    assert "Zebra" not in message.as_string() and "intake" not in message.as_string().lower()


def test_forms_to_complete_can_be_switched_off(adult, in_practice, mailbox: Mailbox, run_jobs):
    practice, client = adult
    with in_practice(practice):
        message_settings().events = {"forms_to_complete": False}
        db.session.commit()
    _share_forms(in_practice, practice, client.id)
    end_holds(in_practice, practice)
    run_jobs()
    assert mailbox.to(client.email) == []


def test_a_shared_document_is_announced_without_its_name(
    adult, in_practice, mailbox: Mailbox, run_jobs, use_clamd, use_local_storage
):
    from blueprints.documents.operations.uploads import Incoming, share_file

    practice, client = adult
    with in_practice(practice):
        share_file(_owner(), db.session.get(Client, client.id), Incoming("Kestrel plan.pdf", pdf_bytes("x")))
        db.session.commit()
    end_holds(in_practice, practice)
    run_jobs()
    [message] = mailbox.to(client.email)
    assert message["Subject"] == f"{practice.record.name} shared a document with you"
    assert "Kestrel" not in message.as_string() and LINK.search(Mailbox.body(message))


def test_the_settings_page_and_preview_know_the_new_events(adult, visit):
    practice, _ = adult
    owner = visit(practice)
    owner.login(practice.owner_email)
    page = owner.get("/settings/messages").get_data(as_text=True)
    assert 'name="event_forms_to_complete"' in page and 'name="event_document_shared"' in page
    assert 'name="body_forms_to_complete"' in page and 'name="body_document_shared"' in page


# ---------------------------------------------------------------------------------------------
# A minor's guardians: each their own link, within their grant
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def family(make_practice, make_client, grant_portal, in_practice):
    """A minor with two guardians: A may see forms and appointments, B appointments only."""
    practice = make_practice()
    with in_practice(practice):
        settings = practice_settings()
        settings.portal_enabled = settings.guardian_access_enabled = True
        db.session.commit()
    teen = make_client(practice, "Sky", date_of_birth=date.today().replace(year=date.today().year - 12))
    a = f"guardian-a-{uuid.uuid4().hex[:6]}@example.net"
    b = f"guardian-b-{uuid.uuid4().hex[:6]}@example.net"
    grant_portal(practice, teen, a, can_appointments=True, can_forms=True)
    grant_portal(practice, teen, b, can_appointments=True, can_forms=False)
    return practice, teen, a, b


def _open(visitor, path):
    assert visitor.get(path).status_code == 200
    return visitor.post(path, form_page=path)


def test_a_guardian_gets_their_own_link_and_one_without_the_grant_gets_nothing(
    family, in_practice, mailbox: Mailbox, run_jobs, visit
):
    practice, teen, a, b = family
    _share_forms(in_practice, practice, teen.id)
    end_holds(in_practice, practice)
    run_jobs()
    assert mailbox.to(b) == []  # B's grant does not cover forms
    [message] = mailbox.to(a)
    path = LINK.search(Mailbox.body(message)).group(1)
    with in_practice(practice):
        from app.tokens import token_hash
        from blueprints.profile_links.models import ProfileLink

        link = db.session.scalars(
            select(ProfileLink).where(ProfileLink.token_hash == token_hash(path.rsplit("/", 1)[1]))
        ).one()
        access = db.session.get(PortalAccess, link.portal_access_id)
        assert access.user.email == a and link.client_id == teen.id
    visitor = visit(practice)
    opened = _open(visitor, path)
    assert opened.status_code == 302
    home = visitor.get("/portal")
    assert home.status_code == 200
    text = home.get_data(as_text=True)
    assert f"Welcome, Person {a.split('@')[0]}" in text  # the guardian's own session...
    assert "You are acting for <strong>Sky" in text  # ...acting for the minor
    # Before a step-up the guardian's link opens appointments only.
    assert visitor.get("/portal/forms").status_code in (302, 303)


def test_guardian_a_link_never_lets_in_guardian_b_and_dies_with_the_grant(
    family, in_practice, mailbox: Mailbox, run_jobs, visit
):
    practice, teen, a, b = family
    _share_forms(in_practice, practice, teen.id)
    end_holds(in_practice, practice)
    run_jobs()
    path = LINK.search(Mailbox.body(mailbox.to(a)[0])).group(1)
    visitor = visit(practice)
    _open(visitor, path)
    with in_practice(practice):
        guardian_b = db.session.scalars(select(User).where(User.email == b)).one()
    page = visitor.get("/portal").get_data(as_text=True)
    assert f"Welcome, Person {a.split('@')[0]}" in page and guardian_b.name not in page
    # A's step-up is A's own: the code goes to A's address, never the minor's or B's.
    verify = visitor.get("/verify?next=/portal/forms").get_data(as_text=True)
    assert f"{a[0]}***@example.net" in verify
    assert f"{b[0]}***" not in verify.replace(f"{a[0]}***", "")
    # Revoking A's grant ends A's session at once and kills A's unused links.
    with in_practice(practice):
        access = db.session.scalars(
            select(PortalAccess).join(User, User.id == PortalAccess.user_id).where(User.email == a)
        ).one()
        access.revoked_at = datetime.now(UTC)
        db.session.commit()
    assert visitor.get("/portal").status_code in (302, 303)
    with in_practice(practice):
        access.revoked_at = None
        db.session.commit()
    again = visit(practice)
    assert again.get(path).status_code == 404  # used already


# ---------------------------------------------------------------------------------------------
# Texts for every event the practice chose, to clients who agreed
# ---------------------------------------------------------------------------------------------


def test_each_event_goes_by_text_only_when_the_practice_chose_it(
    texting,
    in_practice,
    run_jobs,
    twilio,
    mailbox: Mailbox,
    visit,
):
    from tests.test_sms import CLIENT_NUMBER

    practice, ids = texting
    owner = visit(practice)
    owner.login(practice.owner_email)
    page = owner.get("/settings/messages").get_data(as_text=True)
    assert 'name="sms_forms_to_complete"' in page and 'name="sms_reminder"' not in page
    with in_practice(practice):
        message_settings().sms_kinds = {"forms_to_complete": True, "document_shared": False}
        db.session.commit()
    _share_forms(in_practice, practice, ids["client"])
    end_holds(in_practice, practice)
    run_jobs()
    [sent] = twilio.sent
    assert sent["To"] == CLIENT_NUMBER and "/l/" in sent["Body"]
    assert "Zebra" not in sent["Body"] and "Serenity" not in sent["Body"] and "Therapy" not in sent["Body"]
    assert sent["Body"].startswith("Something to complete:")
    assert mailbox.to(ids["email"]) == []  # texted instead of emailed
    # A kind the practice did not choose goes by email, as before.
    from blueprints.documents.client_messages import document_shared

    with in_practice(practice):
        document_shared(ids["client"])
        db.session.commit()
    end_holds(in_practice, practice)
    run_jobs()
    assert len(twilio.sent) == 1 and len(mailbox.to(ids["email"])) == 1


def test_a_client_without_texts_is_emailed_even_when_the_practice_texts(
    adult, in_practice, run_jobs, mailbox: Mailbox
):
    practice, client = adult
    with in_practice(practice):
        message_settings().sms_kinds = {"forms_to_complete": True}
        db.session.commit()
    _share_forms(in_practice, practice, client.id)
    end_holds(in_practice, practice)
    run_jobs()
    assert len(mailbox.to(client.email)) == 1


def test_staff_make_one_client_discreet_on_the_client_form(adult, visit, in_practice, run_jobs, mailbox):
    practice, client = adult
    first, last = client.name.split(" ", 1)
    owner = visit(practice)
    owner.login(practice.owner_email)
    path = f"/clients/{client.id}/edit"
    assert 'name="discreet_messages"' in owner.get(path).get_data(as_text=True)
    fields = {"first_name": first, "last_name": last, "email": client.email}
    assert owner.post(path, {**fields, "discreet_messages": "y"}).status_code == 302
    with in_practice(practice):
        assert db.session.get(Client, client.id).discreet_messages is True
    _share_forms(in_practice, practice, client.id)
    end_holds(in_practice, practice)
    run_jobs()
    [message] = mailbox.to(client.email)
    assert message["Subject"] == "Something to complete"
    assert practice.record.name not in message.as_string()
    assert owner.post(path, fields).status_code == 302  # unticked: ordinary messages again
    with in_practice(practice):
        assert db.session.get(Client, client.id).discreet_messages is False


def _settings_form(page: str) -> dict:
    form = dict(
        re.findall(
            r'<input class="form-control" type="(?:text|number)" name="([^"]+)" id="[^"]+" value="([^"]*)"',
            page,
        )
    )
    form.update(re.findall(r'<textarea class="form-control" name="([^"]+)"[^>]*>([^<]*)</textarea>', page))
    return form


def test_the_digest_hour_is_set_by_owners_on_the_messages_settings(adult, visit, in_practice, make_staff):
    practice, _ = adult
    owner = visit(practice)
    owner.login(practice.owner_email)
    page = owner.get("/settings/messages").get_data(as_text=True)
    assert '<option value="7" selected>07:00</option>' in page
    form = _settings_form(page)
    refused = owner.post("/settings/messages", {**form, "digest_hour": "25"})
    assert refused.status_code == 400 and "digest" in refused.get_data(as_text=True)
    assert owner.post("/settings/messages", {**form, "digest_hour": "9"}).status_code == 302
    with in_practice(practice):
        assert practice_settings().digest_hour == 9
    assert owner.post("/settings/messages", form).status_code == 302  # not posted: kept
    with in_practice(practice):
        assert practice_settings().digest_hour == 9
    clinician = visit(practice)
    clinician.login(make_staff(practice, "clinician"))
    assert clinician.post("/settings/messages", {**form, "digest_hour": "3"}).status_code == 403


# ---------------------------------------------------------------------------------------------
# The digest counts from the features' own tables, over what each staff member may see
# ---------------------------------------------------------------------------------------------


def test_the_digest_counts_from_source_tables_within_each_staff_members_clients(
    make_practice, make_staff, make_client, in_practice
):
    from blueprints.auth.service import find_user_by_email
    from blueprints.messaging.service import send_from_portal, staff_reply
    from blueprints.onboarding.operations import library, record, responses
    from blueprints.portal.service import SELF
    from blueprints.portal.viewer import Viewer
    from blueprints.staff_notifications.digest import digest_text

    practice = make_practice()
    alma = make_staff(practice, "clinician", name="Dr Alma Reyes")
    mine = make_client(practice, "Robin", email="robin@example.net", clinicians=(alma,))
    other = make_client(practice, "Noor", email="noor@example.net")
    with in_practice(practice):
        practice_settings().portal_enabled = True
        owner = _owner()
        form = library.import_form(
            owner,
            {
                "resourceType": "Questionnaire",
                "status": "active",
                "title": "Intake",
                "item": [{"linkId": "why", "type": "string", "text": "Why now?"}],
            },
        )
        for fixture in (mine, other):
            client = db.session.get(Client, fixture.id)
            viewer = Viewer("client", client, SELF, name=fixture.name)
            send_from_portal(viewer, "Secret words about my week")
            record.share_form(owner, client, form.id)
            responses.submit(viewer, form.id, {"why": ["Because"]})
        staff_reply(owner, db.session.get(Client, other.id), "client", "Answered", date.today())
        db.session.commit()
        day = datetime.now(UTC).astimezone(practice_settings_zone()).date()
        clinician_text = digest_text(find_user_by_email(alma), day)
        owner_text = digest_text(owner, day)
    assert "Client messages waiting for a reply: 1" in clinician_text  # Robin's; Noor is not hers
    assert "Client messages waiting for a reply: 1" in owner_text  # Noor's was answered
    assert "Forms completed since your last digest: 1" in clinician_text
    assert "Forms completed since your last digest: 2" in owner_text
    for text in (clinician_text, owner_text):
        assert "Robin" not in text and "Noor" not in text and "Secret" not in text and "Intake" not in text


def practice_settings_zone():
    from tenants.features import practice_zone

    return practice_zone()
