"""Consent and e-signature (ESIGN/UETA): the electronic-records disclosure opened as a PDF and agreed
to once (and withdrawn), the consent signed with a typed full name and "I agree" after
authentication, what is recorded (signer, method, relationship, UTC time, IP, browser, events, a
SHA-256 over RFC 8785 canonical JSON that the stored record reproduces), the signed PDF with its
certificate page on the client's record for both sides, and every refusal on the way."""

from __future__ import annotations

import hashlib
import io
import json
import re

import pytest
import rfc8785
from pypdf import PdfReader
from sqlalchemy import select

from app.refusals import NotAllowed
from blueprints.documents.models import SIGNED, Document
from blueprints.onboarding.models import ERecordsConsent, FormResponse, FormSignature, SignatureEvent
from blueprints.onboarding.operations import signatures
from blueprints.onboarding.operations.instruments import PHQ9
from blueprints.onboarding.operations.validation import (
    SIGNATURE_REQUIRED,
    needs_signature,
    validate_questionnaire,
)
from blueprints.people.models import Client
from blueprints.portal.service import SELF
from blueprints.portal.viewer import Viewer
from tenants.database import db
from tests.test_onboarding_http import (
    client_visitor,
    form_ids,
    logged_in,
    post,
    put_in_onboarding,
    settings,
    years_ago,
)
from tests.test_profile_links import follow_link, issue_link  # noqa: F401 (a fixture)

CONSENT = {
    "resourceType": "Questionnaire",
    "status": "active",
    "title": "Consent to treatment",
    "extension": [{"url": SIGNATURE_REQUIRED, "valueBoolean": True}],
    "item": [
        {"linkId": "terms", "type": "display", "text": "Sessions are confidential within the law."},
        {"linkId": "contact", "type": "string", "text": "Best phone number", "required": True},
    ],
}


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def import_consent(owner) -> int:
    assert post(owner, "/forms/import", {"text": json.dumps(CONSENT)}, "/forms").status_code == 302
    return form_ids(owner)["Consent to treatment"]


def agree_to_erecords(person, page: str):
    opened = person.get("/portal/forms/disclosure.pdf")
    assert opened.status_code == 200 and opened.mimetype == "application/pdf"
    return post(
        person, f"/portal/forms/disclosure/accept?next={page}", {"confirm": "y"}, "/portal/forms/disclosure"
    )


def sign(person, page: str, name: str, agree: bool = True, **answers):
    data = {"contact": "555-0100", "signature_name": name, "action": "submit", **answers}
    if agree:
        data["signature_agree"] = "yes"
    return post(person, page, data, page)


@pytest.fixture
def consent_setup(make_practice, make_staff, make_client, visit, in_practice):
    practice = make_practice()
    settings(in_practice, practice, portal_enabled=True, time_zone="America/New_York")
    clinician = make_staff(practice, "clinician")
    client = make_client(
        practice,
        first="Robin",
        last="Signer",
        email=f"robin@{practice.slug}.example.com",
        login=True,
        clinicians=(clinician,),
    )
    owner = logged_in(visit, practice, practice.owner_email)
    consent = import_consent(owner)
    return practice, client, owner, consent


def test_validation_accepts_the_signature_extension_and_refuses_others():
    assert validate_questionnaire(json.loads(json.dumps(CONSENT)))
    assert needs_signature(CONSENT) and not needs_signature({**CONSENT, "extension": []})
    other = {**CONSENT, "extension": [{"url": "http://example.org/x", "valueBoolean": True}]}
    with pytest.raises(Exception, match="the extension 'http://example.org/x' on the Questionnaire"):
        validate_questionnaire(other)
    wrong = {**CONSENT, "extension": [{"url": SIGNATURE_REQUIRED, "valueString": "yes"}]}
    with pytest.raises(Exception, match="takes valueBoolean only"):
        validate_questionnaire(wrong)


def test_a_client_agrees_to_e_records_signs_and_both_sides_get_the_signed_pdf(
    consent_setup, visit, in_practice
):
    practice, client, owner, consent = consent_setup
    assert put_in_onboarding(owner, consent).status_code == 302
    person = client_visitor(visit, practice, client)
    page = f"/portal/forms/{consent}"

    # First the disclosure: no signature block until it is agreed to.
    first = person.get(page).get_data(as_text=True)
    assert "Before you sign: electronic records" in first and 'id="sign-button"' not in first
    assert sign(person, page, "Robin Signer").status_code == 409  # no e-records consent yet
    not_opened = post(person, "/portal/forms/disclosure/accept", {"confirm": "y"}, "/portal/forms/disclosure")
    assert not_opened.status_code == 400 and "Open the disclosure (PDF) first" in not_opened.get_data(
        as_text=True
    )
    text = pdf_text(person.get("/portal/forms/disclosure.pdf").data)
    for needed in (
        "paper copy",
        "Withdrawing your consent",
        "Which records this covers",
        "contact details",
        "What you need",
    ):
        assert needed in text
    unticked = post(person, "/portal/forms/disclosure/accept", {}, "/portal/forms/disclosure")
    assert unticked.status_code == 400 and "Tick the box" in unticked.get_data(as_text=True)
    accepted = agree_to_erecords(person, page)
    assert accepted.status_code == 302 and accepted.headers["Location"] == page
    assert (
        post(
            person, "/portal/forms/disclosure/accept", {"confirm": "y"}, "/portal/forms/disclosure"
        ).status_code
        == 409
    )

    shown = person.get(page).get_data(as_text=True)
    assert "Sessions are confidential within the law." in shown and 'id="sign-button"' in shown
    wrong_name = sign(person, page, "Someone Else")
    assert wrong_name.status_code == 400 and "Type your full name as the practice has it (Robin Signer)" in (
        wrong_name.get_data(as_text=True)
    )
    unticked = sign(person, page, "Robin Signer", agree=False)
    assert unticked.status_code == 400 and "Tick &#34;I agree&#34; to sign." in unticked.get_data(
        as_text=True
    )
    plain_submit = post(person, page, {"contact": "555", "action": "submit"}, page)
    assert plain_submit.status_code == 400  # a consent is not submitted without its signature
    with in_practice(practice):
        assert db.session.scalars(select(FormSignature)).first() is None

    done = sign(person, page, "  robin   SIGNER ")
    assert done.status_code == 200 and "was signed" in done.get_data(as_text=True)
    assert sign(person, page, "Robin Signer").status_code == 409  # signed once, locked

    with in_practice(practice):
        signature = db.session.scalars(select(FormSignature)).one()
        response = db.session.get(FormResponse, signature.response_id)
        assert response.status == "completed"
        assert signature.signer_name == "robin SIGNER" and signature.signer_relationship is None
        assert signature.auth_method == "portal login with email and password"
        assert signature.ip and signature.user_agent and signature.signed_at.utcoffset().total_seconds() == 0
        # The hash is reproducible from the stored record (RFC 8785 canonical JSON, SHA-256).
        stored = signatures.signed_record(signature)
        assert hashlib.sha256(rfc8785.dumps(stored)).hexdigest() == signature.sha256
        assert signatures.verifies(signature)
        assert stored["shown"]["items"][0]["text"] == "Sessions are confidential within the law."
        assert stored["signer"]["ip"] == signature.ip and stored["signer"]["signed_at"].endswith("Z")
        assert stored["response"]["item"][0]["answer"] == [{"valueString": "555-0100"}]
        events = [e.event for e in db.session.scalars(select(SignatureEvent).order_by(SignatureEvent.id))]
        assert events[:2] == ["disclosure_opened", "disclosure_opened"] and "disclosure_accepted" in events
        assert events[-1] == "signed" and "viewed" in events
        document = db.session.get(Document, signature.document_id)
        assert document.kind == SIGNED and document.client_id == client.id
        digest, document_id, signature_id = signature.sha256, document.id, signature.id
        # A tampered record no longer verifies.
        stored["shown"]["items"][0]["text"] = "Something else"
        assert hashlib.sha256(rfc8785.dumps(stored)).hexdigest() != digest

    staff_pdf = owner.get(f"/documents/{document_id}/download")
    assert staff_pdf.status_code == 200 and staff_pdf.mimetype == "application/pdf"
    text = pdf_text(staff_pdf.data)
    assert "Sessions are confidential within the law." in text and "555-0100" in text
    assert "Signature certificate" in text and digest[:32] in text.replace("\n", "")
    assert "portal login with email and password" in text
    client_pdf = person.get(f"/portal/documents/{document_id}/download")
    assert client_pdf.status_code == 200 and client_pdf.data == staff_pdf.data
    assert "Signed forms" in person.get("/portal/documents").get_data(as_text=True)
    assert "Signed form, signed by the client" in owner.get(f"/clients/{client.id}/documents").get_data(
        as_text=True
    )
    certificate = owner.get(f"/clients/{client.id}/forms/signatures/{signature_id}").get_data(as_text=True)
    assert digest in certificate and "The stored record still gives this hash." in certificate
    assert f'href="/documents/{document_id}/download"' in certificate
    locked = person.get(page).get_data(as_text=True)
    assert "A signed form cannot be changed." in locked
    own_copy = f"/portal/forms/signatures/{signature_id}/pdf"
    assert own_copy in locked
    settings(in_practice, practice, uploads_enabled=False, shared_documents_enabled=False)
    assert person.get("/portal/documents").status_code == 404
    assert person.get(own_copy).data == staff_pdf.data  # the signer's copy, Documents page off


def test_withdrawn_consent_refuses_signing_and_a_guardian_signing_records_the_relationship(
    consent_setup, make_client, grant_portal, visit, in_practice
):
    practice, _, owner, consent = consent_setup
    child = make_client(practice, first="Kit", date_of_birth=years_ago(9))
    parent = f"parent@{practice.slug}.example.com"
    grant_portal(practice, child, parent)
    assert (
        post(
            owner, f"/clients/{child.id}/forms/share", {"form_id": consent}, f"/clients/{child.id}/forms"
        ).status_code
        == 302
    )
    guardian = logged_in(visit, practice, parent)
    guardian.get("/portal/choose")  # the one record this guardian acts for opens at once
    page = f"/portal/forms/{consent}"
    assert agree_to_erecords(guardian, page).status_code == 302
    withdrawn = post(guardian, "/portal/forms/disclosure/withdraw", {}, "/portal/forms/disclosure")
    assert withdrawn.status_code == 302
    assert "You withdrew your consent" in guardian.get("/portal/forms/disclosure").get_data(as_text=True)
    refused = sign(guardian, page, "Person parent")
    assert refused.status_code == 409 and "paper copy" in refused.get_data(as_text=True)

    assert agree_to_erecords(guardian, page).status_code == 302  # consent given again: a new row
    declined = post(guardian, page, {"action": "decline"}, page)
    assert declined.status_code == 302
    assert sign(guardian, page, f"Kit {child.name.split()[1]}").status_code == 400  # the child's name
    assert sign(guardian, page, "Person parent").status_code == 200
    with in_practice(practice):
        signature = db.session.scalars(select(FormSignature)).one()
        assert (signature.client_id, signature.signer_kind, signature.signer_relationship) == (
            child.id,
            "guardian",
            "guardian",
        )
        assert signatures.signed_record(signature)["signer"]["relationship"] == "guardian"
        consents = list(db.session.scalars(select(ERecordsConsent).order_by(ERecordsConsent.id)))
        assert len(consents) == 2 and consents[0].withdrawn_at and consents[1].withdrawn_at is None
        assert signature.erecords_consent_id == consents[1].id
        events = {e.event for e in db.session.scalars(select(SignatureEvent))}
        assert {"disclosure_withdrawn", "declined", "signed"} <= events
        document_id = signature.document_id
    text = pdf_text(owner.get(f"/documents/{document_id}/download").data)
    assert "guardian signing for a minor" in text.replace("\n", " ")
    assert "Signed form, signed by the guardian" in owner.get(f"/clients/{child.id}/documents").get_data(
        as_text=True
    )


def test_a_profile_link_session_signs_only_after_a_step_up(consent_setup, issue_link, visit, in_practice):  # noqa: F811
    practice, client, owner, consent = consent_setup
    assert put_in_onboarding(owner, consent).status_code == 302
    settings(in_practice, practice, profile_links_enabled=True)
    person = visit(practice)
    follow_link(person, issue_link(practice, client))
    page = f"/portal/forms/{consent}"
    assert person.get(page).status_code == 302
    attempt = person.post(
        page, {"signature_name": "Robin Signer", "signature_agree": "yes"}, form_page="/portal"
    )
    assert attempt.status_code == 302 and attempt.headers["Location"].startswith("/verify")
    with in_practice(practice):
        record = db.session.get(Client, client.id)
        viewer = Viewer("profile_link", record, SELF, name=record.display_name, stepped_up=False)
        with pytest.raises(NotAllowed):
            signatures.sign(viewer, consent, {"contact": ["1"]}, "Robin Signer", True)
        db.session.rollback()
    stepped = person.post(
        "/verify",
        {"method": "password", "password": "correct-horse-battery", "next": page},
        form_page="/verify",
    )
    assert stepped.status_code == 302
    assert agree_to_erecords(person, page).status_code == 302
    assert sign(person, page, "Robin Signer").status_code == 200
    with in_practice(practice):
        signature = db.session.scalars(select(FormSignature)).one()
        assert signature.signer_kind == "profile_link"
        assert signature.auth_method == "profile link, then step-up with password"


def test_another_clients_signature_and_signed_document_are_not_found(
    consent_setup, make_client, visit, in_practice
):
    practice, client, owner, consent = consent_setup
    assert put_in_onboarding(owner, consent).status_code == 302
    person = client_visitor(visit, practice, client)
    page = f"/portal/forms/{consent}"
    agree_to_erecords(person, page)
    assert sign(person, page, "Robin Signer").status_code == 200
    with in_practice(practice):
        signature = db.session.scalars(select(FormSignature)).one()
        signature_id, document_id = signature.id, signature.document_id
    other = make_client(
        practice, first="Ola", last="Other", email=f"ola@{practice.slug}.example.com", login=True
    )
    assert owner.get(f"/clients/{other.id}/forms/signatures/{signature_id}").status_code == 404
    assert owner.get(f"/clients/{client.id}/forms/signatures/{signature_id + 1000}").status_code == 404
    stranger = client_visitor(visit, practice, other)
    assert stranger.get(f"/portal/documents/{document_id}/download").status_code == 404
    assert stranger.get(f"/portal/forms/signatures/{signature_id}/pdf").status_code == 404
    assert person.get(f"/portal/forms/signatures/{signature_id}/pdf").status_code == 200
    assert "Signed forms" not in stranger.get("/portal/documents").get_data(as_text=True)


def test_the_demo_consent_is_a_consent_with_a_signature():
    from blueprints.demo.forms import CONSENT as DEMO

    assert validate_questionnaire(json.loads(json.dumps(DEMO)))
    assert signatures.is_consent(type("V", (), {"questionnaire": DEMO})())
    assert not re.search(r'"agree"', json.dumps(DEMO))


def test_clinicians_are_told_when_onboarding_is_done_and_when_item_9_needs_attention(
    consent_setup, make_staff, visit, in_practice
):
    from tests.test_onboarding_http import SEVERAL_DAYS, phq9_answers

    practice, client, owner, consent = consent_setup
    with in_practice(practice):
        clinician_email = db.session.get(Client, client.id).clinicians[0].email
    elsewhere = make_staff(practice, "clinician")  # not this client's clinician
    scheduler = logged_in(visit, practice, make_staff(practice, "scheduler"))
    assert put_in_onboarding(owner, consent).status_code == 302
    person = client_visitor(visit, practice, client)
    page = f"/portal/forms/{consent}"
    agree_to_erecords(person, page)
    clinician = logged_in(visit, practice, clinician_email)
    assert "Onboarding completed" not in clinician.get("/notifications").get_data(as_text=True)
    assert sign(person, page, "Robin Signer").status_code == 200
    told = clinician.get("/notifications").get_data(as_text=True)
    assert "Onboarding completed" in told and "Robin" in told
    assert "Onboarding completed" not in logged_in(visit, practice, elsewhere).get("/notifications").get_data(
        as_text=True
    )

    phq9 = form_ids(owner)[PHQ9.title]
    settings(in_practice, practice, crisis_resources="Call 988")
    share = f"/clients/{client.id}/forms/share"
    assert post(owner, share, {"form_id": phq9}, f"/clients/{client.id}/forms").status_code == 302
    phq_page = f"/portal/forms/{phq9}"
    assert (
        post(person, phq_page, {**phq9_answers(item9=SEVERAL_DAYS), "action": "submit"}, phq_page).status_code
        == 200
    )
    told = clinician.get("/notifications").get_data(as_text=True)
    assert "A client&#39;s form needs your attention" in told and "Minimal" not in told
    # A scheduler (sees that forms were done, not answers) is not told of the flag.
    bell = scheduler.get("/notifications").get_data(as_text=True)
    assert "needs your attention" not in bell and "Onboarding completed" in bell


def test_rendering_pdfs_leaves_pillows_truncated_image_check_on(consent_setup, visit):
    """weasyprint turns Pillow's LOAD_TRUNCATED_IMAGES on when imported; the upload checks need it off."""
    from PIL import ImageFile

    practice, client, _, _ = consent_setup
    person = client_visitor(visit, practice, client)
    assert person.get("/portal/forms/disclosure.pdf").status_code == 200
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def _signed_by(person, consent, name, contact):
    person.get("/portal/choose")
    page = f"/portal/forms/{consent}"
    assert agree_to_erecords(person, page).status_code == 302
    assert sign(person, page, name, contact=contact).status_code == 200


def test_a_guardian_without_the_forms_grant_cannot_download_the_minors_signed_consent(
    consent_setup, make_client, grant_portal, visit, in_practice
):
    practice, _, owner, consent = consent_setup
    teen = make_client(
        practice, first="Tess", last="Teen", date_of_birth=years_ago(15),
        email=f"tess@{practice.slug}.example.com", login=True,
    )
    parent = f"parent@{practice.slug}.example.com"
    grant_portal(practice, teen, parent, can_forms=False, can_documents=True, can_see_minor_uploads=False)
    assert post(owner, f"/clients/{teen.id}/forms/share", {"form_id": consent},
                f"/clients/{teen.id}/forms").status_code == 302
    _signed_by(logged_in(visit, practice, teen.email), consent, "Tess Teen", "SECRET-555-0199")
    with in_practice(practice):
        signature = db.session.scalars(select(FormSignature)).one()
        document_id, signature_id = signature.document_id, signature.id

    guardian = logged_in(visit, practice, parent)
    guardian.get("/portal/choose")
    assert guardian.get("/portal/forms").status_code == 403  # the grant says no forms
    assert f"/portal/documents/{document_id}" not in guardian.get("/portal/documents").get_data(as_text=True)
    assert guardian.get(f"/portal/documents/{document_id}/download").status_code == 404
    assert guardian.get(f"/portal/forms/signatures/{signature_id}/pdf").status_code in (403, 404)


def test_a_scheduler_cannot_download_a_signed_forms_pdf(consent_setup, make_staff, visit, in_practice):
    practice, client, owner, consent = consent_setup
    assert post(owner, f"/clients/{client.id}/forms/share", {"form_id": consent},
                f"/clients/{client.id}/forms").status_code == 302
    _signed_by(logged_in(visit, practice, client.email), consent, "Robin Signer", "SECRET-ANSWER-42")
    with in_practice(practice):
        signature = db.session.scalars(select(FormSignature)).one()
        document_id, response_id = signature.document_id, signature.response_id
    scheduler = logged_in(visit, practice, make_staff(practice, "scheduler"))
    # A scheduler sees what is done, not answers.
    assert scheduler.get(f"/clients/{client.id}/forms/responses/{response_id}").status_code == 403
    assert scheduler.get(f"/documents/{document_id}/download").status_code == 403
    tab = scheduler.get(f"/clients/{client.id}/documents").get_data(as_text=True)
    assert f"/documents/{document_id}/download" not in tab
    assert owner.get(f"/documents/{document_id}/download").status_code == 200
    owners_tab = owner.get(f"/clients/{client.id}/documents").get_data(as_text=True)
    assert f"/documents/{document_id}/download" in owners_tab


def test_a_form_titled_with_percent_00_is_signed_as_signed_form(
    make_practice, make_client, visit, in_practice
):
    """A title no upload's name could have (it holds "%00") names the PDF "Signed form"."""
    practice = make_practice()
    settings(in_practice, practice, portal_enabled=True)
    client = make_client(practice, first="Robin", last="Signer", email=f"robin@{practice.slug}.example.com",
                         login=True)
    owner = logged_in(visit, practice, practice.owner_email)
    title = "Late fee 100%00 policy"
    imported = post(owner, "/forms/import", {"text": json.dumps({**CONSENT, "title": title})}, "/forms")
    assert imported.status_code == 302
    consent = form_ids(owner)[title]
    assert post(owner, f"/clients/{client.id}/forms/share", {"form_id": consent},
                f"/clients/{client.id}/forms").status_code == 302
    _signed_by(logged_in(visit, practice, client.email), consent, "Robin Signer", "555-0100")
    with in_practice(practice):
        signed = db.session.scalars(select(Document).where(Document.kind == SIGNED)).one()
        assert signed.name == "Signed form.pdf"


def test_a_nan_decimal_answer_is_refused_when_signing(make_practice, make_client, visit, in_practice):
    practice = make_practice()
    settings(in_practice, practice, portal_enabled=True)
    owner = logged_in(visit, practice, practice.owner_email)
    data = {**CONSENT, "title": "Weighted consent",
            "item": [*CONSENT["item"], {"linkId": "weight", "type": "decimal", "text": "Weight"}]}
    assert post(owner, "/forms/import", {"text": json.dumps(data)}, "/forms").status_code == 302
    consent = form_ids(owner)["Weighted consent"]
    client = make_client(practice, first="Robin", last="Signer", email=f"robin@{practice.slug}.example.com",
                         login=True)
    assert post(owner, f"/clients/{client.id}/forms/share", {"form_id": consent},
                f"/clients/{client.id}/forms").status_code == 302
    signer = logged_in(visit, practice, client.email)
    signer.get("/portal/choose")
    page = f"/portal/forms/{consent}"
    assert agree_to_erecords(signer, page).status_code == 302
    refused = sign(signer, page, "Robin Signer", weight="NaN")
    assert refused.status_code == 400 and "Enter a number." in refused.get_data(as_text=True)
    assert sign(signer, page, "Robin Signer", weight="61.5").status_code == 200
