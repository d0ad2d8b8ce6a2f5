"""HTML to PDF (weasyprint), for the signed forms and the electronic-records disclosure.

weasyprint sets Pillow's process-wide `ImageFile.LOAD_TRUNCATED_IMAGES = True` when it is imported.
The documents pipeline relies on Pillow refusing truncated and damaged images (an upload check), so
weasyprint is imported here, once, and the flag is put back at once. Nothing rendered here embeds
an image.
"""

from __future__ import annotations

from PIL import ImageFile

_before = ImageFile.LOAD_TRUNCATED_IMAGES
from weasyprint import HTML  # noqa: E402

ImageFile.LOAD_TRUNCATED_IMAGES = _before


def html_to_pdf(html: str) -> bytes:
    return HTML(string=html).write_pdf()
