"""What staff do with a client's documents: read the tab (recorded: notes are health information),
mark an upload reviewed, archive a document (the client no longer sees it; staff keep it), and
what the client side may still do with its own upload (remove it until staff reviewed it).

Removing and reviewing race (a client removes while staff mark it reviewed): both lock the row
(SELECT ... FOR UPDATE) and decide on what it holds once locked, so the second one answers 409
(reviewed first: it stays; removed first: nothing to review). The stored bytes of a removed upload
are deleted only after the removal committed (`delete_stored_bytes`, called by the view), so a
rolled-back removal never leaves a row without its file.
"""

from __future__ import annotations

from sqlalchemy import func, select

from app.refusals import Conflict, NotAllowed
from blueprints.audit.service import record
from blueprints.auth.models import User
from blueprints.documents.models import UPLOAD, Document
from blueprints.documents.operations.access import (
    client_documents,
    document_for_staff,
    document_for_viewer,
    viewer_relationship,
)
from blueprints.documents.operations.uploads import note_of
from blueprints.documents.storage import delete_object
from blueprints.people.models import Client
from blueprints.portal.viewer import Viewer
from tenants.database import db


def _locked(document_id: int) -> Document | None:
    """The row, locked for this transaction and re-read (None: it went while we waited)."""
    return db.session.scalars(
        select(Document)
        .where(Document.id == document_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()


def read_tab(staff: User, client: Client) -> list[tuple[Document, str | None]]:
    """The client's documents with their notes, for staff who may see the client (recorded)."""
    record("viewed client documents", client_id=client.id, **staff.audit_actor)
    return [(document, note_of(document)) for document in client_documents(client)]


def mark_reviewed(staff: User, document_id: int) -> Document:
    document, client = document_for_staff(staff, document_id)
    if document.kind != UPLOAD:
        raise Conflict("Only uploads from the client's side are reviewed.")
    if _locked(document.id) is None:
        raise Conflict("The client removed this file before it was reviewed.")
    if document.reviewed_at is None:
        document.reviewed_at = func.now()
        document.reviewed_by_user_id = staff.id
        db.session.flush()
        record(
            "reviewed a document", client_id=client.id, detail=f"document #{document.id}", **staff.audit_actor
        )
    return document


def archive(staff: User, document_id: int) -> Document:
    document, client = document_for_staff(staff, document_id)
    if document.archived_at is None:
        document.archived_at = func.now()
        db.session.flush()
        record(
            "archived a document", client_id=client.id, detail=f"document #{document.id}", **staff.audit_actor
        )
    return document


def remove_own_upload(viewer: Viewer, document_id: int) -> str | None:
    """The client side takes back an upload it made, until staff have reviewed it. A guardian
    removes only their own uploads. Returns the stored bytes' key, for `delete_stored_bytes` once
    the removal is committed."""
    document = document_for_viewer(viewer, document_id)
    if _locked(document.id) is None:
        raise Conflict("This file was already removed.")
    mine = document.kind == UPLOAD and document.uploader_relationship == viewer_relationship(viewer)
    if viewer.kind == "guardian":
        mine = mine and document.uploader_user_id == viewer.user_id
    if viewer.read_only or not mine:
        raise NotAllowed("You can remove only files you uploaded yourself.")
    if document.reviewed_at is not None:
        raise Conflict(
            "The practice has already reviewed this file, so it can no longer be removed. "
            "Ask the practice if it should go."
        )
    key = document.storage_key
    record(
        "removed an upload",
        client_id=document.client_id,
        detail=f"document #{document.id}",
        **viewer.audit_actor,
    )
    db.session.delete(document)
    db.session.flush()
    return key


def delete_stored_bytes(key: str | None) -> None:
    """After a removal committed: its sealed bytes go too (already gone is fine)."""
    if key:
        delete_object(key)


def tab_counts(client: Client) -> dict[str, int]:
    """For the panel on a client's record: documents on it, and uploads not reviewed yet."""
    rows = db.session.execute(
        select(
            func.count(Document.id),
            func.count(Document.id).filter(Document.kind == UPLOAD, Document.reviewed_at.is_(None)),
        ).where(Document.client_id == client.id, Document.archived_at.is_(None))
    ).one()
    return {"count": rows[0], "new": rows[1]}
