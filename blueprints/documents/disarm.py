"""Disarming what the checks allowed: PDFs lose their active content, images are rebuilt from pixels.

A PDF is opened with pikepdf (qpdf) and every JavaScript, automatic action (/OpenAction, /AA),
Launch and other dangerous action, embedded or attached file, XFA form, rich media and 3D object
is removed; then it is written anew in full (never an incremental update, which would keep the
old objects in the file), without encryption, and opened again to prove nothing dangerous is left.

An image is decoded by Pillow (after a check of its size in pixels, before any pixel is decoded),
turned upright by its EXIF orientation, and encoded again without EXIF, GPS, XMP or text chunks.
HEIC (iPhone photos) comes out as JPEG, which every browser and viewer opens.
"""

from __future__ import annotations

import io
import logging
import warnings

import pikepdf
from PIL import Image, ImageOps, UnidentifiedImageError
from pillow_heif import register_heif_opener

from blueprints.documents.checks import Refused

register_heif_opener()
log = logging.getLogger(__name__)

MAX_PIXELS = 50_000_000  # a 200-megapixel phone mode exists; 50 MP stays well under 200 MB decoded
JPEG_QUALITY = 90

# Keys whose value is active content or a file inside the file, wherever they appear.
_DANGEROUS_KEYS = (
    "/JS",
    "/JavaScript",
    "/OpenAction",
    "/AA",
    "/EmbeddedFiles",
    "/EmbeddedFile",
    "/EF",
    "/XFA",
    "/RichMediaContent",
    "/RichMediaSettings",
    "/3DD",
)
# Actions that run code, open other files or programs, or send data anywhere.
_DANGEROUS_ACTIONS = {
    "/JavaScript",
    "/Launch",
    "/SubmitForm",
    "/ImportData",
    "/GoToE",
    "/GoToR",
    "/RichMediaExecute",
    "/Rendition",
    "/Sound",
    "/Movie",
    "/Hide",
    "/SetOCGState",
    "/Trans",
    "/GoTo3DView",
}
_DANGEROUS_ANNOTATIONS = {"/FileAttachment", "/RichMedia", "/Screen", "/Movie", "/Sound", "/3D"}


def disarm_pdf(raw: bytes) -> bytes:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # qpdf's repair notes on slightly damaged files
            with pikepdf.open(io.BytesIO(raw)) as pdf:
                _strip_active_content(pdf)
                out = io.BytesIO()
                pdf.save(
                    out,
                    encryption=False,  # an owner password (no password to open) is dropped
                    linearize=False,
                    fix_metadata_version=False,
                    object_stream_mode=pikepdf.ObjectStreamMode.preserve,
                )
        data = out.getvalue()
        _prove_disarmed(data)
    except pikepdf.PasswordError:
        raise Refused(
            "Password-protected PDFs cannot be checked; remove the password and try again."
        ) from None
    except Refused:
        raise
    except Exception as error:  # a hostile file may break qpdf in any way: refused, never a 500
        if not isinstance(error, pikepdf.PdfError | ValueError | OSError):
            log.warning("PDF refused after an unexpected %s: %s", type(error).__name__, error)
        raise Refused("The PDF is damaged and cannot be read.") from None
    return data


def _strip_active_content(pdf: pikepdf.Pdf) -> None:
    for page in pdf.pages:
        annotations = page.obj.get("/Annots")
        if isinstance(annotations, pikepdf.Array):
            kept = [annot for annot in annotations if not _is_dangerous_annotation(annot)]
            if len(kept) != len(annotations):
                page.obj.Annots = pikepdf.Array(kept)
    acroform = pdf.Root.get("/AcroForm")
    if isinstance(acroform, pikepdf.Dictionary):
        # XFA forms are a second, scriptable document inside the PDF; NeedsRendering asks for them.
        for key in ("/XFA", "/NeedsRendering"):
            if key in acroform:
                del acroform[key]
    for obj in _every_dictionary(pdf):
        _strip_dictionary(obj)
    if "/Names" in pdf.Root:
        names = pdf.Root.Names
        for key in ("/JavaScript", "/EmbeddedFiles"):
            if key in names:
                del names[key]


def _every_dictionary(pdf: pikepdf.Pdf):
    """Every dictionary and stream of the file: the indirect objects, and the direct dictionaries
    nested inside them (an annotation written inline in a page's /Annots, its inline /A action).
    An explicit stack, not recursion: a hostile file may nest arrays thousands deep."""
    stack = [
        obj for obj in pdf.objects if isinstance(obj, pikepdf.Dictionary | pikepdf.Array | pikepdf.Stream)
    ]
    while stack:
        obj = stack.pop()
        if isinstance(obj, pikepdf.Dictionary | pikepdf.Stream):
            yield obj
            children = list(obj.values())
        else:
            children = list(obj)
        stack.extend(
            child
            for child in children
            if isinstance(child, pikepdf.Dictionary | pikepdf.Array) and not child.is_indirect
        )


def _is_dangerous_annotation(annot) -> bool:
    return isinstance(annot, pikepdf.Dictionary) and str(annot.get("/Subtype", "")) in _DANGEROUS_ANNOTATIONS


def _strip_dictionary(obj) -> None:
    for key in _DANGEROUS_KEYS:
        if key in obj:
            del obj[key]
    for key in ("/A", "/Next", "/PA"):
        if key in obj and _is_dangerous_action(obj[key]):
            del obj[key]
    if _is_dangerous_action(obj):
        # An action object of its own (reached through an array of /Next actions, say): emptied.
        for key in list(obj.keys()):
            if key != "/Type":
                del obj[key]


def _is_dangerous_action(value) -> bool:
    if isinstance(value, pikepdf.Array):
        return any(_is_dangerous_action(item) for item in value)
    if not isinstance(value, pikepdf.Dictionary):
        return False
    action = str(value.get("/S", ""))
    if action == "/URI":  # a link may go to the web or to mail, not to javascript: or file:
        target = bytes(value.get("/URI", b"")).decode("latin-1").strip().lower()
        return not target.startswith(("http://", "https://", "mailto:"))
    return action in _DANGEROUS_ACTIONS


def _prove_disarmed(data: bytes) -> None:
    """Open the result again and look at every object: if anything active survived, refuse."""
    with pikepdf.open(io.BytesIO(data)) as pdf:
        for obj in _every_dictionary(pdf):
            if any(key in obj for key in _DANGEROUS_KEYS) or _is_dangerous_action(obj):
                raise Refused("The PDF holds active content that could not be removed.")


def reencode_image(raw: bytes, kind: str) -> tuple[bytes, str]:
    """(image bytes, 'png' or 'jpeg'): the pixels of `raw` encoded anew, without metadata."""
    try:
        with warnings.catch_warnings():
            # Pillow warns from 89 MP on; our own cap (checked below, before decoding) is lower.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(raw))
        with image:
            width, height = image.size  # from the header: nothing decoded yet
            if width * height > MAX_PIXELS or width <= 0 or height <= 0:
                raise Refused(
                    f"The image is too large ({width} × {height} pixels); the limit is "
                    f"{MAX_PIXELS // 1_000_000} megapixels."
                )
            expected = {"png": {"PNG"}, "jpeg": {"JPEG", "MPO"}, "heic": {"HEIF"}}[kind]
            if image.format not in expected:
                raise Refused("The image's content does not match its name.", 415)
            image.load()
            upright = ImageOps.exif_transpose(image)
    except Refused:
        raise
    except Image.DecompressionBombError:  # Pillow's own cap, for headers far past ours
        raise Refused(f"The image is too large; the limit is {MAX_PIXELS // 1_000_000} megapixels.") from None
    except Exception as error:  # any decoder failure on a hostile file: refused, never a 500
        if not isinstance(error, UnidentifiedImageError | OSError | ValueError | SyntaxError):
            log.warning("image refused after an unexpected %s: %s", type(error).__name__, error)
        raise Refused("The image is damaged and cannot be read.") from None
    try:
        return _encode(upright, kind)
    except Exception as error:  # an odd pixel format Pillow cannot write back: refused, never a 500
        log.warning("image refused after an unexpected %s: %s", type(error).__name__, error)
        raise Refused("The image could not be processed; save it as an ordinary JPEG or PNG.") from None


def _encode(image: Image.Image, kind: str) -> tuple[bytes, str]:
    icc_profile = image.info.get("icc_profile")  # colours only; everything else is dropped
    out = io.BytesIO()
    if kind == "png":
        if image.mode not in ("1", "L", "LA", "P", "RGB", "RGBA", "I;16"):
            image = image.convert("RGBA")
        image.save(out, "PNG", icc_profile=icc_profile, compress_level=6)
        return out.getvalue(), "png"
    if image.mode not in ("L", "RGB"):
        image = image.convert("RGB")
    image.save(out, "JPEG", quality=JPEG_QUALITY, icc_profile=icc_profile, optimize=False)
    return out.getvalue(), "jpeg"
