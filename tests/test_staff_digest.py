"""Staff notification emails: the new kinds (requests, client messages, undelivered emails), each
staff member's preference (at once, digest, never; urgent kinds always at once), the daily digest from
a given "now" (DST included, once per staff member and local date), and the one-click unsubscribe
without login (works once, forged or another practice's token 404). Mail goes to the real test SMTP
server (aiosmtpd); emails never name a client or quote a message."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from blueprints.auth.service import find_user_by_email
from blueprints.automations.reminders import run_periodic
from blueprints.notifications.service import give_up, queue_email
from blueprints.onboarding.operations.responses import FORM_FLAGGED
from blueprints.people.models import Client
from blueprints.scheduling.models import Service
from blueprints.scheduling.operations.requests import request_new
from blueprints.staff_notifications.digest import next_digest_at, send_digests
from blueprints.staff_notifications.email import ALERT_KIND, preference
from blueprints.staff_notifications.models import StaffNotification
from blueprints.staff_notifications.service import notify_staff
from tenants.database import db
from tenants.features import practice_settings
from tests.conftest import Mailbox

NEW_YORK = ZoneInfo("America/New_York")
URGENT = FORM_FLAGGED  # the PHQ-9 item 9 flag: always emailed at once
TOKEN_PATH = re.compile(r"/u/([0-9]+\.[0-9a-f]+)")


@pytest.fixture
def world(make_practice, make_staff, make_client, open_for_booking, in_practice):
    practice = make_practice()
    clinician = make_staff(practice, "clinician", name="Dr Alma Reyes")
    service_id = open_for_booking(practice, clinician, hours=(0, 23))
    email = f"robin-{uuid.uuid4().hex[:6]}@example.net"
    client = make_client(practice, "Robin", "Quillfeather", email=email, clinicians=(clinician,), login=True)
    with in_practice(practice):
        practice_settings().time_zone = "America/New_York"
        db.session.commit()
    return practice, {"clinician": clinician, "service": service_id, "client": client.id, "email": email}


def _set_mode(in_practice, practice, staff_email, mode):
    with in_practice(practice):
        preference(find_user_by_email(staff_email).id).email_mode = mode
        db.session.commit()


def _notify(in_practice, practice, ids, kind=URGENT):
    with in_practice(practice):
        notify_staff(kind, db.session.get(Client, ids["client"]), "staff_notifications.index")
        db.session.commit()


def _kinds_of(in_practice, practice, staff_email):
    with in_practice(practice):
        user = find_user_by_email(staff_email)
        return sorted(
            db.session.scalars(select(StaffNotification.kind).where(StaffNotification.user_id == user.id))
        )


def _assert_discreet(message):
    text = Mailbox.body(message) + message["Subject"]
    assert "Robin" not in text and "Quillfeather" not in text


def test_a_client_request_and_message_tell_staff_at_once_without_naming_anyone(
    world, in_practice, visit, run_jobs, mailbox
):
    practice, ids = world
    with in_practice(practice):
        practice_settings().portal_enabled = True
        request_new(
            db.session.get(Client, ids["client"]),
            find_user_by_email(ids["clinician"]),
            db.session.get(Service, ids["service"]),
            datetime.now(UTC) + timedelta(days=3),
            requested_by=None,
        )
        db.session.commit()
    client = visit(practice)
    client.login(ids["email"])
    client.get("/portal/choose")
    page = client.get("/portal").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    response = client.post(
        "/portal/messages", {"body": "my secret worry", "csrf_token": token}, form_page=False
    )
    assert response.status_code == 302
    run_jobs()
    assert _kinds_of(in_practice, practice, ids["clinician"]) == ["appointment_request", "client_message"]
    sent = mailbox.to(ids["clinician"])
    assert len(sent) == 2
    for message in sent:
        _assert_discreet(message)
        assert "secret worry" not in Mailbox.body(message)
        assert f"http://{practice.host}/notifications" in Mailbox.body(message)
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_an_undelivered_email_tells_the_managers_but_a_staff_alert_tells_no_one(world, in_practice):
    practice, ids = world
    with in_practice(practice):
        lost = queue_email("someone@example.net", "Hello", "Body")
        alert = queue_email("staff@example.net", "Alert", "Body", kind=ALERT_KIND)
        db.session.commit()
        give_up(RuntimeError("refused"), lost.id)
        give_up(RuntimeError("refused"), alert.id)
    assert _kinds_of(in_practice, practice, practice.owner_email) == ["email_undelivered"]
    assert _kinds_of(in_practice, practice, ids["clinician"]) == []


@pytest.mark.parametrize(("mode", "plain", "urgent"), [("now", 1, 1), ("digest", 0, 1), ("never", 0, 1)])
def test_the_preference_decides_what_is_emailed_at_once(
    world, in_practice, run_jobs, mailbox, mode, plain, urgent
):
    practice, ids = world
    _set_mode(in_practice, practice, ids["clinician"], mode)
    _notify(in_practice, practice, ids, kind="document_uploaded")
    run_jobs()
    assert len(mailbox.to(ids["clinician"])) == plain
    mailbox.clear()
    _notify(in_practice, practice, ids, kind=URGENT)  # an item-9 style flag: always at once
    run_jobs()
    assert len(mailbox.to(ids["clinician"])) == urgent
    assert len(_kinds_of(in_practice, practice, ids["clinician"])) == 2  # the list has both, whatever


def test_the_digest_goes_once_at_the_local_hour_across_dst(world, in_practice, run_jobs, mailbox):
    practice, ids = world
    _set_mode(in_practice, practice, ids["clinician"], "digest")
    _set_mode(in_practice, practice, practice.owner_email, "never")
    _notify(in_practice, practice, ids, kind="client_message")
    # 2027-03-14: New York moves from EST (UTC-5) to EDT (UTC-4) at 02:00.
    before_change = datetime(2027, 3, 13, 12, 0, tzinfo=UTC)  # 07:00 EST
    after_change = datetime(2027, 3, 14, 11, 0, tzinfo=UTC)  # 07:00 EDT: 23 hours later
    with in_practice(practice):
        assert practice_settings().digest_hour == 7
        assert next_digest_at(before_change - timedelta(minutes=1)) == before_change
        assert next_digest_at(before_change) == after_change
        assert send_digests(before_change - timedelta(minutes=1)) == 0  # 06:59 local: not yet
        db.session.commit()
    with in_practice(practice):
        assert run_periodic(before_change) == 0  # queued through the outbox, not a reminder batch
    with in_practice(practice):
        assert send_digests(before_change + timedelta(hours=5)) == 0  # a restart, a second worker
        assert send_digests(after_change - timedelta(minutes=1)) == 0  # 06:59 EDT
        assert send_digests(after_change) == 1
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(select(StaffNotification).subquery())) >= 1
    run_jobs()
    digests = [m for m in mailbox.to(ids["clinician"]) if m["Subject"] == "Your daily digest"]
    assert len(digests) == 2
    assert mailbox.to(practice.owner_email) == []
    body = Mailbox.body(digests[0])
    assert "Saturday 13 March 2027" in body
    assert "Unread:" not in body  # counted from the features' tables, not from notifications
    assert "Client messages waiting for a reply: 0" in body and "Pending requests: 0" in body
    assert "Forms completed since your last digest: 0" in body and "Uploads to review: 0" in body
    assert "Appointments today: 0" in body
    _assert_discreet(digests[0])
    assert digests[0]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert TOKEN_PATH.search(digests[0]["List-Unsubscribe"])


def test_one_click_unsubscribe_works_once_without_login(
    world, in_practice, make_practice, visit, run_jobs, mailbox
):
    practice, ids = world
    _notify(in_practice, practice, ids, kind="document_uploaded")
    run_jobs()
    [message] = mailbox.to(ids["clinician"])
    token = TOKEN_PATH.search(message["List-Unsubscribe"]).group(1)
    other = make_practice()
    assert visit(other).post(f"/u/{token}", form_page=False).status_code == 404  # another practice
    forged = token[:-1] + ("0" if token[-1] != "0" else "1")
    anyone = visit(practice)
    assert anyone.post(f"/u/{forged}", form_page=False).status_code == 404
    assert anyone.get(f"/u/{forged}").status_code == 404
    page = anyone.get(f"/u/{token}")
    assert page.status_code == 200 and "Stop these emails" in page.get_data(as_text=True)
    done = anyone.post(f"/u/{token}", form_page=False)  # one-click: no login, no form token
    assert done.status_code == 200 and "stopped" in done.get_data(as_text=True)
    with in_practice(practice):
        assert preference(find_user_by_email(ids["clinician"]).id).email_mode == "never"
    assert anyone.post(f"/u/{token}", form_page=False).status_code == 404  # spent
    mailbox.clear()
    _notify(in_practice, practice, ids, kind="document_uploaded")
    run_jobs()
    assert mailbox.to(ids["clinician"]) == []


def test_the_preferences_page(world, in_practice, visit):
    practice, ids = world
    clinician = visit(practice)
    clinician.login(ids["clinician"])
    page = clinician.get("/account/notifications").get_data(as_text=True)
    assert "Email me about notifications" in page and "digest_hour" not in page
    response = clinician.post("/account/notifications", {"email_mode": "digest"})
    assert response.status_code == 302
    assert clinician.post("/account/notifications", {"email_mode": "weekly"}).status_code == 400
    owner = visit(practice)
    owner.login(practice.owner_email)
    assert "digest_hour" not in owner.get("/account/notifications").get_data(as_text=True)  # moved
    assert owner.post("/account/notifications", {"email_mode": "now", "digest_hour": "9"}).status_code == 302
    with in_practice(practice):
        assert preference(find_user_by_email(ids["clinician"]).id).email_mode == "digest"
        assert practice_settings().digest_hour == 7  # the practice's hour is set on /settings/messages
    assert visit(practice).get("/account/notifications").status_code in (302, 401, 403)


def test_a_real_item_9_flag_is_emailed_at_once_even_to_staff_who_chose_never(
    world, in_practice, run_jobs, mailbox
):
    from blueprints.auth.models import User
    from blueprints.onboarding.operations import library, record, responses
    from blueprints.onboarding.operations.instruments import PHQ9
    from blueprints.portal.service import SELF
    from blueprints.portal.viewer import Viewer

    practice, ids = world
    _set_mode(in_practice, practice, ids["clinician"], "never")
    with in_practice(practice):
        practice_settings().crisis_resources = "Call the crisis line"
        owner = db.session.scalars(select(User).where(User.role == "owner")).first()
        client = db.session.get(Client, ids["client"])
        phq9 = library.ensure_builtins()[PHQ9.key]
        record.share_form(owner, client, phq9.id)
        viewer = Viewer("client", client, SELF, user_id=find_user_by_email(ids["email"]).id, name="Robin")
        answers = {code: ["http://loinc.org|LA6568-5"] for code in PHQ9.item_codes}
        answers |= {"44260-8": ["http://loinc.org|LA6569-3"], "69722-7": ["http://loinc.org|LA6572-7"]}
        assert responses.submit(viewer, phq9.id, answers).needs_attention
        db.session.commit()
    mailbox.clear()
    run_jobs()
    assert _kinds_of(in_practice, practice, ids["clinician"]) == ["form_completed", "form_flagged"]
    [message] = mailbox.to(ids["clinician"])  # the flag only: the completion follows the preference
    assert "A client's form needs your attention." in Mailbox.body(message)
    assert "PHQ" not in Mailbox.body(message) + message["Subject"]
    _assert_discreet(message)


def test_the_worker_fans_out_to_a_practice_whose_digest_is_due(
    app, world, in_practice, visit, mailbox, admin_engine
):
    import threading

    from sqlalchemy import text

    from app.jobs import run_worker

    practice, ids = world
    _set_mode(in_practice, practice, practice.owner_email, "never")
    with in_practice(practice):
        practice_settings().digest_hour = 0  # today's digest time has passed, whatever the clock says
        db.session.commit()
    clinician = visit(practice)
    clinician.login(ids["clinician"])
    assert clinician.post("/account/notifications", {"email_mode": "digest"}).status_code == 302
    due_sql = text("SELECT next_due_at FROM public.practice_due WHERE practice_id = :p")
    with admin_engine.begin() as conn:
        noted = conn.execute(due_sql, {"p": practice.id}).scalar()
        assert noted is not None and noted > datetime.now(UTC)  # tomorrow's digest, noted by the choice
        conn.execute(
            text(
                "UPDATE public.practice_due SET next_due_at = now() - interval '1 minute' "
                "WHERE practice_id = :p"
            ),
            {"p": practice.id},
        )
    for _ in range(2):  # a second worker run finds today's digest claimed
        worker = threading.Thread(
            target=run_worker, args=(app,), kwargs={"wait": False, "fan_out_first": True}
        )
        worker.start()
        worker.join(60)
    digests = [m for m in mailbox.to(ids["clinician"]) if m["Subject"] == "Your daily digest"]
    assert len(digests) == 1
    assert mailbox.to(practice.owner_email) == []
    with admin_engine.connect() as conn:
        assert conn.execute(due_sql, {"p": practice.id}).scalar() > datetime.now(UTC)
