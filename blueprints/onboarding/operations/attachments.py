"""Attachment items: a question answered with a file. The file goes through the documents pipeline
exactly like a portal upload (`documents.operations.uploads.upload_from_portal`: allow-list,
sniffing, disarming, the scan, sealed storage, the record's quota, staff's "New upload"), lands in
the client's Documents, and the answer is that document (`document:<id>`, a `valueAttachment`
whose url is `urn:portico:document:<id>` in the QuestionnaireResponse).

An answer may only name an upload on the same client's record that did not fail its scan: a post
naming any other document id is a problem on that question, never a link to someone else's file.
"""

from __future__ import annotations

from app.refusals import Refusal
from blueprints.documents.models import INFECTED, UPLOAD, Document
from blueprints.documents.operations.uploads import Incoming, upload_from_portal
from blueprints.onboarding.operations.items import ATTACHED, Item, walk
from blueprints.portal.viewer import Viewer
from tenants.database import db

REFUSED = "That file did not pass our security check, so it was not accepted. Nobody can open it."
UPLOADS_OFF = "Files cannot be uploaded here. Ask the practice how to send this one."
NOT_YOURS = "Upload the file again."


def attachment_items(items: list[Item]) -> list[Item]:
    return [item for item in walk(items) if item.type == "attachment" and not item.read_only]


def attach(
    viewer: Viewer, items: list[Item], answers: dict[str, list[str]], files: dict[str, Incoming]
) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Upload each posted file as a document of the viewer's record; the answers then name those
    documents. Returns (answers, problems): a refused file is a problem on its question."""
    answers, problems = dict(answers), {}
    for item in attachment_items(items):
        incoming = files.get(item.link_id)
        if incoming is None:
            continue
        try:
            document = upload_from_portal(viewer, incoming, None)
        except Refusal as refusal:
            if refusal.status == 403:
                problems[item.link_id] = UPLOADS_OFF
            else:
                problems[item.link_id] = (refusal.problems or {}).get("file") or refusal.message
            continue
        if document.scan_status == INFECTED:
            problems[item.link_id] = REFUSED
            answers.pop(item.link_id, None)
            continue
        answers[item.link_id] = [f"document:{document.id}"]
    return answers, problems


def foreign(client_id: int, items: list[Item], answers: dict[str, list[str]]) -> dict[str, str]:
    """Attachment answers that do not name a usable upload of this client's record."""
    problems = {}
    for item in attachment_items(items):
        for text in answers.get(item.link_id, []):
            found = ATTACHED.fullmatch(text)
            document = db.session.get(Document, int(found.group(1))) if found else None
            if (
                document is None
                or document.client_id != client_id
                or document.kind != UPLOAD
                or document.scan_status == INFECTED
            ):
                problems[item.link_id] = NOT_YOURS
    return problems
