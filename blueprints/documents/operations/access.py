"""Who sees which document, and the lookups every document URL goes through.

Portal side (a `portal.viewer.Viewer`): the record's own side (the client's login, a profile-link
session after its step-up, a staff preview) sees the uploads made from the client's side and what
the practice shared; a guardian (with the grant's "documents") sees guardians' uploads and what the
practice shared, and the minor's own uploads only when the grant says so (`minor_uploads`). Uploads
show while "Client uploads" is on, shared documents while "Shared documents" is on, signed
forms always; archived ones never. Staff see every document of a client they may see (people's
rule). Anything else: not found (404), whatever the id names elsewhere.
"""

from __future__ import annotations

from sqlalchemy import false, select

from app.refusals import NotFound
from blueprints.auth.models import User
from blueprints.documents.models import SERVABLE, SHARED, SIGNED, UPLOAD, Document, LibraryItem
from blueprints.people.models import Client
from blueprints.people.operations.access import client_for_staff
from blueprints.portal.viewer import Viewer
from tenants.database import db
from tenants.features import is_enabled


def portal_documents_on() -> bool:
    """The portal's Documents page exists while either documents toggle is on."""
    return is_enabled("uploads") or is_enabled("shared_documents")


def viewer_relationship(viewer: Viewer) -> str:
    """Whose side an upload by this viewer is on: "guardian", or "client" (own login, link, preview)."""
    return "guardian" if viewer.kind == "guardian" else "client"


def visible_upload_sides(viewer: Viewer) -> tuple[str, ...]:
    if viewer.kind == "guardian":
        return ("guardian", "client") if viewer.permissions.minor_uploads else ("guardian",)
    return ("client",)


def portal_query(viewer: Viewer):
    """The documents of the viewer's record that the viewer may see today, newest first."""
    shown = []
    if is_enabled("uploads"):
        shown.append(
            (Document.kind == UPLOAD) & Document.uploader_relationship.in_(visible_upload_sides(viewer))
        )
    if is_enabled("shared_documents"):
        # A file the practice shares shows once it passed its checks.
        shown.append((Document.kind == SHARED) & Document.scan_status.in_(SERVABLE))
    # A signed form is the record side's own copy of what it signed: shown whatever the toggles,
    # but only with the grant's forms (it carries the answers, the signer's IP and browser).
    if viewer.permissions.forms:
        shown.append(Document.kind == SIGNED)
    if not shown:
        return select(Document).where(false())
    query = select(Document).where(Document.client_id == viewer.client.id, Document.archived_at.is_(None))
    condition = shown[0]
    for more in shown[1:]:
        condition = condition | more
    return query.where(condition).order_by(Document.created_at.desc(), Document.id.desc())


def portal_documents(viewer: Viewer) -> tuple[list[Document], list[Document], list[Document]]:
    """(uploads, shared, signed forms) the viewer sees on their record."""
    found = list(db.session.scalars(portal_query(viewer)))
    return tuple([d for d in found if d.kind == kind] for kind in (UPLOAD, SHARED, SIGNED))


def document_for_viewer(viewer: Viewer, document_id: int) -> Document:
    document = db.session.scalars(portal_query(viewer).where(Document.id == document_id)).first()
    if document is None:
        raise NotFound()
    return document


def document_for_staff(staff: User, document_id: int) -> tuple[Document, Client]:
    """The document and its client, when `staff` may see that client; else NotFound."""
    document = db.session.get(Document, document_id)
    client = client_for_staff(staff, document.client_id) if document is not None else None
    if client is None:
        raise NotFound()
    return document, client


def client_documents(client: Client) -> list[Document]:
    """Every document of a client record (staff's tab), newest first, archived ones included."""
    return list(
        db.session.scalars(
            select(Document)
            .where(Document.client_id == client.id)
            .order_by(Document.created_at.desc(), Document.id.desc())
        )
    )


def library_item(item_id: int, *, include_archived: bool = False) -> LibraryItem:
    item = db.session.get(LibraryItem, item_id)
    if item is None or (item.archived_at is not None and not include_archived):
        raise NotFound()
    return item


def library_items() -> list[LibraryItem]:
    return list(
        db.session.scalars(
            select(LibraryItem)
            .where(LibraryItem.archived_at.is_(None))
            .order_by(LibraryItem.name, LibraryItem.id)
        )
    )
