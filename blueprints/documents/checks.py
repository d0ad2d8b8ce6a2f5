"""What an upload really is: the allow-list by extension AND by sniffed content, and the structural
checks that refuse what must never be stored (markup, polyglots, macros, zip bombs, binary "text").

Every check fails closed: a file that is not clearly one allowed kind is refused. Disarming what is
allowed (PDF active content, image metadata) is `disarm`'s job; this module only says yes or no.
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass

import puremagic


class Refused(ValueError):
    """Why a file is refused, and the HTTP status that says it (400 bad or unsafe, 415 kind not allowed)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Kind:
    name: str  # pdf, png, jpeg, heic, docx, txt
    content_type: str  # what is sniffed (and, except for HEIC, what is stored)


PDF = Kind("pdf", "application/pdf")
PNG = Kind("png", "image/png")
JPEG = Kind("jpeg", "image/jpeg")
HEIC = Kind("heic", "image/heic")
DOCX = Kind("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document")
TXT = Kind("txt", "text/plain")

BY_EXTENSION = {"pdf": PDF, "png": PNG, "jpg": JPEG, "jpeg": JPEG, "heic": HEIC, "docx": DOCX, "txt": TXT}
MACRO_EXTENSIONS = {"docm", "dotm", "xlsm", "xltm", "xlam", "pptm", "potm", "ppam", "ppsm", "sldm"}
ALLOWED_MESSAGE = "Only PDF, PNG, JPEG, HEIC, Word (.docx) and plain text files can be uploaded."

# Leading bytes each kind must start with (no prefix: a prefix is how most polyglots are made).
_SIGNATURES = {
    "pdf": (b"%PDF-",),
    "png": (b"\x89PNG\r\n\x1a\n",),
    "jpeg": (b"\xff\xd8\xff",),
    "docx": (b"PK\x03\x04",),
}
# What the sniffer may call each kind (a .docx whose first part is not Word's own sniffs as a zip;
# check_docx then proves it is a Word document).
_SNIFFED_AS = {
    "pdf": {"application/pdf"},
    "png": {"image/png"},
    "jpeg": {"image/jpeg"},
    "docx": {DOCX.content_type, "application/zip", "application/x-zip-compressed"},
}
_HEIC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
# Anything a browser (or a reader) could take for a document of its own.
_DANGEROUS_TYPES = re.compile(
    r"^(text/html|application/xhtml|image/svg|application/xml|text/xml|[a-z]+/(x-)?(java|ecma)script)"
)
_MARKUP = re.compile(rb"<\s*(?:!doctype|html|head|body|script|svg|iframe|object|embed|meta)\b", re.I)
# Readers find a PDF header anywhere in the first kilobyte; browsers sniff the first 512 bytes.
_SNIFF_WINDOW = 1024

# DOCX (a zip of XML parts): limits that let every real document through and stop zip bombs.
DOCX_MAX_ENTRIES = 5000
DOCX_MAX_UNCOMPRESSED = 200 * 1024 * 1024
DOCX_MAX_RATIO = 100  # uncompressed bytes per compressed byte, over the whole archive
_MACRO_PARTS = re.compile(r"(^|/)(vbaproject\.bin|vbadata\.xml)$|(^|/)activex/", re.I)
_MACRO_CONTENT_TYPES = re.compile(rb"macroEnabled|vbaProject|ms-office\.activeX", re.I)
_RELATIONSHIP = re.compile(rb"<(?:\w+:)?Relationship\b[^>]*>", re.I)


def kind_for_extension(extension: str) -> Kind:
    if extension in MACRO_EXTENSIONS:
        raise Refused(
            "Documents with macros (.docm and the like) cannot be uploaded. " + ALLOWED_MESSAGE, 415
        )
    kind = BY_EXTENSION.get(extension)
    if kind is None:
        raise Refused(ALLOWED_MESSAGE, 415)
    return kind


def check_content(raw: bytes, kind: Kind) -> None:
    """Refuse `raw` unless its content is exactly the kind its extension says, and nothing else too."""
    if not raw:
        raise Refused("The file is empty.")
    head = raw[:_SNIFF_WINDOW]
    sniffed = _sniffed_types(raw)
    mismatch = Refused(f"The file's content does not match its name (.{kind.name}). {ALLOWED_MESSAGE}", 415)
    if any(_DANGEROUS_TYPES.match(found) for found in sniffed) or (kind is not DOCX and _MARKUP.search(head)):
        raise Refused("Web pages, SVG and XML files cannot be uploaded. " + ALLOWED_MESSAGE, 415)
    if kind is TXT:
        if sniffed - {"text/plain"}:
            raise mismatch
    elif kind is HEIC:
        if raw[4:8] != b"ftyp" or raw[8:12] not in _HEIC_BRANDS:
            raise mismatch
    elif not raw.startswith(_SIGNATURES[kind.name]) or not sniffed & _SNIFFED_AS[kind.name]:
        raise mismatch
    _refuse_polyglots(raw, head, kind)
    if kind is DOCX:
        check_docx(raw)


def _sniffed_types(raw: bytes) -> set[str]:
    try:
        matches = puremagic.magic_string(raw)
    except puremagic.PureError:  # nothing recognised (plain text, or something unknown)
        return set()
    return {match.mime_type.lower() for match in matches if match.mime_type}


def _refuse_polyglots(raw: bytes, head: bytes, kind: Kind) -> None:
    """A file that is also another kind (a PDF with a zip appended, an image carrying a PDF header)
    opens differently in different programs: refused rather than guessed at."""
    two_kinds = Refused("The file looks like two kinds of file at once and cannot be accepted.")
    if kind is not PDF and b"%PDF-" in head:
        raise two_kinds
    if kind is not DOCX and zipfile.is_zipfile(io.BytesIO(raw)):
        raise two_kinds


def check_docx(raw: bytes) -> None:
    """A Word document: a well-formed zip holding word/document.xml, no macros or ActiveX, not
    encrypted, and not a zip bomb. Sizes are measured by decompressing (the sizes a zip declares
    can lie), stopping as soon as a limit is passed."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
        entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise Refused("The Word document is damaged and cannot be read.") from None
    names = {entry.filename for entry in entries}
    if "[Content_Types].xml" not in names or "word/document.xml" not in names:
        raise Refused("The file is not a Word (.docx) document. " + ALLOWED_MESSAGE, 415)
    if len(entries) > DOCX_MAX_ENTRIES:
        raise Refused("The Word document has too many parts to be checked.")
    if any(_MACRO_PARTS.search(name) for name in names):
        raise Refused("Word documents with macros or ActiveX controls cannot be uploaded.")
    if any(entry.flag_bits & 0x1 for entry in entries):
        raise Refused(
            "Password-protected Word documents cannot be checked; remove the password and try again."
        )
    budget = min(DOCX_MAX_UNCOMPRESSED, DOCX_MAX_RATIO * len(raw))
    total = 0
    bomb = Refused("The Word document expands to far more than its size (a zip bomb) and was refused.")
    try:
        for entry in entries:
            kept = _is_package_part(entry.filename)
            parts = []
            with archive.open(entry) as part:
                while chunk := part.read(1024 * 1024):
                    total += len(chunk)
                    if total > budget:
                        raise bomb
                    if kept:
                        parts.append(chunk)
            if kept:
                _check_package_part(entry.filename, b"".join(parts))
    # Fail closed on whatever zipfile raises for a file it cannot read: a broken archive, a cut-off
    # one, an unsupported compression method (NotImplementedError), an encrypted entry (RuntimeError).
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, NotImplementedError, RuntimeError):
        raise Refused("The Word document is damaged and cannot be read.") from None


def _is_package_part(name: str) -> bool:
    """The parts that say what the package holds and what it links to: read whole and checked."""
    return name == "[Content_Types].xml" or name.endswith(".rels")


def _check_package_part(name: str, content: bytes) -> None:
    if name == "[Content_Types].xml" and _MACRO_CONTENT_TYPES.search(content):
        raise Refused("Word documents with macros or ActiveX controls cannot be uploaded.")
    if name.endswith(".rels"):
        for relationship in _RELATIONSHIP.findall(content):
            external = re.search(rb"""TargetMode\s*=\s*["']External["']""", relationship, re.I)
            kind = re.search(rb"""Type\s*=\s*["']([^"']*)["']""", relationship)
            if external and not (kind and kind.group(1).endswith(b"/hyperlink")):
                # A remote template or object is fetched when the document opens (how the
                # "Follina" attack ran code): only plain hyperlinks may point elsewhere.
                raise Refused(
                    "Word documents that load templates or objects from elsewhere cannot be uploaded."
                )


def clean_text(raw: bytes) -> bytes:
    """Plain text as UTF-8: UTF-8 (with or without a BOM), UTF-16 with a BOM, or Windows-1252;
    refused if it holds control characters (what binary files are made of)."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        encodings = ("utf-16",)
    else:
        encodings = ("utf-8-sig", "cp1252")
    for encoding in encodings:
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise Refused("The text file is not in a text encoding Portico can read (save it as UTF-8).")
    if any(unicodedata.category(ch) == "Cc" and ch not in "\t\n\r\f" for ch in text):
        raise Refused("The file holds binary data, not text. " + ALLOWED_MESSAGE, 415)
    return text.encode("utf-8")
