"""Documents and the virus scanner (a real clamd on the EICAR test signature): a clean file is
"scanned", a hit is quarantined (the uploader is told, the log says so, nobody can open it), a
scanner that cannot be reached leaves the file "scan pending" (not served) until a job scans it."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import func, select, text

from blueprints.documents.models import Document
from blueprints.staff_notifications.models import StaffNotification
from tenants.database import db
from tests.documents_support import (  # noqa: F401 (the fixture documents_practice)
    DOWNLOAD,
    audit_actions,
    client_visitor,
    documents_practice_fixture,
    pdf_bytes,
    staff_visitor,
    upload,
)
from tests.fixtures_documents import EICAR


def only_document(in_practice, practice) -> Document:
    with in_practice(practice):
        [document] = db.session.scalars(select(Document))
        db.session.expunge(document)
        return document


def quarantined(actions, actor_name, document_id: int) -> bool:
    """The log has the hit, naming the document and the signature (never the file's name)."""
    prefix = f"document #{document_id}: malware found (Portico.Test.EICAR"
    return any(
        action == "quarantined an upload" and name == actor_name and (detail or "").startswith(prefix)
        for action, name, detail in actions
    )


@pytest.fixture
def scanner_down(app, tmp_path):
    """PORTICO_CLAMD names a socket nobody listens on; yields a function that brings `address` in."""
    original = app.config["PORTICO"]
    app.config["PORTICO"] = replace(original, clamd=str(tmp_path / "nobody.sock"))

    def bring_up(address: str) -> None:
        app.config["PORTICO"] = replace(original, clamd=address)

    yield bring_up
    app.config["PORTICO"] = original


def test_a_clean_file_is_scanned(use_clamd, documents_practice, visit, in_practice):
    setting = documents_practice()
    client = client_visitor(visit, setting)
    assert upload(client, pdf_bytes(), "letter.pdf").status_code == 302
    assert only_document(in_practice, setting.practice).scan_status == "clean"
    staff = staff_visitor(visit, setting.practice, setting.clinician)
    tab = staff.get(f"/clients/{setting.client.id}/documents").get_data(as_text=True)
    assert "Scanned" in tab and "Not scanned" not in tab
    assert staff.get(DOWNLOAD.search(tab).group(1)).status_code == 200


def test_a_hit_is_quarantined_and_the_uploader_told(use_clamd, documents_practice, visit, in_practice):
    setting = documents_practice()
    client = client_visitor(visit, setting)
    response = upload(client, EICAR, "notes.txt")
    assert response.status_code == 302
    page = client.get("/portal/documents").get_data(as_text=True)
    assert "did not pass our security check, so it was not accepted" in page
    assert "Refused by the security check" in page and "/download" not in page
    document = only_document(in_practice, setting.practice)
    assert document.scan_status == "infected"
    staff = staff_visitor(visit, setting.practice, setting.clinician)
    assert "Quarantined" in staff.get(f"/clients/{setting.client.id}/documents").get_data(as_text=True)
    refused = staff.get(f"/documents/{document.id}/download")
    assert refused.status_code == 409 and "did not pass the security check" in refused.get_data(as_text=True)
    assert client.get(f"/portal/documents/{document.id}/download").status_code == 409
    actions = audit_actions(in_practice, setting.practice)
    assert quarantined(actions, setting.client.name, document.id)
    assert "uploaded a document" not in [action for action, _, _ in actions]
    with in_practice(setting.practice):
        assert db.session.scalar(select(func.count(StaffNotification.id))) == 0


def test_an_unreachable_scanner_leaves_the_file_pending_until_a_job_scans_it(
    app, scanner_down, clamd, documents_practice, visit, in_practice, run_jobs
):
    setting = documents_practice()
    client = client_visitor(visit, setting)
    assert upload(client, pdf_bytes(), "report.pdf").status_code == 302
    assert "being checked for viruses" in client.get("/portal/documents").get_data(as_text=True)
    document = only_document(in_practice, setting.practice)
    assert document.scan_status == "pending"
    staff = staff_visitor(visit, setting.practice, setting.clinician)
    assert "Scan pending" in staff.get(f"/clients/{setting.client.id}/documents").get_data(as_text=True)
    pending = staff.get(f"/documents/{document.id}/download")
    assert pending.status_code == 409 and "still being checked" in pending.get_data(as_text=True)

    run_jobs()  # the scanner is still away: the job fails and will try again
    assert only_document(in_practice, setting.practice).scan_status == "pending"
    scanner_down(clamd)
    _due_now(app, setting.practice)  # the retry is due now rather than in a few seconds
    run_jobs()
    assert only_document(in_practice, setting.practice).scan_status == "clean"
    assert staff.get(f"/documents/{document.id}/download").status_code == 200


def test_a_hit_found_by_the_retry_tells_the_uploader_without_naming_the_file(
    scanner_down, clamd, documents_practice, visit, in_practice, run_jobs, mailbox
):
    setting = documents_practice()
    client = client_visitor(visit, setting)
    assert upload(client, EICAR, "diary-entry.txt").status_code == 302
    scanner_down(clamd)
    run_jobs()
    document = only_document(in_practice, setting.practice)
    assert document.scan_status == "infected"
    run_jobs()  # the email
    [email] = mailbox.to(setting.client.email)
    assert "was refused" in email["Subject"]
    assert "diary" not in str(email) and "did not pass our security check" in mailbox.body(email)
    actions = audit_actions(in_practice, setting.practice)
    assert quarantined(actions, None, document.id)


def _due_now(app, practice) -> None:
    """Make the practice's waiting jobs due at once (instead of after their backoff)."""
    with app.app_context(), db.engine.begin() as conn:
        conn.exec_driver_sql("SET LOCAL search_path TO public")
        conn.execute(
            text(
                "UPDATE public.procrastinate_jobs SET scheduled_at = now() WHERE status = 'todo'"
                " AND (args->>'practice_id')::bigint = :id"
            ),
            {"id": practice.id},
        )
