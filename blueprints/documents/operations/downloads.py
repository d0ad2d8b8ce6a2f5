"""The one way a document's bytes leave: an audited download (who, which document, when), for the
client side and for staff. A file that has not passed its checks ("pending", or quarantined) is
never served: 409 with a message saying why. Bytes come from the storage interface, sealed per
practice; there is no public or pre-signed address. A signed form's PDF carries the answers: only
staff who may read answers (`READS_SIGNED_FORMS`, the clinical roles) download it (403 otherwise).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import func

from app.refusals import Conflict, NotAllowed
from app.roles import OFFERS_SERVICES
from blueprints.audit.service import record
from blueprints.auth.models import User
from blueprints.documents.models import INFECTED, SHARED, SIGNED, Document, LibraryItem
from blueprints.documents.operations.access import document_for_staff, document_for_viewer
from blueprints.documents.operations.uploads import object_id
from blueprints.documents.storage import iter_object
from blueprints.portal.viewer import Viewer

# The same roles as onboarding's READS_RESPONSES (a scheduler sees that a form is done, not its answers).
READS_SIGNED_FORMS = OFFERS_SERVICES


def may_download(staff: User, document: Document) -> bool:
    return document.kind != SIGNED or staff.role in READS_SIGNED_FORMS


class NotServable(Conflict):
    """The file has not passed its checks (409)."""


@dataclass(frozen=True)
class Served:
    """What a download sends: its name and type, and its plaintext a verified segment at a time
    (the object is opened, and its key unsealed, before the operation returns)."""

    name: str
    content_type: str
    size: int
    chunks: Iterator[bytes]


def _bytes_of(row: Document | LibraryItem) -> Served:
    if row.scan_status == INFECTED:
        raise NotServable("This file did not pass the security check and cannot be opened.")
    if row.scan_status not in ("clean", "not_scanned"):
        raise NotServable("This file is still being checked for viruses. Please try again in a few minutes.")
    source = row.library_item if isinstance(row, Document) and row.library_item_id else row
    return Served(row.name, row.content_type, row.size, iter_object(object_id(source), source.storage_key))


def download_for_viewer(viewer: Viewer, document_id: int) -> Served:
    """A document of the viewer's record, as they may see it; a shared one counts as opened."""
    document = document_for_viewer(viewer, document_id)
    served = _bytes_of(document)
    if document.kind == SHARED and document.opened_at is None and not viewer.read_only:
        document.opened_at = func.now()
    record(
        "downloaded a document",
        client_id=document.client_id,
        detail=f"document #{document.id}",
        **viewer.audit_actor,
    )
    return served


def download_for_staff(staff: User, document_id: int) -> Served:
    document, client = document_for_staff(staff, document_id)
    if not may_download(staff, document):
        raise NotAllowed("Only clinical staff can open a signed form: it holds the answers.")
    served = _bytes_of(document)
    record(
        "downloaded a document", client_id=client.id, detail=f"document #{document.id}", **staff.audit_actor
    )
    return served


def download_library_item(staff: User, item: LibraryItem) -> Served:
    served = _bytes_of(item)
    record("downloaded a document", detail=f"library item #{item.id}", **staff.audit_actor)
    return served
