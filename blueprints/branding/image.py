"""A practice's logo, made safe to serve: only PNG and JPEG, decoded in full and encoded again by
Pillow, so that nothing but pixels survives (no EXIF or other metadata, no trailing bytes of a
polyglot file); at most 1 MB uploaded and 4 megapixels decoded (checked from the header, before
the pixels are decoded); scaled down to fit 512 x 128 pixels."""

from __future__ import annotations

import io
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

from app.refusals import Problems

MAX_BYTES = 1024 * 1024
MAX_PIXELS = 4_000_000
MAX_SIZE = (512, 128)  # width, height: a logo sits in a page header
FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg"}

NOT_AN_IMAGE = "The logo must be a PNG or JPEG image."
UNREADABLE = "That file could not be read as a PNG or JPEG image. Please export it again and retry."
TOO_BIG = "The logo file is larger than 1 MB. Please upload a smaller image."
EMPTY = "Choose an image file to upload."
TOO_MANY_PIXELS = (
    f"The image has far too many pixels; the most we accept is {MAX_PIXELS // 1_000_000} megapixels."
)


def _refuse(message: str) -> Problems:
    return Problems({"logo": message})


def clean_logo(data: bytes) -> tuple[bytes, str]:
    """The logo re-encoded, and its content type; a `Problems` for the "logo" field otherwise."""
    if not data:
        raise _refuse(EMPTY)
    if len(data) > MAX_BYTES:
        raise _refuse(TOO_BIG)
    with warnings.catch_warnings():
        # Pillow warns about (and past twice its limit refuses) huge images; ours is far lower.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=tuple(FORMATS)) as image:
                kind = image.format
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise _refuse(
                        f"The image is {width} × {height} pixels ({width * height / 1e6:.1f} megapixels); "
                        f"the most we accept is {MAX_PIXELS // 1_000_000} megapixels."
                    )
                image.load()  # decode every pixel now: a truncated or corrupt file fails here
                return _encode(image, kind), FORMATS[kind]
        except Problems:
            raise
        except UnidentifiedImageError:
            raise _refuse(NOT_AN_IMAGE) from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise _refuse(TOO_MANY_PIXELS) from None
        except (OSError, ValueError, SyntaxError, EOFError, Warning):
            raise _refuse(UNREADABLE) from None


def _encode(image: Image.Image, kind: str) -> bytes:
    image = ImageOps.exif_transpose(image)  # turn it the way the camera meant, then drop the EXIF
    if kind == "JPEG":
        image = image.convert("RGB") if image.mode not in ("RGB", "L") else image
    elif image.mode not in ("RGB", "RGBA", "L", "LA"):
        image = image.convert("RGBA")
    if image.width > MAX_SIZE[0] or image.height > MAX_SIZE[1]:
        image = image.copy()
        image.thumbnail(MAX_SIZE, Image.Resampling.LANCZOS)
    out = io.BytesIO()
    if kind == "JPEG":
        image.save(out, "JPEG", quality=90, optimize=True)
    else:
        image.save(out, "PNG", optimize=True)
    return out.getvalue()
