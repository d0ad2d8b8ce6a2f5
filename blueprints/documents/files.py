"""The one entry point for an uploaded file: `check_upload` (sniff, allow-list, disarm) and `scan`.

    clean = check_upload(request_file.read(), request_file.filename, max_bytes=limit)  # FileRefused
    verdict = scan(clean)      # "clean" | "infected" | "not_scanned"; ScannerUnavailable: try later
    key = storage.put_object(document.id, clean.data)

Fail closed at every step: a file is accepted only when its extension and its sniffed content
agree on one allowed kind, nothing in it is refused by `checks`, and `disarm` rebuilt it. What is
stored and served is always the disarmed `CleanFile.data`, never the bytes that were sent.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from flask import current_app

from app.refusals import Refusal
from blueprints.documents import checks, disarm, scanning
from blueprints.documents.names import BadName, safe_name, split_name
from blueprints.documents.scanning import CLEAN, INFECTED, NOT_SCANNED, ScannerUnavailable

__all__ = [
    "ALLOWED",
    "CLEAN",
    "INFECTED",
    "NOT_SCANNED",
    "CleanFile",
    "FileRefused",
    "ScannerUnavailable",
    "check_upload",
    "scan",
    "scan_with_signature",
]

# Extension -> the content type the stored (disarmed) file is served with. HEIC is converted.
ALLOWED = {
    "pdf": "application/pdf",
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "heic": "image/jpeg",
    "docx": checks.DOCX.content_type,
    "txt": "text/plain; charset=utf-8",
}


class FileRefused(Refusal):
    """An upload that is not stored: 400 (bad or unsafe), 413 (too big), 415 (kind not allowed).
    `.message` is fit to show the uploader; it never repeats the file's name or content."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message, problems={"file": message}, status=status)


@dataclass(frozen=True)
class CleanFile:
    name: str  # normalised, safe to show and to offer as a download name
    content_type: str
    data: bytes  # disarmed / re-encoded: what is stored and served
    size: int
    sha256: str  # of `data`


def check_upload(raw: bytes, filename: str, *, max_bytes: int) -> CleanFile:
    """Check and disarm one upload; raises FileRefused saying why it is not accepted."""
    if len(raw) > max_bytes:
        raise FileRefused(f"The file is larger than the {_megabytes(max_bytes)} limit.", 413)
    try:
        stem, extension = split_name(filename)
        kind = checks.kind_for_extension(extension)
        checks.check_content(raw, kind)
        data, extension = _disarmed(raw, kind, extension)
    except BadName as error:
        raise FileRefused(str(error)) from None
    except checks.Refused as error:
        raise FileRefused(str(error), error.status) from None
    if len(data) > max_bytes:  # re-encoding can grow an image a little
        raise FileRefused(f"The file is larger than the {_megabytes(max_bytes)} limit.", 413)
    return CleanFile(
        name=safe_name(stem, extension),
        content_type=ALLOWED[extension],
        data=data,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )


def _disarmed(raw: bytes, kind: checks.Kind, extension: str) -> tuple[bytes, str]:
    """The bytes to store and the extension they now have (HEIC becomes JPEG)."""
    if kind is checks.PDF:
        return disarm.disarm_pdf(raw), "pdf"
    if kind in (checks.PNG, checks.JPEG, checks.HEIC):
        data, encoded_as = disarm.reencode_image(raw, kind.name)
        return data, extension if kind is not checks.HEIC else "jpg"
    if kind is checks.TXT:
        return checks.clean_text(raw), "txt"
    return raw, extension  # DOCX: checked part by part in `checks`; the zip is kept as it came


def scan(clean: CleanFile) -> str:
    """clamd's verdict on the disarmed file: CLEAN, INFECTED, or NOT_SCANNED when `PORTICO_CLAMD`
    is not set. Raises ScannerUnavailable when it is set but gave no clear answer."""
    return scan_with_signature(clean)[0]


def scan_with_signature(clean: CleanFile) -> tuple[str, str | None]:
    """(verdict, the name of the signature that matched, for the audit log; None unless INFECTED)."""
    address = current_app.config["PORTICO"].clamd
    if not address:
        return NOT_SCANNED, None
    return scanning.scan_bytes(clean.data, address)


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):g} MB"
