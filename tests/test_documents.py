"""Documents over HTTP: a client uploads, staff are told, review and download; downloads are
audited attachments; refusals (bad file, too big, over the record's limit, a reviewed upload) say
why and change nothing."""

from __future__ import annotations

import hashlib
import io

from sqlalchemy import func, select

from blueprints.documents.models import Document
from blueprints.staff_notifications.models import StaffNotification
from tenants.database import db
from tests.documents_support import (  # noqa: F401 (the fixture documents_practice)
    DOWNLOAD,
    audit_actions,
    client_visitor,
    documents_practice_fixture,
    pdf_bytes,
    set_settings,
    staff_post,
    staff_visitor,
    upload,
)

MB = 1024 * 1024


def documents_of(in_practice, practice) -> list[Document]:
    with in_practice(practice):
        return list(db.session.scalars(select(Document).order_by(Document.id)))


def test_client_uploads_staff_are_told_review_and_download(
    documents_practice, visit, in_practice, mailbox, run_jobs
):
    setting = documents_practice()
    practice = setting.practice
    client = client_visitor(visit, setting)
    assert ">Documents</a>" in client.get("/portal").get_data(as_text=True)
    page = client.get("/portal/documents")
    assert page.status_code == 200 and 'enctype="multipart/form-data"' in page.get_data(as_text=True)

    response = upload(client, pdf_bytes("intake"), "intake form.pdf", note="Signed referral from my GP")
    assert response.status_code == 302, response.get_data(as_text=True)
    listed = client.get("/portal/documents").get_data(as_text=True)
    assert "Your file was uploaded" in listed and "intake form.pdf" in listed
    [document] = documents_of(in_practice, practice)
    assert (document.kind, document.uploader_relationship) == ("upload", "client")
    assert document.scan_status == "not_scanned"  # no scanner configured
    assert b"Signed referral" not in document.note_sealed  # the note is sealed

    # Staff who may see the client are told (the clinician and the owner), in the list and the bell.
    clinician = staff_visitor(visit, practice, setting.clinician)
    home = clinician.get("/").get_data(as_text=True)
    assert 'id="bell-count" aria-hidden="true">1</span>' in home
    notes = clinician.get("/notifications").get_data(as_text=True)
    assert "New upload" in notes and setting.client.name in notes and "intake form" not in notes
    with in_practice(practice):
        told = db.session.scalar(select(func.count(StaffNotification.id)))
    assert told == 2
    run_jobs()
    assert not [m for m in mailbox.messages if "intake" in str(m)]  # no file name in any email

    # The Documents tab: new until reviewed, with the note; the download is an audited attachment.
    tab = clinician.get(f"/clients/{setting.client.id}/documents").get_data(as_text=True)
    assert "New</span>" in tab and "Signed referral from my GP" in tab and "Not scanned" in tab
    path, _ = DOWNLOAD.search(tab).groups()
    downloaded = clinician.get(path)
    assert downloaded.status_code == 200
    assert downloaded.data.startswith(b"%PDF")
    assert downloaded.headers["Content-Disposition"].startswith("attachment;")
    assert "intake" in downloaded.headers["Content-Disposition"]
    assert downloaded.headers["X-Content-Type-Options"] == "nosniff"
    assert downloaded.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert "no-store" in downloaded.headers["Cache-Control"]

    assert staff_post(clinician, f"/documents/{document.id}/review").status_code == 302
    tab = clinician.get(f"/clients/{setting.client.id}/documents").get_data(as_text=True)
    assert "New</span>" not in tab and "reviewed" in tab
    # Reviewed: the client can no longer remove it (and sees that the practice has it).
    assert "Seen by the practice" in client.get("/portal/documents").get_data(as_text=True)
    refused = staff_post(client, f"/portal/documents/{document.id}/remove", page="/portal/documents")
    assert refused.status_code == 409 and "already reviewed" in refused.get_data(as_text=True)
    assert len(documents_of(in_practice, practice)) == 1

    own = client.get(f"/portal/documents/{document.id}/download")
    assert own.status_code == 200 and own.headers["Content-Disposition"].startswith("attachment;")
    actions = audit_actions(in_practice, practice)
    assert ("uploaded a document", setting.client.name, f"document #{document.id}") in actions
    assert ("downloaded a document", "Dr Docs", f"document #{document.id}") in actions
    assert ("downloaded a document", setting.client.name, f"document #{document.id}") in actions
    assert ("reviewed a document", "Dr Docs", f"document #{document.id}") in actions
    assert not [detail for _, _, detail in actions if detail and ("intake" in detail or "referral" in detail)]


def test_client_removes_an_upload_until_it_is_reviewed(documents_practice, visit, in_practice):
    setting = documents_practice()
    client = client_visitor(visit, setting)
    assert upload(client, pdf_bytes(), "wrong.pdf").status_code == 302
    [document] = documents_of(in_practice, setting.practice)
    assert "Remove" in client.get("/portal/documents").get_data(as_text=True)
    removed = staff_post(client, f"/portal/documents/{document.id}/remove", page="/portal/documents")
    assert removed.status_code == 302
    assert documents_of(in_practice, setting.practice) == []
    assert client.get(f"/portal/documents/{document.id}/download").status_code == 404
    assert ("removed an upload", setting.client.name, f"document #{document.id}") in audit_actions(
        in_practice, setting.practice
    )


def test_refused_files_say_why_and_store_nothing(documents_practice, visit, in_practice):
    setting = documents_practice()
    client = client_visitor(visit, setting)
    bad = ((b"MZ\x90\x00 not a program", "setup.exe"), (b"<html>hi</html>", "page.pdf"), (b"", "empty.pdf"))
    for data, name in bad:
        response = upload(client, data, name)
        assert response.status_code == 400, (name, response.status_code)
        assert 'id="file-errors"' in response.get_data(as_text=True), name
    missing = client.post(
        "/portal/documents", form_page="/portal/documents", content_type="multipart/form-data"
    )
    assert missing.status_code == 400 and "Choose a file to upload." in missing.get_data(as_text=True)
    too_long = upload(client, pdf_bytes(), "ok.pdf", note="x" * 1001)
    assert too_long.status_code == 400 and "at most 1000 characters" in too_long.get_data(as_text=True)
    assert documents_of(in_practice, setting.practice) == []


class Unreadable(io.RawIOBase):
    """A request body of `size` bytes that must never be read (it can only say how long it is)."""

    def __init__(self, size: int):
        self.size, self.position = size, 0

    def readable(self):
        return True

    def seekable(self):
        return True

    def seek(self, offset, whence=0):
        self.position = self.size if whence == 2 else offset
        return self.position

    def tell(self):
        return self.position

    def readinto(self, buffer):
        raise AssertionError("the body was read")


def test_a_request_over_the_practice_limit_is_413_before_it_is_read(documents_practice, visit, in_practice):
    setting = documents_practice(max_upload_mb=1)
    client = client_visitor(visit, setting)
    response = client.client.post(
        "/portal/documents",
        base_url=client.base_url,
        input_stream=Unreadable(2 * MB),
        content_type="multipart/form-data; boundary=x",
    )
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert "this practice accepts files of up to 1 MB" in page and "Traceback" not in page
    # Just under the request limit but over the file limit: the form says so.
    refused = upload(client, pdf_bytes(padding=MB + 10), "big.pdf")
    assert refused.status_code in (400, 413) and "limit" in refused.get_data(as_text=True)
    # A practice that accepts more takes a file over the installation's default request size.
    set_settings(in_practice, setting.practice, max_upload_mb=30, client_storage_mb=100)
    big = pdf_bytes(padding=26 * MB)
    assert upload(client, big, "scan.pdf").status_code == 302
    assert len(documents_of(in_practice, setting.practice)) == 1


def test_the_records_limit_counts_what_is_stored(documents_practice, visit, in_practice):
    setting = documents_practice(max_upload_mb=1, client_storage_mb=1)
    client = client_visitor(visit, setting)
    piece = pdf_bytes(padding=600 * 1024)
    assert upload(client, piece, "one.pdf").status_code == 302
    refused = upload(client, piece, "two.pdf")
    assert refused.status_code == 400
    assert "over the practice&#39;s limit of 1 MB" in refused.get_data(as_text=True)
    assert len(documents_of(in_practice, setting.practice)) == 1


def test_staff_share_a_file_and_archive_it(documents_practice, visit, in_practice):
    setting = documents_practice()
    staff = staff_visitor(visit, setting.practice, setting.clinician)
    tab = f"/clients/{setting.client.id}/documents"
    assert upload(staff, pdf_bytes("homework"), "worksheet.pdf", path=tab).status_code == 302
    client = client_visitor(visit, setting)
    page = client.get("/portal/documents").get_data(as_text=True)
    assert "worksheet.pdf" in page and "New</span>" in page
    home = client.get("/portal").get_data(as_text=True)
    assert "Read the document the practice shared: worksheet.pdf" in home
    path, document_id = DOWNLOAD.search(page.split('id="shared-documents"')[1]).groups()
    assert client.get(path).status_code == 200
    assert "Read the document" not in client.get("/portal").get_data(as_text=True)  # opened
    # The client cannot remove what the practice shared.
    refused = staff_post(client, f"/portal/documents/{document_id}/remove", page="/portal/documents")
    assert refused.status_code == 403

    assert staff_post(staff, f"/documents/{document_id}/archive").status_code == 302
    assert "worksheet.pdf" not in client.get("/portal/documents").get_data(as_text=True)
    assert client.get(path).status_code == 404
    tab_page = staff.get(tab).get_data(as_text=True)
    assert 'id="archived-documents"' in tab_page and "worksheet.pdf" in tab_page
    assert staff.get(f"/documents/{document_id}/download").status_code == 200  # staff keep it


def test_a_download_keeps_a_non_ascii_name_and_streams_the_stored_bytes(
    documents_practice, visit, in_practice
):
    setting = documents_practice()
    client = client_visitor(visit, setting)
    assert upload(client, pdf_bytes(padding=3 * MB), "Überweisung für Dr.pdf").status_code == 302
    [document] = documents_of(in_practice, setting.practice)
    downloaded = client.get(f"/portal/documents/{document.id}/download")
    assert downloaded.status_code == 200 and downloaded.is_streamed
    disposition = downloaded.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and "filename*=UTF-8''%C3%9Cberweisung" in disposition
    body = downloaded.get_data()
    assert len(body) == document.size == int(downloaded.headers["Content-Length"])
    assert hashlib.sha256(body).hexdigest() == document.sha256


def test_an_upload_is_never_spooled_to_disk_in_clear(app):
    """Werkzeug writes an upload over 500 KB to a temporary file before a view sees it; Portico keeps
    it in memory, so a client's document never rests unencrypted on the web host's disk."""
    import io

    from flask import request

    big = b"%PDF-1.7\n" + b"0" * 700_000
    data = {"file": (io.BytesIO(big), "scan.pdf"), "note": "a note"}
    with app.test_request_context("/portal/documents", method="POST", data=data):
        stream = request.files["file"].stream
        assert isinstance(stream, io.BytesIO) and stream.getvalue() == big


def _hold_the_row(app, practice, document_id: int, change: str):
    """Another transaction locks the document's row and makes `change` to it; commits when told."""
    import threading

    from sqlalchemy import text as sql

    from tenants.database import enter_practice_sql, owner_engine

    locked, release, done = threading.Event(), threading.Event(), threading.Event()

    def hold():
        with app.app_context(), owner_engine().begin() as conn:
            conn.exec_driver_sql(enter_practice_sql(f"tenant_{practice.id}"))
            conn.execute(sql("SELECT id FROM documents WHERE id = :id FOR UPDATE"), {"id": document_id})
            conn.execute(sql(change), {"id": document_id})
            locked.set()
            release.wait(10)
        done.set()

    threading.Thread(target=hold, daemon=True).start()
    assert locked.wait(10)
    # Commit once the request below is waiting on the lock.
    threading.Timer(2.0, release.set).start()
    return done


def test_removing_and_reviewing_at_once_answer_409_never_500(app, documents_practice, visit, in_practice):
    setting = documents_practice()
    client = client_visitor(visit, setting)
    clinician = staff_visitor(visit, setting.practice, setting.clinician)
    assert upload(client, pdf_bytes(), "first.pdf").status_code == 302
    [first] = documents_of(in_practice, setting.practice)
    # Staff review while the client's removal waits: the file stays.
    review_it = "UPDATE documents SET reviewed_at = now() WHERE id = :id"
    done = _hold_the_row(app, setting.practice, first.id, review_it)
    removed = staff_post(client, f"/portal/documents/{first.id}/remove", page="/portal/documents")
    assert done.wait(10)
    assert removed.status_code == 409 and "already reviewed" in removed.get_data(as_text=True)
    assert clinician.get(f"/documents/{first.id}/download").status_code == 200  # its bytes are there

    assert upload(client, pdf_bytes(), "second.pdf").status_code == 302
    second = documents_of(in_practice, setting.practice)[-1]
    # The client removes while staff's review waits: nothing to review.
    done = _hold_the_row(app, setting.practice, second.id, "DELETE FROM documents WHERE id = :id")
    reviewed = staff_post(clinician, f"/documents/{second.id}/review")
    assert done.wait(10)
    assert reviewed.status_code == 409 and "removed this file" in reviewed.get_data(as_text=True)
