"""Text messages: the practice's Twilio account (token sealed), a client's opt-in, reminders by text,
STOP by the inbound webhook, Twilio error 21610 and delivery status callbacks, each webhook believed
only with a valid signature over its public URL. The provider is a local fake of Twilio's HTTP API
on 127.0.0.1 (the Twilio client's base URL points at it), never the real service."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
from sqlalchemy import select, text
from twilio.request_validator import RequestValidator

from blueprints.automations.reminders import run_periodic
from blueprints.notifications.automated import message_settings
from blueprints.notifications.models import SmsMessage
from blueprints.people.models import Client
from tenants.database import db
from tests.test_profile_links import follow_link, issue_link  # noqa: F401 (the fixture issue_link)
from tests.test_reminders import book_long_ago

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "fake-twilio-auth-token-0123456789"
FROM_NUMBER = "+16502530000"
CLIENT_NUMBER = "+14155550100"


class FakeTwilio:
    """Twilio's Messages API, as much of it as the client library uses to send one text."""

    def __init__(self):
        self.sent: list[dict] = []
        self.opted_out: set[str] = set()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                form = {
                    k: v[0]
                    for k, v in parse_qs(
                        self.rfile.read(int(self.headers["Content-Length"])).decode()
                    ).items()
                }
                if not self.path.endswith(f"/Accounts/{ACCOUNT_SID}/Messages.json"):
                    return self._answer(404, {"code": 20404, "message": "Not found", "status": 404})
                if form.get("To") in fake.opted_out:
                    return self._answer(
                        400,
                        {
                            "code": 21610,
                            "message": "Attempt to send to unsubscribed recipient",
                            "status": 400,
                        },
                    )
                sid = "SM" + uuid.uuid4().hex
                fake.sent.append({**form, "sid": sid, "authorization": self.headers.get("Authorization")})
                self._answer(201, {"sid": sid, "status": "queued", "to": form["To"], "from": form["From"]})

            def _answer(self, status, payload):
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def twilio(app):
    fake = FakeTwilio()
    settings = app.config["PORTICO"]
    settings.twilio_base_url = fake.url
    yield fake
    settings.twilio_base_url = None
    fake.server.shutdown()


@pytest.fixture
def texting(make_practice, make_staff, make_client, open_for_booking, visit, in_practice, twilio):
    """A practice with its Twilio account saved through the settings page, reminders by text, and a
    client with a login who opted in from the portal."""
    practice = make_practice("Serenity Therapy")
    clinician = make_staff(practice, "clinician", name="Dr Alma Reyes")
    service_id = open_for_booking(practice, clinician, hours=(0, 23))
    email = f"robin-{uuid.uuid4().hex[:6]}@example.net"
    client = make_client(practice, "Robin", email=email, login=True, clinicians=(clinician,))
    owner = visit(practice)
    owner.login(practice.owner_email)
    saved = owner.post(
        "/settings/messages/sms",
        {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "from_number": "(650) 253-0000"},
    )
    assert saved.status_code == 302
    with in_practice(practice):
        message_settings().reminder_channel = "sms"
        db.session.commit()
    robin = visit(practice)
    robin.login(email)
    robin.get("/portal/choose")
    refused = robin.post("/portal/texts", {"number": "12345"})
    assert refused.status_code == 400 and "country code" in refused.get_data(as_text=True)
    assert robin.post("/portal/texts", {"number": "(415) 555-0100"}).status_code == 302
    return practice, {"clinician": clinician, "service": service_id, "client": client.id, "email": email}


def _remind(in_practice, practice, ids, run_jobs, days=3):
    """An appointment `days` ahead, booked long ago; the worker runs a day before it."""
    starts_at = (datetime.now(UTC) + timedelta(days=days)).replace(hour=10, minute=0, second=0, microsecond=0)
    book_long_ago(in_practice, practice, ids, starts_at)
    with in_practice(practice):
        run_periodic(starts_at - timedelta(hours=24))
    run_jobs()


def _signed(url: str, params: dict) -> dict:
    return {"X-Twilio-Signature": RequestValidator(AUTH_TOKEN).compute_signature(url, params)}


def test_the_token_is_sealed_and_a_reminder_goes_by_text(
    texting, in_practice, run_jobs, twilio, admin_engine, mailbox
):
    practice, ids = texting
    with admin_engine.connect() as conn:
        stored = conn.execute(
            text(f"SELECT auth_token_sealed FROM tenant_{practice.id}.sms_settings")
        ).scalar()
    assert AUTH_TOKEN.encode() not in bytes(stored)
    _remind(in_practice, practice, ids, run_jobs)
    [sent] = twilio.sent
    assert sent["To"] == CLIENT_NUMBER and sent["From"] == FROM_NUMBER
    assert sent["Body"].startswith("Reminder: ") and "/l/" in sent["Body"]
    assert not any(word in sent["Body"] for word in ("Serenity", "Therapy", "Reyes"))
    assert sent["StatusCallback"] == f"http://{practice.host}/sms/status"
    assert mailbox.to(ids["email"]) == []  # texted instead of emailed
    with in_practice(practice):
        [message] = db.session.scalars(select(SmsMessage)).all()
        assert (
            message.status == "sent" and message.body_sealed is None and message.provider_sid == sent["sid"]
        )


def test_status_callbacks_are_verified_and_21610_opts_the_number_out(
    texting, in_practice, run_jobs, twilio, visit
):
    practice, ids = texting
    _remind(in_practice, practice, ids, run_jobs)
    sid = twilio.sent[0]["sid"]
    url = f"http://{practice.host}/sms/status"
    params = {"MessageSid": sid, "MessageStatus": "undelivered", "ErrorCode": "21610"}
    webhook = visit(practice)
    assert (
        webhook.client.post("/sms/status", base_url=f"http://{practice.host}", data=params).status_code == 403
    )
    with in_practice(practice):
        assert db.session.get(Client, ids["client"]).sms_opted_out_at is None  # unsigned: nothing changed
    answer = webhook.client.post(
        "/sms/status", base_url=f"http://{practice.host}", data=params, headers=_signed(url, params)
    )
    assert answer.status_code == 204
    with in_practice(practice):
        assert db.session.get(Client, ids["client"]).sms_opted_out_at is not None
        [message] = db.session.scalars(select(SmsMessage)).all()
        assert message.status == "undelivered" and message.error_code == "21610"


def test_stop_by_text_is_honoured_and_a_refused_send_opts_out_too(
    texting, in_practice, run_jobs, twilio, visit, mailbox
):
    practice, ids = texting
    url = f"http://{practice.host}/sms/inbound"
    params = {"From": CLIENT_NUMBER, "To": FROM_NUMBER, "Body": " stop "}
    webhook = visit(practice)
    forged = {"X-Twilio-Signature": RequestValidator("another-token").compute_signature(url, params)}
    assert (
        webhook.client.post(
            "/sms/inbound", base_url=f"http://{practice.host}", data=params, headers=forged
        ).status_code
        == 403
    )
    answer = webhook.client.post(
        "/sms/inbound", base_url=f"http://{practice.host}", data=params, headers=_signed(url, params)
    )
    assert answer.status_code == 200 and "<Response>" in answer.get_data(as_text=True)
    _remind(in_practice, practice, ids, run_jobs)
    assert twilio.sent == []  # opted out: the reminder goes by email instead
    assert [m["Subject"][:9] for m in mailbox.to(ids["email"])] == ["Reminder:"]

    with in_practice(practice):  # they opt in again; the provider says the number is unsubscribed
        client = db.session.get(Client, ids["client"])
        client.sms_opted_out_at = None
        db.session.commit()
    twilio.opted_out.add(CLIENT_NUMBER)
    _remind(in_practice, practice, ids, run_jobs, days=6)
    with in_practice(practice):
        assert db.session.get(Client, ids["client"]).sms_opted_out_at is not None
        assert [m.error_code for m in db.session.scalars(select(SmsMessage))] == ["21610"]


def test_without_an_account_the_webhooks_are_not_there(make_practice, visit):
    practice = make_practice()
    answer = visit(practice).client.post(
        "/sms/inbound", base_url=f"http://{practice.host}", data={"Body": "STOP"}
    )
    assert answer.status_code == 404


def test_a_link_session_steps_up_before_changing_the_texts_number(
    texting, issue_link, visit, in_practice  # noqa: F811
):
    """The number on the texts page gets every reminder's fresh profile link: a link holder who
    has not stepped up is sent to the step-up, and the number stays."""
    practice, ids = texting
    with in_practice(practice):
        client = db.session.get(Client, ids["client"])
        before = client.sms_number
    holder = visit(practice)
    follow_link(holder, issue_link(practice, client))
    changed = holder.post("/portal/texts", {"number": "+1 (415) 555-0199"}, form_page="/verify")
    assert changed.status_code == 302 and "/verify" in changed.headers["Location"]
    assert holder.get("/portal/texts").status_code == 302
    with in_practice(practice):
        assert db.session.get(Client, ids["client"]).sms_number == before
