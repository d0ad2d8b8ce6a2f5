"""Views of documents, by subject: `portal` (the client's Documents page), `staff` (a client's
Documents tab, review, archive, download) and `library` (the practice's shared documents).

Every download leaves through `attachment()`: an audited operation gave the bytes; the response
makes the browser save them, never render them (`Content-Disposition: attachment`, `nosniff`, a
CSP that forbids everything and sandboxes whatever might still render).
"""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

from flask import Response, flash, request

from app.errors import render_error
from app.web import register_body_limit
from blueprints.documents import bp
from blueprints.documents.models import INFECTED, PENDING
from blueprints.documents.operations.downloads import Served
from blueprints.documents.operations.uploads import MB, Incoming
from tenants.features import practice_settings

DOWNLOAD_CSP = "default-src 'none'; sandbox"
# Room for the multipart framing, the CSRF token and a note around a file of the practice's limit.
FORM_OVERHEAD = 64 * 1024
UPLOAD_ENDPOINTS = ("documents.portal_documents", "documents.staff_documents", "documents.library")


def attachment(served: Served):
    # Decrypting the segments needs no request, practice or database (the operation unsealed the
    # object's key), so the stream may outlive the request's context.
    response = Response(served.chunks, mimetype=served.content_type)
    response.content_length = served.size
    response.headers.set("Content-Disposition", "attachment", **_download_names(served.name))
    response.headers["Content-Security-Policy"] = DOWNLOAD_CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    return response


def _download_names(name: str) -> dict[str, str]:
    """Content-Disposition's file name (RFC 6266): ASCII as it is, else an ASCII fallback and the
    UTF-8 name (as Werkzeug's send_file writes them)."""
    try:
        name.encode("ascii")
    except UnicodeEncodeError:
        simple = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
        return {"filename": simple or "document", "filename*": f"UTF-8''{quote(name, safe='!#$&+-.^_`|~')}"}
    return {"filename": name}


def _upload_body_limit() -> int:
    return practice_settings().max_upload_mb * MB + FORM_OVERHEAD


for _endpoint in UPLOAD_ENDPOINTS:
    register_body_limit(_endpoint, _upload_body_limit)


@bp.errorhandler(413)
def too_large(error):
    """A request over the practice's limit, refused before it was read."""
    limit = practice_settings().max_upload_mb
    return render_error(
        413,
        f"That file is too large: this practice accepts files of up to {limit} MB. "
        "Choose a smaller file, or ask the practice for another way to send it.",
        back=request.path,
    )


def incoming(file_storage) -> Incoming | None:
    """The posted file of a form's FileField, or None when no file was chosen."""
    if file_storage is None or not getattr(file_storage, "filename", None):
        return None
    return Incoming(file_storage.filename, file_storage.read())


def flash_check(status: str, *, passed: str, pending: str, refused: str) -> None:
    """Say what became of a file that was just checked: passed, waiting for its scan, or refused."""
    if status == INFECTED:
        flash(refused, "danger")
    elif status == PENDING:
        flash(pending, "success")
    else:
        flash(passed, "success")
