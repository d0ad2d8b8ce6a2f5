"""Practice identity: the owner's logo (PNG or JPEG, decoded and re-encoded, nothing else) and
accent colour (WCAG AA contrast checked first), shown first on the practice's pages, served from
the practice's own host and never another's."""

from __future__ import annotations

import io
import re
import struct
import zlib

import pytest
from PIL import Image
from sqlalchemy import select

from blueprints.audit.models import AuditEvent
from blueprints.branding.models import PracticeIdentity
from tenants.database import db
from tenants.features import practice_settings

ANY_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
LOGO_SRC = re.compile(r'src="(/branding/logo\?v=\d+)"')


def image_bytes(kind: str = "PNG", size=(600, 300), colour=(31, 95, 139, 255), **save) -> bytes:
    mode = "RGBA" if kind == "PNG" else "RGB"
    image = Image.new(mode, size, colour[: len(mode)])
    out = io.BytesIO()
    image.save(out, kind, **save)
    return out.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims `width` x `height` pixels (and holds almost none): a decompression bomb."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def jpeg_with_exif() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x8825] = {2: (51.0, 30.0, 0.0)}  # GPS
    return image_bytes("JPEG", (400, 200), (200, 40, 40), exif=exif.tobytes())


def identity(in_practice, practice) -> PracticeIdentity | None:
    with in_practice(practice):
        row = db.session.get(PracticeIdentity, 1)
        if row is not None:
            db.session.refresh(row)
            _ = row.logo  # deferred: load it while the session is open
            db.session.expunge(row)
        return row


@pytest.fixture
def owner_at(visit):
    def make(practice):
        owner = visit(practice)
        assert owner.login(practice.owner_email).status_code == 302
        return owner

    return make


def upload(owner, data: bytes, filename: str = "logo.png", content_type: str = "image/png"):
    token = ANY_CSRF.search(owner.get("/settings/branding").get_data(as_text=True)).group(1)
    return owner.post(
        "/settings/branding/logo",
        {"csrf_token": token, "logo": (io.BytesIO(data), filename, content_type)},
        form_page=False,
        content_type="multipart/form-data",
    )


def choose_colour(owner, value: str, action: str = "save"):
    token = ANY_CSRF.search(owner.get("/settings/branding").get_data(as_text=True)).group(1)
    return owner.post(
        "/settings/branding/accent", {"csrf_token": token, "accent": value, "action": action}, form_page=False
    )


def test_a_png_logo_is_re_encoded_scaled_and_shown_first(make_practice, owner_at, visit, in_practice):
    practice = make_practice(name="Harbour Counselling")
    with in_practice(practice):
        practice_settings().portal_enabled = True
        db.session.commit()
    owner = owner_at(practice)
    assert "Logo and accent colour" in owner.get("/settings").get_data(as_text=True)

    original = image_bytes("PNG", (600, 300)) + b"<script>alert(1)</script>"  # a trailing payload
    response = upload(owner, original)
    assert response.status_code == 302 and response.headers["Location"] == "/settings/branding"
    assert "Your logo was saved." in owner.get("/settings/branding").get_data(as_text=True)

    row = identity(in_practice, practice)
    assert row.logo_content_type == "image/png" and row.version == 2
    assert b"<script>" not in row.logo and row.logo != original
    stored = Image.open(io.BytesIO(row.logo))
    assert stored.format == "PNG" and stored.size == (256, 128)  # at most 128 px high, same shape

    # Shown first: in the staff header, on the login page and in the portal, the practice's own
    # logo and name; Portico at the foot.
    staff_page = owner.get("/").get_data(as_text=True)
    header = staff_page[staff_page.index('class="navbar-brand"') :]
    assert re.match(
        r'class="navbar-brand" href="/"><img class="brand-logo" src="/branding/logo\?v=2" alt="">'
        r'<span class="brand-name">Harbour Counselling</span></a>',
        header,
    )
    footer = staff_page[staff_page.index('<footer class="site-footer">') :]
    assert staff_page.rstrip().endswith("</html>") and "Powered by Portico" in footer
    login = visit(practice).get("/login").get_data(as_text=True)
    assert 'class="login-logo" src="/branding/logo?v=2"' in login
    assert login.index("/branding/logo") < login.index("Log in to Harbour Counselling")

    with in_practice(practice):
        actions = db.session.scalars(select(AuditEvent.action)).all()
    assert "changed practice logo" in actions


def test_the_logo_address_headers(make_practice, owner_at, visit):
    practice = make_practice()
    anyone = visit(practice)
    assert anyone.get("/branding/logo").status_code == 404  # none yet
    owner = owner_at(practice)
    assert upload(owner, jpeg_with_exif(), "photo.jpg", "image/jpeg").status_code == 302
    page = owner.get("/settings/branding").get_data(as_text=True)
    address = LOGO_SRC.search(page).group(1)

    response = anyone.get(address)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/jpeg"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "private, max-age=31536000, immutable"
    assert "Set-Cookie" not in response.headers
    body = response.get_data()
    stored = Image.open(io.BytesIO(body))
    assert stored.format == "JPEG" and stored.size == (256, 128)
    assert not stored.getexif() and b"SecretCam" not in body and b"Exif" not in body

    # Without the current version it may be kept, but must be checked again; a check costs nothing.
    unversioned = anyone.get("/branding/logo")
    assert unversioned.headers["Cache-Control"] == "no-cache"
    etag = unversioned.headers["ETag"]
    assert anyone.get("/branding/logo", headers={"If-None-Match": etag}).status_code == 304

    # A new logo: a new address, and the old ETag no longer matches.
    assert upload(owner, image_bytes("PNG", (100, 50))).status_code == 302
    new_address = LOGO_SRC.search(owner.get("/settings/branding").get_data(as_text=True)).group(1)
    assert new_address != address
    again = anyone.get("/branding/logo", headers={"If-None-Match": etag})
    assert again.status_code == 200 and again.headers["Content-Type"] == "image/png"

    # Removed: gone from the pages and the address.
    token = ANY_CSRF.search(owner.get("/settings/branding").get_data(as_text=True)).group(1)
    removed = owner.post("/settings/branding/logo/remove", {"csrf_token": token}, form_page=False)
    assert removed.status_code == 302
    assert anyone.get("/branding/logo").status_code == 404
    assert "/branding/logo" not in anyone.get("/login").get_data(as_text=True)


SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="10" height="10"/></svg>'
GIFAR = b"GIF89a/*\x00\x00\x00\x00*/=alert(document.domain)//;"


@pytest.mark.parametrize(
    "data, filename, content_type, message",
    [
        pytest.param(b"", "logo.png", "image/png", "Choose an image file to upload.", id="empty"),
        pytest.param(
            b"Hello, I am text", "notes.txt", "text/plain", "must be a PNG or JPEG image", id="text"
        ),
        pytest.param(SVG, "logo.svg", "image/svg+xml", "must be a PNG or JPEG image", id="svg"),
        pytest.param(SVG, "logo.png", "image/png", "must be a PNG or JPEG image", id="svg-named-png"),
        pytest.param(GIFAR, "logo.png", "image/png", "must be a PNG or JPEG image", id="gif-js-polyglot"),
        pytest.param(
            b"<html><script>alert(1)</script>",
            "logo.png",
            "image/png",
            "must be a PNG or JPEG",
            id="html-named-png",
        ),
        pytest.param(
            image_bytes("GIF", (40, 40), (0, 0, 0)),
            "logo.gif",
            "image/gif",
            "must be a PNG or JPEG",
            id="gif",
        ),
        pytest.param(
            b"\x89PNG\r\n\x1a\n" + b"garbage" * 50,
            "logo.png",
            "image/png",
            "could not be read",
            id="png-signature-then-garbage",
        ),
        pytest.param(
            image_bytes("PNG", (300, 200))[:-60],
            "logo.png",
            "image/png",
            "could not be read",
            id="truncated-png",
        ),
        pytest.param(
            image_bytes("PNG", (2100, 2000)),
            "logo.png",
            "image/png",
            "The image is 2100 × 2000 pixels (4.2 megapixels); the most we accept is 4 megapixels.",
            id="over-the-pixel-cap",
        ),
        pytest.param(
            png_header_only(20_000, 20_000),
            "bomb.png",
            "image/png",
            "The image has far too many pixels; the most we accept is 4 megapixels.",
            id="decompression-bomb",
        ),
        pytest.param(
            png_header_only(3000, 3000),
            "claims-9-megapixels.png",
            "image/png",
            "The image is 3000 × 3000 pixels (9.0 megapixels)",
            id="header-over-the-pixel-cap",
        ),
        pytest.param(
            image_bytes("PNG", (64, 64)) + b"\x00" * (1024 * 1024),
            "logo.png",
            "image/png",
            "The logo file is larger than 1 MB.",
            id="too-big",
        ),
    ],
)
def test_anything_but_a_png_or_jpeg_is_refused_and_nothing_changes(
    data, filename, content_type, message, make_practice, owner_at, visit, in_practice
):
    practice = make_practice()
    owner = owner_at(practice)
    assert upload(owner, image_bytes("PNG", (80, 40))).status_code == 302
    before = identity(in_practice, practice)

    response = upload(owner, data, filename, content_type)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page
    assert 'aria-invalid="true"' in page  # beside the field
    after = identity(in_practice, practice)
    assert (after.logo, after.version, after.logo_content_type) == (before.logo, before.version, "image/png")
    assert visit(practice).get("/branding/logo").get_data() == before.logo


def test_a_refused_first_logo_stores_nothing(make_practice, owner_at, in_practice):
    practice = make_practice()
    owner = owner_at(practice)
    assert upload(owner, SVG, "logo.svg", "image/svg+xml").status_code == 400
    row = identity(in_practice, practice)
    assert row is None or row.logo is None


def test_an_accent_colour_that_fails_contrast_is_refused_with_the_ratio(
    make_practice, owner_at, visit, in_practice
):
    practice = make_practice()
    owner = owner_at(practice)

    response = choose_colour(owner, "#ffff00")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "white text on #ffff00 has a contrast of 1.07:1" in page
    assert "#ffff00 links on the page background (#ffffff) have 1.07:1" in page
    assert "WCAG AA needs at least 4.5:1" in page

    # A near miss reads as a near miss (rounded down, never up to 4.50).
    page = choose_colour(owner, "#777777").get_data(as_text=True)
    assert "has a contrast of 4.47:1" in page
    response = choose_colour(owner, "blue")
    assert response.status_code == 400
    assert "Enter the colour as # and six hex digits" in response.get_data(as_text=True)
    assert identity(in_practice, practice) is None or identity(in_practice, practice).accent_colour is None
    assert "/branding/theme.css" not in owner.get("/").get_data(as_text=True)

    # Preview: shown with its ratios, not saved.
    preview = choose_colour(owner, "#0F6466", action="preview")
    assert preview.status_code == 200
    text = preview.get_data(as_text=True)
    assert "Preview of #0f6466" in text and "(not saved yet)" in text and "data:image/svg+xml;base64," in text
    assert identity(in_practice, practice) is None or identity(in_practice, practice).accent_colour is None

    # Saved: the pages link the practice's theme, which sets the custom properties.
    saved = choose_colour(owner, "#0F6466")
    assert saved.status_code == 302
    assert "The accent colour is now #0f6466." in owner.get("/settings/branding").get_data(as_text=True)
    assert identity(in_practice, practice).accent_colour == "#0f6466"
    login = visit(practice).get("/login").get_data(as_text=True)
    theme = re.search(r'href="(/branding/theme\.css\?v=\d+)"', login).group(1)
    css = visit(practice).get(theme)
    assert css.status_code == 200 and css.mimetype == "text/css"
    assert css.headers["X-Content-Type-Options"] == "nosniff"
    assert css.headers["Cache-Control"] == "private, max-age=31536000, immutable"
    body = css.get_data(as_text=True)
    assert "--portico-accent: #0f6466;" in body and "--portico-accent-contrast: #ffffff;" in body

    # Back to the default.
    assert choose_colour(owner, "", action="default").status_code == 302
    assert identity(in_practice, practice).accent_colour is None
    with in_practice(practice):
        actions = db.session.scalars(select(AuditEvent.action)).all()
    assert actions.count("changed accent colour") == 2


def test_a_suggested_colour_is_previewed(make_practice, owner_at):
    practice = make_practice()
    owner = owner_at(practice)
    token = ANY_CSRF.search(owner.get("/settings/branding").get_data(as_text=True)).group(1)
    response = owner.post(
        "/settings/branding/accent", {"csrf_token": token, "accent": "", "preset": "#2e6b3a"}, form_page=False
    )
    assert response.status_code == 200 and "Preview of #2e6b3a" in response.get_data(as_text=True)


def test_only_owners_and_admins_change_the_look(make_practice, make_staff, visit):
    practice = make_practice()
    for role, allowed in (("admin", True), ("scheduler", False), ("clinician", False)):
        person = visit(practice)
        assert person.login(make_staff(practice, role)).status_code == 302
        assert person.get("/settings/branding").status_code == (200 if allowed else 403)
        token = ANY_CSRF.search(person.get("/").get_data(as_text=True)).group(1)
        response = person.post(
            "/settings/branding/accent", {"csrf_token": token, "accent": "#1f5f8b"}, form_page=False
        )
        assert response.status_code == (302 if allowed else 403)
    assert visit(practice).get("/settings/branding").status_code == 302  # to the login page


def test_another_practices_logo_is_never_shown(make_practice, owner_at, visit, in_practice, apex):
    alpha, beta = make_practice(name="Alpha Care"), make_practice(name="Beta Care")
    alpha_logo = image_bytes("PNG", (90, 30), (200, 0, 0, 255))
    assert upload(owner_at(alpha), alpha_logo).status_code == 302
    assert choose_colour(owner_at(alpha), "#6f3a7a").status_code == 302

    at_beta = visit(beta)
    assert at_beta.get("/branding/logo").status_code == 404
    assert at_beta.get("/branding/logo?v=2").status_code == 404
    login = at_beta.get("/login").get_data(as_text=True)
    assert "/branding/logo" not in login and "/branding/theme.css" not in login
    assert "#6f3a7a" not in visit(beta).get("/branding/theme.css").get_data(as_text=True)
    assert apex.get("/branding/logo").status_code == 404

    beta_logo = image_bytes("PNG", (90, 30), (0, 0, 200, 255))
    assert upload(owner_at(beta), beta_logo).status_code == 302
    served_alpha = visit(alpha).get("/branding/logo").get_data()
    served_beta = visit(beta).get("/branding/logo").get_data()
    assert served_alpha != served_beta
    assert Image.open(io.BytesIO(served_alpha)).getpixel((0, 0))[:3] == (200, 0, 0)
    assert Image.open(io.BytesIO(served_beta)).getpixel((0, 0))[:3] == (0, 0, 200)
