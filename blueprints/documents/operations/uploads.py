"""Files coming in: a client's (or guardian's) upload, a file staff share with one client, and the
malware scan of both, with its retries.

Every file goes through the file pipeline (`documents.files.check_upload`: allow-list, sniffing,
disarming), is stored sealed under a generated key (`documents.storage`), and is scanned when the
installation has a scanner. A scanner that cannot be reached leaves the file "pending" (never
served) and a job scans it again later; a hit quarantines it (kept sealed, never served), tells
the uploader it was refused and writes an audit line. The uploader's note is sealed. No file name
or content goes into an email, a notification or an audit line (they name the document by id).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from app import jobs
from app.refusals import NotAllowed, Refusal
from blueprints.audit.service import record
from blueprints.auth.models import User
from blueprints.documents.client_messages import document_shared
from blueprints.documents.files import CleanFile, ScannerUnavailable, check_upload, scan_with_signature
from blueprints.documents.models import (
    INFECTED,
    PENDING,
    SHARED,
    UPLOAD,
    Document,
    LibraryItem,
)
from blueprints.documents.operations.access import viewer_relationship
from blueprints.documents.storage import get_object, put_object
from blueprints.notifications.service import queue_email
from blueprints.people.models import Client
from blueprints.portal.viewer import Viewer
from blueprints.staff_notifications.service import notify_staff, register_kind
from tenants.context import current_practice
from tenants.database import db
from tenants.encryption import seal_text, unseal_text
from tenants.features import is_enabled, practice_settings

MB = 1024 * 1024
MAX_NOTE = 1000
RESCAN_TASK = "documents.rescan"
RESCAN_TRIES = 12  # about 1.5 to 3 hours with the 5 s base: the scanner is back, or staff see "pending"
NEW_UPLOAD = "document_uploaded"
register_kind(NEW_UPLOAD, "New upload", "A client uploaded a file for you to review.")


class UploadRefused(Refusal):
    """A file (or its note) was refused; the message, shown beside the file field, says why."""


@dataclass(frozen=True)
class Incoming:
    """A file as the request gave it: the name the sender's computer used and its bytes."""

    filename: str
    data: bytes


def max_file_bytes() -> int:
    return practice_settings().max_upload_mb * MB


def object_id(row: Document | LibraryItem) -> int | str:
    """What a row's stored bytes are sealed for (bound into their encryption): a document's id, or
    "library-<id>" for a library item, so that the two kinds of id never open each other's bytes."""
    return f"library-{row.id}" if isinstance(row, LibraryItem) else row.id


def checked_file(incoming: Incoming | None) -> CleanFile:
    if incoming is None or not (incoming.filename or "").strip():
        raise UploadRefused(problems={"file": "Choose a file to upload."})
    return check_upload(incoming.data, incoming.filename, max_bytes=max_file_bytes())  # FileRefused


def _scan(clean: CleanFile) -> tuple[str, str | None]:
    """The scan's verdict and the signature it matched, or "pending" when the scanner cannot be
    reached now."""
    try:
        return scan_with_signature(clean)
    except ScannerUnavailable:
        return PENDING, None


def stored_upload_bytes(client: Client) -> int:
    """What the record's client-side uploads weigh (quarantined files do not count)."""
    return db.session.scalar(
        select(func.coalesce(func.sum(Document.size), 0)).where(
            Document.client_id == client.id, Document.kind == UPLOAD, Document.scan_status != INFECTED
        )
    )


def _within_quota(client: Client, size: int) -> None:
    allowed = practice_settings().client_storage_mb * MB
    used = stored_upload_bytes(client)
    if used + size > allowed:
        raise UploadRefused(
            problems={
                "file": f"This file would take the uploads on this record over the practice's limit of "
                f"{allowed // MB} MB ({used / MB:.1f} MB used). Remove an upload you no longer need, "
                "or ask the practice."
            },
            status=413,
        )


def _note_problem(note: str | None) -> None:
    if note and len(note) > MAX_NOTE:
        raise UploadRefused(problems={"note": f"A note can have at most {MAX_NOTE} characters."})


def store_file(row: Document | LibraryItem, clean: CleanFile) -> tuple[str, str | None]:
    """Scan `clean`, store its bytes for `row` (flushed, so it has its id); returns the verdict and
    the signature a hit matched."""
    verdict, signature = _scan(clean)
    row.storage_key = put_object(object_id(row), clean.data)
    row.scan_status = verdict
    if verdict == PENDING:
        kwargs = {"library_item_id": row.id} if isinstance(row, LibraryItem) else {"document_id": row.id}
        jobs.defer(RESCAN_TASK, **kwargs)
    db.session.flush()
    return verdict, signature


def malware_detail(row: Document | LibraryItem, signature: str | None) -> str:
    """The audit line's account of a hit: which row, which signature (never the file's name)."""
    what = "library item" if isinstance(row, LibraryItem) else "document"
    return f"{what} #{row.id}: malware found ({signature or 'unknown signature'})"


def _new_document(client: Client, clean: CleanFile, **fields) -> Document:
    document = Document(
        client_id=client.id,
        name=clean.name,
        content_type=clean.content_type,
        size=clean.size,
        sha256=clean.sha256,
        scan_status=PENDING,
        **fields,
    )
    db.session.add(document)
    db.session.flush()  # the id binds the stored bytes and the sealed note
    return document


def seal_note(document: Document, note: str) -> None:
    document.note_sealed = seal_text(
        note, table=Document.__tablename__, row_id=document.id, column="note_sealed"
    )


def note_of(document: Document) -> str | None:
    if document.note_sealed is None:
        return None
    return unseal_text(
        document.note_sealed, table=Document.__tablename__, row_id=document.id, column="note_sealed"
    )


def upload_from_portal(viewer: Viewer, incoming: Incoming | None, note: str | None) -> Document:
    """The viewer puts a file on their record. Refused: a preview, a grant without documents,
    uploads off, a bad file, the record's limit. A file the scan finds infected is kept in
    quarantine and the returned document says so (the caller tells the uploader)."""
    if viewer.read_only or not viewer.permissions.documents or not is_enabled("uploads"):
        raise NotAllowed("You cannot upload files here.")
    note = (note or "").strip() or None
    _note_problem(note)
    clean = checked_file(incoming)
    _within_quota(viewer.client, clean.size)
    document = _new_document(
        viewer.client,
        clean,
        kind=UPLOAD,
        uploader_user_id=viewer.user_id,
        uploader_relationship=viewer_relationship(viewer),
    )
    if note:
        seal_note(document, note)
    verdict, signature = store_file(document, clean)
    if verdict == INFECTED:
        _quarantined(document, signature, viewer.audit_actor)
        return document
    record(
        "uploaded a document",
        client_id=viewer.client.id,
        detail=f"document #{document.id}",
        **viewer.audit_actor,
    )
    notify_staff(NEW_UPLOAD, viewer.client, "documents.staff_documents", {"client_id": viewer.client.id})
    return document


def share_file(staff: User, client: Client, incoming: Incoming | None) -> Document:
    """Staff share a file of their own with one client (it shows there once it passed its checks)."""
    clean = checked_file(incoming)
    document = _new_document(
        client, clean, kind=SHARED, uploader_user_id=staff.id, uploader_relationship="staff"
    )
    verdict, signature = store_file(document, clean)
    if verdict == INFECTED:
        _quarantined(document, signature, staff.audit_actor)
        return document
    record("shared a document", client_id=client.id, detail=f"document #{document.id}", **staff.audit_actor)
    document_shared(client.id)
    return document


def _quarantined(document: Document, signature: str | None, actor: dict) -> None:
    """A scan found malware: the file stays sealed and is never served; the log says so."""
    record(
        "quarantined an upload",
        client_id=document.client_id,
        detail=malware_detail(document, signature),
        **actor,
    )


def _tell_uploader(document: Document) -> None:
    """Email the uploader that a file they sent was refused (never its name or content)."""
    address = None
    if document.uploader_user_id is not None:
        user = db.session.get(User, document.uploader_user_id)
        address = user.email if user is not None and user.kind != "staff" else None
    elif document.uploader_relationship == "client":
        address = (db.session.get(Client, document.client_id).email or "").strip() or None
    if not address:
        return
    practice = current_practice()
    queue_email(
        address,
        f"A file you sent to {practice.name} was refused",
        f"Hello,\n\nA file you uploaded to the {practice.name} client portal did not pass our security "
        "check, so it was not accepted. Nobody at the practice can open it.\n\n"
        "If you meant to send a document, please check it on your device and upload it again, or "
        "contact the practice.\n",
    )


def rescan(document_id: int | None = None, library_item_id: int | None = None) -> str | None:
    """Scan a "pending" file again (the job). ScannerUnavailable propagates so the job retries."""
    row = (
        db.session.get(Document, document_id) if document_id else db.session.get(LibraryItem, library_item_id)
    )
    if row is None or row.scan_status != PENDING:
        return None
    data = get_object(object_id(row), row.storage_key)
    verdict, signature = scan_with_signature(
        CleanFile(row.name, row.content_type, data, row.size, row.sha256)
    )
    row.scan_status = verdict
    if verdict == INFECTED:
        client_id = getattr(row, "client_id", None)
        record(
            "quarantined an upload",
            actor_kind="system",
            client_id=client_id,
            detail=malware_detail(row, signature),
        )
        if isinstance(row, Document) and row.kind == UPLOAD:
            _tell_uploader(row)
    db.session.commit()
    return verdict


@jobs.practice_task(
    RESCAN_TASK,
    retry=lambda settings: jobs.Backoff(base_seconds=settings.mail_retry_base_seconds, tries=RESCAN_TRIES),
)
def rescan_job(document_id: int | None = None, library_item_id: int | None = None) -> None:
    rescan(document_id=document_id, library_item_id=library_item_id)
