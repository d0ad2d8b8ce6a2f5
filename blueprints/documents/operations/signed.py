"""Signed forms on a client's record: the PDF of exactly what was signed (onboarding renders it),
stored sealed like every other document and served through the same audited downloads.

Portico makes these files itself, so they are not scanned ("not_scanned" is servable) and nobody
uploads one. They list as "Signed form" for staff and on the portal's Documents page.
"""

from __future__ import annotations

import hashlib

from blueprints.audit.service import record
from blueprints.documents.models import NOT_SCANNED, SIGNED, Document
from blueprints.documents.names import BadName, safe_name, split_name
from blueprints.documents.storage import put_object
from blueprints.people.models import Client
from tenants.database import db

PDF = "application/pdf"


def store_signed_form(
    client: Client, title: str, data: bytes, *, signer_user_id: int | None, relationship: str, actor: dict
) -> Document:
    """Put the signed PDF on the client's record (sealed per practice); the audit line names it by id."""
    try:
        stem, _ = split_name(f"Signed {title}")
    except BadName:  # a title an upload's name could not have ("100%00"): the signing goes on
        stem = "Signed form"
    document = Document(
        client_id=client.id,
        kind=SIGNED,
        uploader_user_id=signer_user_id,
        uploader_relationship=relationship,
        name=safe_name(stem, "pdf"),
        content_type=PDF,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        scan_status=NOT_SCANNED,
    )
    db.session.add(document)
    db.session.flush()  # the id binds the sealed bytes
    document.storage_key = put_object(document.id, data)
    db.session.flush()
    record("stored a signed form", client_id=client.id, detail=f"document #{document.id}", **actor)
    return document
