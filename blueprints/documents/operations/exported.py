"""Which stored files a practice export holds (registered with `documents.export`): every
document with bytes of its own, under its client and kind, and every library item (documents
shared from the library have no bytes of their own: their item is exported once)."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import select

from blueprints.documents.export import ExportedFile, register_export_source
from blueprints.documents.models import Document, LibraryItem
from blueprints.documents.operations.uploads import object_id
from tenants.database import db


def stored_files() -> Iterator[ExportedFile]:
    documents = db.session.scalars(
        select(Document).where(Document.storage_key.is_not(None)).order_by(Document.id)
    )
    for document in documents:
        yield ExportedFile(
            object_id(document),
            document.storage_key,
            document.name,
            document.content_type,
            folder=f"clients/{document.client_id}/{document.kind}s",
        )
    items = db.session.scalars(
        select(LibraryItem).where(LibraryItem.storage_key.is_not(None)).order_by(LibraryItem.id)
    )
    for item in items:
        yield ExportedFile(object_id(item), item.storage_key, item.name, item.content_type, folder="library")


register_export_source(stored_files)
