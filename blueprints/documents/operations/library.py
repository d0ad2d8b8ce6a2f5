"""The practice's library of shared documents (policies, worksheets): adding a file, sharing an
item with one client, several or all of them, and taking an item out of the library.

Sharing makes one `Document` per client record, reading its bytes from the library item (stored
once). "All clients" means every active client the staff member may see. Sharing again what a
record already has is a no-op; an archived share comes back. Taking an item out of the library
keeps what was shared.
"""

from __future__ import annotations

from sqlalchemy import func, select

from app.refusals import Conflict, NotAllowed, Problems
from app.roles import CARE_TEAM
from blueprints.audit.service import record
from blueprints.auth.models import User
from blueprints.documents.client_messages import document_shared
from blueprints.documents.models import INFECTED, SERVABLE, SHARED, Document, LibraryItem
from blueprints.documents.operations.uploads import Incoming, checked_file, malware_detail, store_file
from blueprints.people.models import Client
from blueprints.people.operations.access import visible_clients
from tenants.database import db

LIBRARY_ROLES = CARE_TEAM  # who adds to and removes from the library (every staff member shares)


def _may_curate(staff: User) -> None:
    if staff.role not in LIBRARY_ROLES:
        raise NotAllowed("Only the owner, an admin, a scheduler or a clinician can change the library.")


def add_to_library(staff: User, incoming: Incoming | None) -> LibraryItem:
    _may_curate(staff)
    clean = checked_file(incoming)
    item = LibraryItem(
        name=clean.name,
        content_type=clean.content_type,
        size=clean.size,
        sha256=clean.sha256,
        scan_status="pending",
        uploaded_by_user_id=staff.id,
    )
    db.session.add(item)
    db.session.flush()
    verdict, signature = store_file(item, clean)
    if verdict == INFECTED:
        record("quarantined an upload", detail=malware_detail(item, signature), **staff.audit_actor)
    else:
        record("added to the library", detail=f"library item #{item.id}", **staff.audit_actor)
    return item


def remove_from_library(staff: User, item: LibraryItem) -> None:
    _may_curate(staff)
    if item.archived_at is None:
        item.archived_at = func.now()
        db.session.flush()
        record("removed from the library", detail=f"library item #{item.id}", **staff.audit_actor)


def share_targets(staff: User, client_ids: list[int], everyone: bool) -> list[Client]:
    """The active clients `staff` may see among `client_ids` (or all of them with `everyone`)."""
    query = visible_clients(staff).where(Client.status == "active")
    if everyone:
        query = query.where(Client.is_test.is_(False))  # test clients get a document when chosen
    else:
        query = query.where(Client.id.in_(client_ids or [0]))
    return list(db.session.scalars(query.order_by(Client.id)))


def share_item(staff: User, item: LibraryItem, client_ids: list[int], everyone: bool = False) -> int:
    """Share `item` with the chosen clients; returns how many records newly got it."""
    if item.scan_status not in SERVABLE:
        raise Conflict("This document has not passed its checks yet, so it cannot be shared.")
    targets = share_targets(staff, client_ids, everyone)
    if not targets:
        raise Problems({"client_ids": "Choose at least one client to share this document with."})
    existing = {
        document.client_id: document
        for document in db.session.scalars(
            select(Document).where(
                Document.library_item_id == item.id, Document.client_id.in_([c.id for c in targets])
            )
        )
    }
    added = 0
    for client in targets:
        document = existing.get(client.id)
        if document is not None:
            if document.archived_at is not None:
                document.archived_at = None
                added += 1
                document_shared(client.id)
                record(
                    "shared a document",
                    client_id=client.id,
                    detail=f"library item #{item.id}",
                    **staff.audit_actor,
                )
            continue
        db.session.add(
            Document(
                client_id=client.id,
                kind=SHARED,
                uploader_user_id=staff.id,
                uploader_relationship="staff",
                library_item_id=item.id,
                name=item.name,
                content_type=item.content_type,
                size=item.size,
                sha256=item.sha256,
                scan_status=item.scan_status,
            )
        )
        added += 1
        document_shared(client.id)
        record(
            "shared a document", client_id=client.id, detail=f"library item #{item.id}", **staff.audit_actor
        )
    db.session.flush()
    return added


def shared_counts() -> dict[int, int]:
    """Library item id -> how many records have it (not archived)."""
    rows = db.session.execute(
        select(Document.library_item_id, func.count(Document.id))
        .where(Document.library_item_id.is_not(None), Document.archived_at.is_(None))
        .group_by(Document.library_item_id)
    )
    return {item_id: count for item_id, count in rows}
