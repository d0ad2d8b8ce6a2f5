"""Who may open which document: the toggles, guardians and their grant, profile-link sessions and
their step-up, clinicians and their clients, other clients and other practices (404)."""

from __future__ import annotations

from sqlalchemy import select

from blueprints.documents.models import Document
from blueprints.people.models import Client, PortalAccess
from blueprints.profile_links.service import create_link
from tenants.database import db
from tests.documents_support import (  # noqa: F401 (the fixture documents_practice)
    client_visitor,
    documents_practice_fixture,
    pdf_bytes,
    set_settings,
    staff_post,
    staff_visitor,
    upload,
    years_ago,
)
from tests.test_profile_links import follow_link


def document_ids(in_practice, practice) -> list[int]:
    with in_practice(practice):
        return list(db.session.scalars(select(Document.id).order_by(Document.id)))


def nav(visitor, path: str = "/portal") -> str:
    html = visitor.get(path).get_data(as_text=True)
    start = html.index('id="main-nav"')
    return html[start : html.index("</ul>", start)]


def share_with(staff, client_id: int, name: str = "policy.pdf"):
    return upload(staff, pdf_bytes("policy"), name, path=f"/clients/{client_id}/documents")


def test_the_two_toggles(documents_practice, visit, in_practice):
    setting = documents_practice()
    practice = setting.practice
    client = client_visitor(visit, setting)
    staff = staff_visitor(visit, practice, setting.clinician)
    assert upload(client, pdf_bytes(), "mine.pdf").status_code == 302
    assert share_with(staff, setting.client.id).status_code == 302
    mine, shared = document_ids(in_practice, practice)

    # Uploads off: shared documents still show, no form, no own uploads; uploading is 404.
    set_settings(in_practice, practice, uploads_enabled=False)
    page = client.get("/portal/documents").get_data(as_text=True)
    assert "policy.pdf" in page and "mine.pdf" not in page and 'id="upload-form"' not in page
    assert upload(client, pdf_bytes(), "again.pdf").status_code == 404
    assert client.get(f"/portal/documents/{mine}/download").status_code == 404
    assert client.get(f"/portal/documents/{shared}/download").status_code == 200
    assert ">Documents</a>" in nav(client)

    # Shared documents off too: the page, its downloads and its navigation entry are gone.
    set_settings(in_practice, practice, shared_documents_enabled=False)
    for path in (
        "/portal/documents",
        f"/portal/documents/{shared}/download",
        f"/portal/documents/{mine}/download",
    ):
        assert client.get(path).status_code == 404, path
    assert ">Documents</a>" not in nav(client)
    assert "Read the document" not in client.get("/portal").get_data(as_text=True)
    # Staff keep everything.
    tab = staff.get(f"/clients/{setting.client.id}/documents").get_data(as_text=True)
    assert "mine.pdf" in tab and "policy.pdf" in tab

    # Shared off, uploads on: the form and own uploads, no shared documents.
    set_settings(in_practice, practice, uploads_enabled=True)
    page = client.get("/portal/documents").get_data(as_text=True)
    assert "mine.pdf" in page and "policy.pdf" not in page and 'id="upload-form"' in page
    assert client.get(f"/portal/documents/{shared}/download").status_code == 404
    assert document_ids(in_practice, practice) == [mine, shared]  # nothing deleted


def test_the_settings_page_offers_both_toggles_and_the_limits(documents_practice, visit):
    setting = documents_practice()
    owner = staff_visitor(visit, setting.practice, setting.practice.owner_email)
    page = owner.get("/settings").get_data(as_text=True)
    for text in ("Client uploads", "Shared documents", "Largest file a client may upload (MB)", 'value="25"'):
        assert text in page, text
    assert 'value="200"' in page


def test_a_profile_link_session_steps_up_first(documents_practice, visit, in_practice):
    setting = documents_practice()
    visitor = visit(setting.practice)
    with in_practice(setting.practice):
        token = create_link(db.session.get(Client, setting.client.id))
        db.session.commit()
    follow_link(visitor, f"/l/{token}")
    response = visitor.get("/portal/documents")
    assert response.status_code == 302 and response.headers["Location"].startswith(
        "/verify?next=/portal/documents"
    )
    refused = visitor.post(
        "/portal/documents", {"file": (b"", "")}, form_page="/portal", content_type="multipart/form-data"
    )
    assert refused.status_code == 302 and "/verify" in refused.headers["Location"]
    stepped = visitor.post(
        "/verify",
        {"method": "password", "password": "correct-horse-battery", "next": "/portal/documents"},
        form_page="/verify",
    )
    assert stepped.status_code == 302 and stepped.headers["Location"] == "/portal/documents"
    assert upload(visitor, pdf_bytes(), "from-link.pdf").status_code == 302
    assert "from-link.pdf" in visitor.get("/portal/documents").get_data(as_text=True)


def test_guardians_and_a_minors_own_uploads(
    documents_practice, make_client, grant_portal, visit, in_practice
):
    setting = documents_practice()
    practice = setting.practice
    teen = make_client(
        practice,
        first="Tess",
        date_of_birth=years_ago(15),
        email=f"tess@{practice.slug}.example.com",
        login=True,
    )
    parent = f"parent@{practice.slug}.example.com"
    grant_portal(practice, teen, parent, "guardian")
    teen_visitor = visit(practice)
    teen_visitor.login(teen.email)
    teen_visitor.get("/portal/choose")
    assert upload(teen_visitor, pdf_bytes(), "my-journal.pdf").status_code == 302
    guardian = visit(practice)
    guardian.login(parent)
    guardian.get("/portal/choose")  # their one record opens
    page = guardian.get("/portal/documents").get_data(as_text=True)
    assert "my-journal.pdf" not in page  # not without the grant's say-so
    [journal] = document_ids(in_practice, practice)
    assert guardian.get(f"/portal/documents/{journal}/download").status_code == 404
    assert upload(guardian, pdf_bytes(), "custody.pdf").status_code == 302
    assert "custody.pdf" in guardian.get("/portal/documents").get_data(as_text=True)
    assert "custody.pdf" not in teen_visitor.get("/portal/documents").get_data(as_text=True)
    custody = document_ids(in_practice, practice)[-1]
    # The teen cannot remove (nor open) what the guardian uploaded.
    assert staff_post(teen_visitor, f"/portal/documents/{custody}/remove", page="/portal").status_code == 404

    # The grant lets the guardian see the minor's own uploads (but not remove them).
    owner = staff_visitor(visit, practice, practice.owner_email)
    with in_practice(practice):
        access_id = db.session.scalar(
            select(PortalAccess.id).where(PortalAccess.relationship_kind == "guardian")
        )
    form = owner.get(f"/clients/{teen.id}/guardians/{access_id}").get_data(as_text=True)
    assert "See shared documents and upload" in form and "See the files the minor uploads themselves" in form
    saved = owner.post(
        f"/clients/{teen.id}/guardians/{access_id}",
        {
            "can_appointments": "y",
            "can_documents": "y",
            "can_see_minor_uploads": "y",
            "minor_messages": "default",
        },
    )
    assert saved.status_code == 302
    page = guardian.get("/portal/documents").get_data(as_text=True)
    assert "my-journal.pdf" in page
    assert guardian.get(f"/portal/documents/{journal}/download").status_code == 200
    assert staff_post(guardian, f"/portal/documents/{journal}/remove", page="/portal").status_code == 403

    # Without "documents" in the grant: no entry in the navigation, 403 on the page.
    saved = owner.post(
        f"/clients/{teen.id}/guardians/{access_id}", {"can_appointments": "y", "minor_messages": "default"}
    )
    assert saved.status_code == 302
    assert ">Documents</a>" not in nav(guardian)
    assert guardian.get("/portal/documents").status_code == 403
    assert guardian.get(f"/portal/documents/{custody}/download").status_code == 403


def test_other_clients_other_practices_and_unassigned_clinicians_get_404(
    documents_practice, make_client, make_staff, visit, in_practice
):
    first, second = documents_practice(), documents_practice()
    mine = client_visitor(visit, first)
    assert upload(mine, pdf_bytes(), "mine.pdf").status_code == 302
    [document] = document_ids(in_practice, first.practice)
    # Another client of the same practice.
    other = make_client(
        first.practice, first="Olly", email=f"olly@{first.practice.slug}.example.com", login=True
    )
    olly = visit(first.practice)
    olly.login(other.email)
    olly.get("/portal/choose")
    assert olly.get(f"/portal/documents/{document}/download").status_code == 404
    assert staff_post(olly, f"/portal/documents/{document}/remove", page="/portal").status_code == 404
    # A clinician not assigned to the client.
    stranger = staff_visitor(visit, first.practice, make_staff(first.practice, "clinician"))
    for path in (f"/documents/{document}/download", f"/clients/{first.client.id}/documents"):
        assert stranger.get(path).status_code == 404, path
    for path in (f"/documents/{document}/review", f"/documents/{document}/archive"):
        assert staff_post(stranger, path).status_code == 404, path
    # The other practice's owner and client.
    owner_b = staff_visitor(visit, second.practice, second.practice.owner_email)
    client_b = client_visitor(visit, second)
    assert owner_b.get(f"/documents/{document}/download").status_code == 404
    assert staff_post(owner_b, f"/documents/{document}/review").status_code == 404
    assert client_b.get(f"/portal/documents/{document}/download").status_code == 404
    # The document is as it was.
    with in_practice(first.practice):
        row = db.session.get(Document, document)
        assert row.reviewed_at is None and row.archived_at is None
