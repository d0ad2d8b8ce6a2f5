"""The batch's wire-form emails (`notifications.raw`) read as `build_message`'s do: the same
headers, plain text, HTML and inline logo, whatever the practice's name or subject holds."""

from __future__ import annotations

import email
import email.policy

from blueprints.notifications.look import EmailLook
from blueprints.notifications.raw import raw_message
from blueprints.notifications.service import build_message, queue_email
from tests.fixtures_documents import png_bytes

BODY = (
    "Hello Zoë,\n\nA reminder: Friday 27 November, 15:00.\n\n"
    "Your portal: http://x.example/l/abc\n\n.dot line\n"
)


def _parsed(data: bytes):
    return email.message_from_bytes(data, policy=email.policy.default)


def test_a_raw_email_reads_as_the_built_one(make_practice, in_practice):
    practice = make_practice("Zoë's Café Practice — Lisboa")
    with in_practice(practice):
        queued = queue_email("robin@example.net", "Rappel : rendez-vous — vendredi", BODY)
        look = EmailLook(name="Zoë's Café", accent="#123456", logo=png_bytes(), logo_type="image/png")
        raw = _parsed(raw_message(queued, look=look).data)
        built = _parsed(build_message(queued, look=look).as_bytes(policy=email.policy.SMTP))
        plain = queued.to_address
    for name in ("From", "To", "Subject", "Date", "Message-ID"):
        assert str(raw[name]) == str(built[name]), name
    assert raw["To"] == plain
    assert raw.get_body(("plain",)).get_content() == BODY  # exactly as queued
    assert built.get_body(("plain",)).get_content().replace("\r\n", "\n") == BODY
    raw_html = raw.get_body(("html",)).get_content()
    assert "Zoë" in raw_html and "http://x.example/l/abc" in raw_html and "#123456" in raw_html
    [logo] = [part for part in raw.walk() if part.get_content_type() == "image/png"]
    assert logo.get_content() == png_bytes()
    assert f"cid:{logo['Content-ID'].strip('<>')}" in raw_html


def test_an_email_with_an_attachment_is_built_and_flattened(make_practice, in_practice):
    practice = make_practice()
    with in_practice(practice):
        queued = queue_email(
            "robin@example.net",
            "Invite",
            "Hello",
            attachment=("invite.ics", "text/calendar; method=REQUEST", "BEGIN:VCALENDAR\nEND:VCALENDAR\n"),
        )
        raw = _parsed(raw_message(queued).data)
    [part] = [part for part in raw.walk() if part.get_content_type() == "text/calendar"]
    assert "BEGIN:VCALENDAR" in part.get_content()
