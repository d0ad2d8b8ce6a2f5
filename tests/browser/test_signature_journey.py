"""In a real browser on a phone (390x844): a client opens the electronic-records disclosure (PDF),
agrees, reads the consent, types their full name, ticks "I agree" and signs; then staff open the
signed consent's certificate and download its PDF, which holds the signed text and the hash."""

from __future__ import annotations

import io
import time
import uuid

from playwright.sync_api import expect
from pypdf import PdfReader
from sqlalchemy import select

from blueprints.auth.service import find_user_by_email
from blueprints.onboarding.models import FormSignature, SignatureEvent
from blueprints.onboarding.operations import library, record
from blueprints.onboarding.operations.validation import SIGNATURE_REQUIRED
from tenants.database import db
from tenants.features import practice_settings
from tests.browser.conftest import assert_no_sideways_scroll, open_menu
from tests.browser.test_onboarding_journey import PHONE, log_in

TERMS = "Sessions are confidential within the law; cancel at least 24 hours ahead."
CONSENT = {
    "resourceType": "Questionnaire",
    "status": "active",
    "title": "Consent to treatment",
    "extension": [{"url": SIGNATURE_REQUIRED, "valueBoolean": True}],
    "item": [
        {"linkId": "terms", "type": "display", "text": TERMS},
        {"linkId": "phone", "type": "string", "text": "Best phone number", "required": True},
    ],
}


def _wait_for_event(in_practice, practice, event: str) -> None:
    for _ in range(50):
        with in_practice(practice):
            if db.session.scalars(select(SignatureEvent.id).where(SignatureEvent.event == event)).first():
                return
        time.sleep(0.1)
    raise AssertionError(f"no {event} event")


def test_a_client_signs_on_a_phone_and_staff_download_the_signed_pdf(
    page, live_server, make_practice, make_client, in_practice, console_errors, output_dir
):
    practice = make_practice(name=f"Harbor Sign {uuid.uuid4().hex[:4]}")
    client = make_client(
        practice, first="Robin", last="Quill", email=f"robin@{practice.slug}.example.com", login=True
    )
    with in_practice(practice):
        practice_settings().portal_enabled = True
        owner = find_user_by_email(practice.owner_email)
        consent = library.import_form(owner, CONSENT)
        record.set_onboarding_set(owner, [consent.id])
        db.session.commit()

    page.set_viewport_size(PHONE)
    log_in(page, live_server, practice, client.email)
    page.goto(live_server.practice_url(practice.slug, "/portal"))
    page.get_by_role("link", name="Complete Consent to treatment").click()
    expect(page.get_by_role("heading", name="Before you sign: electronic records")).to_be_visible()
    expect(page.get_by_role("button", name="Sign")).to_have_count(0)
    # Opening the disclosure (a PDF, in a new tab) is what shows the client can open the records.
    with page.context.expect_page() as opened:
        page.get_by_role("link", name="Open the disclosure (PDF)").click()
    _wait_for_event(in_practice, practice, "disclosure_opened")
    opened.value.close()
    page.get_by_label("I opened the disclosure (PDF), I can read it").check()
    page.get_by_role("button", name="Agree and continue").click()

    expect(page.get_by_text(TERMS)).to_be_visible()
    page.get_by_label("Best phone number").fill("555-0199")
    page.get_by_label("Type your full name").fill("Robin Quill")
    page.get_by_label("I agree", exact=True).check()
    assert_no_sideways_scroll(page)
    page.screenshot(path=str(output_dir / "consent-phone.png"), full_page=True)
    page.get_by_role("button", name="Sign", exact=True).click()
    expect(page.locator("#form-submitted")).to_contain_text("Consent to treatment was signed")
    assert_no_sideways_scroll(page)
    page.screenshot(path=str(output_dir / "signed-phone.png"), full_page=True)
    with in_practice(practice):
        signature = db.session.scalars(select(FormSignature)).one()
        digest = signature.sha256
        assert "Chrome" in (signature.user_agent or "") and signature.ip == "127.0.0.1"
    assert console_errors == []

    # Staff read the signed consent and download its PDF.
    open_menu(page)
    page.get_by_role("button", name="Log out").click()
    page.set_viewport_size({"width": 1280, "height": 900})
    log_in(page, live_server, practice, practice.owner_email)
    page.goto(live_server.practice_url(practice.slug, f"/clients/{client.id}/forms"))
    page.locator("#client-signed").get_by_role("link", name="Consent to treatment").click()
    expect(page.locator("#signature-hash")).to_have_text(digest)
    expect(page.locator("#signature-check")).to_contain_text("still gives this hash")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the signed PDF").click()
    pdf = PdfReader(io.BytesIO(download.value.path().read_bytes()))
    text = "\n".join(pdf_page.extract_text() for pdf_page in pdf.pages)
    assert TERMS.split(";")[0] in text and "555-0199" in text and "Robin Quill" in text
    assert "Signature certificate" in text and digest[:32] in text.replace("\n", "")
