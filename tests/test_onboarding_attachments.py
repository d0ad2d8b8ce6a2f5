"""Attachment items: a question answered with a file that goes through the documents pipeline into
the client's Documents; accepted by import and by the builder; a refused file is a problem on its
question; an answer naming another record's document is refused."""

from __future__ import annotations

import io
import json

from sqlalchemy import select

from blueprints.documents.models import UPLOAD, Document
from blueprints.onboarding.models import FormResponse
from blueprints.onboarding.operations.responses import response_json
from tenants.database import db
from tests.fixtures_documents import pdf_bytes
from tests.test_onboarding_http import (
    builder_post,
    client_visitor,
    form_ids,
    logged_in,
    post,
    settings,
)

ID_FORM = {
    "resourceType": "Questionnaire",
    "status": "active",
    "title": "Insurance card",
    "item": [
        {"linkId": "insurer", "type": "string", "text": "Insurer", "required": True},
        {"linkId": "card", "type": "attachment", "text": "A photo or scan of your card", "required": True},
    ],
}


def with_file(visitor, page: str, data: dict, name: str, content: bytes):
    fields = {**data, "card.file": (io.BytesIO(content), name)}
    return post(visitor, page, fields, page)


def test_the_builder_and_import_accept_attachment_items(make_practice, visit, in_practice):
    practice = make_practice()
    owner = logged_in(visit, practice, practice.owner_email)
    rows = [{"link": "q1", "type": "attachment", "text": "Referral letter", "required": "1"}]
    assert builder_post(owner, "/forms/new", "Referral", rows, "save").status_code == 302
    exported = owner.get(f"/forms/{form_ids(owner)['Referral']}/questionnaire.json").get_json(force=True)
    assert exported["item"][0]["type"] == "attachment" and exported["item"][0]["required"] is True
    assert post(owner, "/forms/import", {"text": json.dumps(ID_FORM)}, "/forms").status_code == 302


def test_a_file_answer_goes_to_the_clients_documents(
    make_practice, make_staff, make_client, visit, in_practice
):
    practice = make_practice()
    settings(in_practice, practice, portal_enabled=True)
    clinician = make_staff(practice, "clinician")
    client = make_client(
        practice, first="Ari", email=f"ari@{practice.slug}.example.com", login=True, clinicians=(clinician,)
    )
    other = make_client(practice, first="Bo", email=f"bo@{practice.slug}.example.com", login=True)
    owner = logged_in(visit, practice, practice.owner_email)
    assert post(owner, "/forms/import", {"text": json.dumps(ID_FORM)}, "/forms").status_code == 302
    form_id = form_ids(owner)["Insurance card"]
    for record in (client, other):
        share = f"/clients/{record.id}/forms/share"
        assert post(owner, share, {"form_id": form_id}, f"/clients/{record.id}/forms").status_code == 302
    page = f"/portal/forms/{form_id}"

    # Bo uploads a card: a document of Bo's record.
    bo = client_visitor(visit, practice, other)
    assert (
        with_file(bo, page, {"insurer": "Acme", "action": "save"}, "card.pdf", pdf_bytes("Bo")).status_code
        == 200
    )
    with in_practice(practice):
        bos_document = db.session.scalars(select(Document).where(Document.client_id == other.id)).one().id

    person = client_visitor(visit, practice, client)
    form_html = person.get(page).get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in form_html and 'name="card.file"' in form_html
    missing = post(person, page, {"insurer": "Acme", "action": "submit"}, page)
    assert missing.status_code == 400 and "Answer this question." in missing.get_data(as_text=True)
    refused = with_file(person, page, {"insurer": "Acme", "action": "submit"}, "card.exe", b"MZ\x90\x00" * 64)
    assert refused.status_code == 400
    forged = post(
        person, page, {"insurer": "Acme", "card": f"document:{bos_document}", "action": "submit"}, page
    )
    assert forged.status_code == 400 and "Upload the file again." in forged.get_data(as_text=True)
    with in_practice(practice):
        assert db.session.scalars(select(Document).where(Document.client_id == client.id)).first() is None

    # "Save and finish later" with the file; the submit later carries it without uploading again.
    saved = with_file(person, page, {"insurer": "Acme", "action": "save"}, "my card.pdf", pdf_bytes("Ari"))
    assert saved.status_code == 200 and "A file is attached" in saved.get_data(as_text=True)
    with in_practice(practice):
        document = db.session.scalars(select(Document).where(Document.client_id == client.id)).one()
        assert document.kind == UPLOAD and document.uploader_relationship == "client"
        document_id = document.id
    again = person.get(page).get_data(as_text=True)
    assert f'value="document:{document_id}"' in again
    done = post(
        person, page, {"insurer": "Acme", "card": f"document:{document_id}", "action": "submit"}, page
    )
    assert done.status_code == 200
    with in_practice(practice):
        response = db.session.scalars(
            select(FormResponse).where(
                FormResponse.client_id == client.id, FormResponse.status == "completed"
            )
        ).one()
        card = next(i for i in response_json(response)["item"] if i["linkId"] == "card")
        assert card["answer"] == [{"valueAttachment": {"url": f"urn:portico:document:{document_id}"}}]
        response_id = response.id
    assert "my card.pdf" in person.get("/portal/documents").get_data(as_text=True)
    staff = logged_in(visit, practice, clinician)
    view = staff.get(f"/clients/{client.id}/forms/responses/{response_id}").get_data(as_text=True)
    assert f'href="/documents/{document_id}/download"' in view
    assert staff.get(f"/documents/{document_id}/download").status_code == 200
