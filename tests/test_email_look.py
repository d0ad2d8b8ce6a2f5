"""Emails in the practice's look (issue 10, "Practice identity": "the portal, emails and the login page
use them").

Every email arrives (at a real aiosmtpd server, through the real worker) as multipart/alternative: the
plain text exactly as queued, and an HTML part in the practice's accent colour with its name, its text
escaped and its links clickable, and its logo as an inline `cid:` part (never an address to fetch). A
practice without a logo sends none; one practice's logo never appears in another's mail.
"""

from __future__ import annotations

import io
import re
import uuid

from PIL import Image

from blueprints.auth.service import find_user_by_email
from blueprints.branding import service as branding
from blueprints.notifications.look import DEFAULT_ACCENT, blocks, linked
from blueprints.notifications.service import queue_email
from tenants.database import db

CID = re.compile(r'src="cid:([^"]+)"')


def png(colour: tuple[int, int, int], size=(200, 60)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


def brand(in_practice, practice, accent: str | None = None, logo: bytes | None = None) -> bytes | None:
    """Set the practice's accent and logo as its owner would; returns the logo as stored (re-encoded)."""
    with in_practice(practice):
        owner = find_user_by_email(practice.owner_email)
        if accent:
            branding.set_accent(owner, accent)
        stored = branding.set_logo(owner, logo).logo if logo else None
        db.session.commit()
        return stored


def send(in_practice, run_jobs, mailbox, practice, body: str, **kwargs):
    to = f"look-{uuid.uuid4().hex[:8]}@example.com"
    with in_practice(practice):
        queue_email(to, kwargs.pop("subject", "Your appointment"), body, **kwargs)
        db.session.commit()
    run_jobs()
    [message] = mailbox.to(to)
    return message


def html_of(message) -> str:
    return message.get_body(("html",)).get_content()


def images_of(message) -> list:
    return [part for part in message.walk() if part.get_content_maintype() == "image"]


def test_an_email_has_the_plain_text_and_an_html_part_with_accent_and_inline_logo(
    make_practice, in_practice, run_jobs, mailbox
):
    practice = make_practice(name="Harbour & Hill Therapy")
    logo = brand(in_practice, practice, accent="#6f3a7a", logo=png((10, 120, 90)))
    link = f"https://{practice.host}/l/SECRET-TOKEN_abc-123"
    body = (
        "Hello <b>Sam</b> & family,\n\nOpen your portal with this link:\n\n"
        f"{link}\n\nOr log in at https://{practice.host}/login.\nSee you soon."
    )
    message = send(in_practice, run_jobs, mailbox, practice, body)

    assert message.get_content_type() == "multipart/alternative"
    plain = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert plain == body + "\n"  # the plain text, unchanged
    html = html_of(message)
    assert "#6f3a7a" in html and DEFAULT_ACCENT not in html
    assert "Harbour &amp; Hill Therapy" in html
    assert "Hello &lt;b&gt;Sam&lt;/b&gt; &amp; family," in html and "<b>" not in html
    assert f'<a href="{link}"' in html  # the token link is a button (and a plain link beneath it)
    assert html.count(f'href="{link}"') == 2 and "Open this link" in html
    assert f'<a href="https://{practice.host}/login" ' in html  # the full stop is not part of it
    assert "<script" not in html.lower() and not re.search(r'src="(?!cid:)', html)

    [image] = images_of(message)
    [cid] = CID.findall(html)
    assert image["Content-ID"] == f"<{cid}>" and cid.endswith("@localhost")
    assert image.get_content_type() == "image/png" and image.get_content_disposition() == "inline"
    assert image.get_content() == logo
    related = next(part for part in message.walk() if part.get_content_type() == "multipart/related")
    assert [part.get_content_type() for part in related.iter_parts()] == ["text/html", "image/png"]


def test_a_practice_without_branding_gets_the_default_look_and_no_logo(
    make_practice, in_practice, run_jobs, mailbox
):
    practice = make_practice()
    message = send(in_practice, run_jobs, mailbox, practice, "Your appointment is confirmed.")
    html = html_of(message)
    assert DEFAULT_ACCENT in html and practice.record.name in html
    assert "Your appointment is confirmed." in html
    assert images_of(message) == [] and "<img" not in html and "cid:" not in html

    brand(in_practice, practice, accent="#0f6466")  # a colour but no logo: still no image
    message = send(in_practice, run_jobs, mailbox, practice, "Again.")
    assert "#0f6466" in html_of(message) and images_of(message) == []


def test_one_practices_logo_never_appears_in_anothers_mail(make_practice, in_practice, run_jobs, mailbox):
    a, b, plain = make_practice(), make_practice(), make_practice()
    logo_a = brand(in_practice, a, accent="#9b2c57", logo=png((200, 30, 30)))
    logo_b = brand(in_practice, b, accent="#2e6b3a", logo=png((30, 30, 200), size=(300, 80)))
    assert logo_a != logo_b
    tos = {}
    for practice in (a, b, plain, a, b):  # interleaved, delivered by one worker run
        to = f"iso-{uuid.uuid4().hex[:8]}@example.com"
        with in_practice(practice):
            queue_email(to, "Hello", "Hello from your practice.")
            db.session.commit()
        tos.setdefault(practice.id, []).append(to)
    run_jobs()
    for practice, own_logo, own_accent, other_logo, other_accent in (
        (a, logo_a, "#9b2c57", logo_b, "#2e6b3a"),
        (b, logo_b, "#2e6b3a", logo_a, "#9b2c57"),
    ):
        for to in tos[practice.id]:
            [message] = mailbox.to(to)
            assert [image.get_content() for image in images_of(message)] == [own_logo]
            assert other_logo not in bytes(message)
            assert own_accent in html_of(message) and other_accent not in html_of(message)
    [message] = mailbox.to(tos[plain.id][0])
    assert images_of(message) == []
    assert logo_a not in bytes(message) and logo_b not in bytes(message)


def test_an_email_with_an_invite_keeps_it_as_its_only_attachment(
    make_practice, in_practice, run_jobs, mailbox
):
    practice = make_practice()
    logo = brand(in_practice, practice, logo=png((0, 0, 0)))
    invite = "BEGIN:VCALENDAR\r\nSUMMARY:Appointment\r\nEND:VCALENDAR\r\n"
    message = send(
        in_practice,
        run_jobs,
        mailbox,
        practice,
        "Your appointment is booked.",
        attachment=("invite.ics", "text/calendar; method=REQUEST", invite),
    )
    assert message.get_content_type() == "multipart/mixed"
    assert [part.get_filename() for part in message.iter_attachments()] == ["invite.ics"]
    assert message.get_body(("plain",)).get_content().strip() == "Your appointment is booked."
    assert "Your appointment is booked." in html_of(message)
    assert [image.get_content() for image in images_of(message)] == [logo]


def test_a_staff_reply_notification_arrives_with_a_clickable_profile_link(
    make_practice, make_client, visit, in_practice, run_jobs, mailbox
):
    """A real email of the product (a new-message notice): the link in its text works from the HTML too,
    and the HTML carries no more than the text (never the message)."""
    from tests.test_messaging import set_settings, staff_post

    practice = make_practice(name="Quiet Practice")
    set_settings(in_practice, practice, portal_enabled=True)
    brand(in_practice, practice, accent="#3d4f63")
    address = f"morgan-{uuid.uuid4().hex[:6]}@example.com"
    client = make_client(practice, first="Morgan", email=address)
    owner = visit(practice)
    owner.login(practice.owner_email)
    reply = "Your results look fine, let us talk on Friday"
    staff_post(owner, f"/clients/{client.id}/messages", {"thread": "client", "body": reply})
    run_jobs()
    [message] = mailbox.to(address)
    text = message.get_body(("plain",)).get_content()
    link = re.search(r"http://\S+/l/[A-Za-z0-9_-]+", text).group(0)
    html = html_of(message)
    assert f'href="{link}"' in html and "#3d4f63" in html
    assert "results" not in html and "Friday" not in html


def test_text_to_html_escapes_and_links_only_web_addresses():
    assert linked("a <i>b</i> & c") == "a &lt;i&gt;b&lt;/i&gt; &amp; c"
    html = linked("See (https://x.example/a?b=1&c=2). javascript:alert(1) mailto:x@y.z", "#123456")
    assert html.count("<a ") == 1
    assert '<a href="https://x.example/a?b=1&amp;c=2" style="color:#123456;">' in html
    assert html.endswith("). javascript:alert(1) mailto:x@y.z")
    assert linked('https://x.example/"onmouseover="x') == (
        f'<a href="https://x.example/" style="color:{DEFAULT_ACCENT};">https://x.example/</a>&#34;onmouseover=&#34;x'
    )
    assert blocks("One\ntwo\n\n  https://x.example/l/t  \n\nhttps://x.example/a.") == [
        {"lines": ["One", "two"]},
        {"button": "https://x.example/l/t"},
        {"lines": [f'<a href="https://x.example/a" style="color:{DEFAULT_ACCENT};">https://x.example/a</a>.']},
    ]
