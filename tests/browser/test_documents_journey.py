"""In a real browser at phone width: a client uploads a PDF from the portal; staff are told (the
bell), review it and download it."""

from __future__ import annotations

import hashlib
from pathlib import Path

from playwright.sync_api import expect
from sqlalchemy import select

from blueprints.documents.models import Document
from tenants.database import db
from tenants.features import practice_settings
from tests.browser.conftest import assert_no_sideways_scroll, open_menu
from tests.browser.test_scheduling_journey import log_in
from tests.fixtures_documents import pdf_bytes

PHONE = {"width": 390, "height": 844}


def test_client_uploads_a_pdf_and_staff_review_and_download_it(
    page,
    browser,
    live_server,
    make_practice,
    make_staff,
    make_client,
    in_practice,
    console_errors,
    output_dir,
):
    practice = make_practice(name="Paper Trail Therapy")
    with in_practice(practice):
        practice_settings().portal_enabled = True
        db.session.commit()
    clinician = make_staff(practice, "clinician", name="Dr. Page")
    client = make_client(
        practice,
        first="Robin",
        email=f"robin@{practice.slug}.example.com",
        login=True,
        clinicians=(clinician,),
    )

    page.set_viewport_size(PHONE)
    log_in(page, live_server, practice, client.email)
    open_menu(page)
    page.get_by_role("link", name="Documents").click()
    expect(page.get_by_role("heading", name="Documents", exact=True)).to_be_visible()
    assert_no_sideways_scroll(page)
    page.get_by_label("File", exact=True).set_input_files(
        {"name": "referral letter.pdf", "mimeType": "application/pdf", "buffer": pdf_bytes("Referral")}
    )
    page.get_by_label("Note for the practice (optional)").fill("From my GP, as asked.")
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_text("Your file was uploaded.")).to_be_visible()
    own = page.locator("#own-uploads")
    expect(own).to_contain_text("referral letter.pdf")
    expect(own.get_by_role("button", name="Remove referral letter.pdf")).to_be_visible()
    assert_no_sideways_scroll(page)
    page.screenshot(path=str(output_dir / "client-uploaded-phone.png"), full_page=True)

    # Staff, on a phone too: the bell says 1, the notification opens the client's Documents tab.
    staff_context = browser.new_context(viewport=PHONE)
    staff_context.set_default_timeout(10_000)
    staff = staff_context.new_page()
    try:
        log_in(staff, live_server, practice, clinician)
        open_menu(staff)  # on a phone the bell is in the menu, with its count
        expect(staff.locator("#bell-count")).to_have_text("1")
        expect(staff.locator("#bell-count")).to_be_visible()
        staff.get_by_role("link", name="Notifications").click()
        expect(staff.locator("#notification-list")).to_contain_text(f"New upload: {client.name}")
        staff.locator("#notification-list").get_by_role("button").first.click()
        expect(staff.get_by_role("heading", name=f"Documents of {client.name}")).to_be_visible()
        assert_no_sideways_scroll(staff)
        uploads = staff.locator("#client-uploads")
        expect(uploads).to_contain_text("New")
        expect(uploads).to_contain_text("From my GP, as asked.")
        expect(uploads).to_contain_text("Not scanned")
        staff.screenshot(path=str(output_dir / "staff-tab-phone.png"), full_page=True)
        uploads.get_by_role("button", name="Mark reviewed").click()
        expect(staff.get_by_text("Marked as reviewed.")).to_be_visible()
        expect(staff.locator("#bell-count")).to_have_count(0)

        with staff.expect_download() as caught:
            staff.locator("#client-uploads").get_by_role("link", name="referral letter.pdf").click()
        download = caught.value
        assert download.suggested_filename == "referral letter.pdf"
        saved = Path(download.path()).read_bytes()
        assert saved.startswith(b"%PDF")
    finally:
        staff_context.close()

    # Reviewed: the client sees that the practice has it, and can no longer remove it.
    page.reload()
    expect(page.locator("#own-uploads")).to_contain_text("Seen by the practice")
    expect(
        page.locator("#own-uploads").get_by_role("button", name="Remove referral letter.pdf")
    ).to_have_count(0)
    with in_practice(practice):
        [document] = db.session.scalars(select(Document)).all()
        assert document.reviewed_at is not None
        assert document.sha256 == hashlib.sha256(saved).hexdigest()  # what was stored, as stored
    assert console_errors == []
