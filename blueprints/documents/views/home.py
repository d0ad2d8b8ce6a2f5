"""Documents on the portal home (registered with `portal.home`): a to-do for each document the
practice shared with the open record that nobody on the client's side has opened yet."""

from __future__ import annotations

from flask import url_for
from sqlalchemy import select

from blueprints.documents.models import SERVABLE, SHARED, Document
from blueprints.documents.operations.access import portal_documents_on
from blueprints.portal.home import Todo, register_todo_source
from blueprints.portal.viewer import Viewer
from tenants.database import db
from tenants.features import is_enabled


def unopened_shared(viewer: Viewer) -> list[Todo]:
    if not portal_documents_on() or not is_enabled("shared_documents") or not viewer.permissions.documents:
        return []
    documents = db.session.scalars(
        select(Document)
        .where(
            Document.client_id == viewer.client.id,
            Document.kind == SHARED,
            Document.archived_at.is_(None),
            Document.opened_at.is_(None),
            Document.scan_status.in_(SERVABLE),
        )
        .order_by(Document.created_at, Document.id)
    )
    url = url_for("documents.portal_documents")
    return [Todo(f"Read the document the practice shared: {d.name}", url) for d in documents]


register_todo_source(unopened_shared)
