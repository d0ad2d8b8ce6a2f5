"""Signing a consent form (ESIGN/UETA): who may sign, what is recorded, and the proof.

A consent is a Questionnaire carrying the SIGNATURE_REQUIRED extension. Its signer must be
authenticated (their portal login, or a profile link after a step-up), must have agreed to
electronic records (`disclosure`), sees the full text, types their full name and ticks "I agree".
Signing completes the response (so a second signature is a 409) and records: the signer, how they
were authenticated, the relationship when a guardian signs for a minor, UTC time, IP, user agent,
and a SHA-256 over the RFC 8785 canonical JSON of {questionnaire version, the exact text shown, the
response, the signer block}. That canonical JSON is kept sealed with the signature, so the hash can
be checked again and the PDF shows what was signed, never a template that changed since.
Viewing, signing and declining are events of the signature trail.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from datetime import UTC, datetime

import rfc8785
from sqlalchemy import select

from app.refusals import Conflict, NotAllowed, NotFound, Problems
from blueprints.audit.models import AuditEvent
from blueprints.audit.service import record
from blueprints.documents.operations.signed import store_signed_form
from blueprints.onboarding.models import FormSignature, FormVersion, SignatureEvent
from blueprints.onboarding.operations import disclosure, responses
from blueprints.onboarding.operations.items import build_items, walk
from blueprints.onboarding.operations.signed_pdf import render_signed_pdf
from blueprints.onboarding.operations.validation import needs_signature
from blueprints.people.models import Client
from blueprints.portal.viewer import Viewer
from tenants.database import db
from tenants.encryption import seal, unseal

AGREEMENT = "I agree to the text above, and that typing my full name is my electronic signature."


def is_consent(version: FormVersion) -> bool:
    return needs_signature(version.questionnaire)


def shown_text(version: FormVersion) -> dict:
    """Exactly the text a signer is shown: the title, every item's prefix and text in order, and
    the agreement they tick."""
    questionnaire = version.questionnaire
    return {
        "title": questionnaire.get("title") or "",
        "items": [
            {"linkId": item.link_id, "type": item.type, "prefix": item.prefix or "", "text": item.text}
            for item in walk(build_items(questionnaire))
        ],
        "copyright": questionnaire.get("copyright") or "",
        "agreement": AGREEMENT,
    }


def _plain(name: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", name or "").casefold().split())


def names_on_file(viewer: Viewer) -> list[str]:
    """The full names this signer may type: a guardian's own name; the client's legal name (or the
    name they go by) for the client themselves."""
    if viewer.kind == "guardian":
        return [viewer.name]
    client = viewer.client
    return [f"{client.first_name} {client.last_name}", client.display_name]


def auth_method(viewer: Viewer) -> str:
    """How this signer was authenticated, as the log recorded it."""
    if viewer.kind == "profile_link":
        step = db.session.scalars(
            select(AuditEvent.detail)
            .where(
                AuditEvent.client_id == viewer.client.id,
                AuditEvent.actor_kind == "profile_link",
                AuditEvent.action == "stepped up",
            )
            .order_by(AuditEvent.id.desc())
        ).first()
        return f"profile link, then step-up with {step or 'a verification'}"
    detail = db.session.scalars(
        select(AuditEvent.detail)
        .where(AuditEvent.actor_user_id == viewer.user_id, AuditEvent.action == "logged in")
        .order_by(AuditEvent.id.desc())
    ).first()
    return f"portal login ({detail})" if detail else "portal login with email and password"


def signing_problems(viewer: Viewer, typed_name: str, agreed: bool) -> dict[str, str]:
    problems = {}
    if not (typed_name or "").strip():
        problems["signature_name"] = "Type your full name to sign."
    elif _plain(typed_name) not in {_plain(name) for name in names_on_file(viewer)}:
        problems["signature_name"] = (
            f"Type your full name as the practice has it ({names_on_file(viewer)[0]}). "
            "If it is wrong, ask the practice to correct it."
        )
    if not agreed:
        problems["signature_agree"] = 'Tick "I agree" to sign.'
    return problems


def _check_may_sign(viewer: Viewer, form_id: int):
    """The form, if this viewer may sign it now; else the refusal (in the order a signer meets them)."""
    if viewer.read_only:
        raise NotAllowed("This is a preview: nothing can be signed.")
    form, to_do = responses.portal_form(viewer.client.id, form_id)
    if not to_do:
        raise Conflict("This form was already signed and cannot be signed again.")
    if not is_consent(responses.current_version(viewer.client.id, form)):
        raise Conflict("This form is not signed: submit it instead.")
    if viewer.needs_step_up:
        raise NotAllowed("Confirm it is you (step-up) before signing.")
    consent = disclosure.active_consent(viewer)
    if consent is None:
        raise Conflict(
            "Agree to electronic records and signatures first. If you withdrew that consent, ask the "
            "practice for a paper copy to sign."
        )
    return form, consent


def record_viewed(viewer: Viewer, form_id: int) -> None:
    """The signer opened the consent's full text (only counted once they may sign it)."""
    if viewer.read_only or disclosure.active_consent(viewer) is None:
        return
    disclosure.log_event(viewer, "viewed", form_id=form_id)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def canonical_hash(payload: dict) -> tuple[bytes, str]:
    canonical = rfc8785.dumps(payload)
    return canonical, hashlib.sha256(canonical).hexdigest()


def sign(viewer: Viewer, form_id: int, answers: dict[str, list[str]], typed_name: str, agreed: bool):
    """Sign the consent: complete the response, record the signature and file its PDF."""
    form, consent = _check_may_sign(viewer, form_id)
    problems = signing_problems(viewer, typed_name, agreed)
    if problems:
        raise Problems(problems)
    version = responses.current_version(viewer.client.id, form)
    shown = shown_text(version)
    submitted = responses.submit(
        viewer, form_id, answers, signing=True
    )  # 400 for answers; locks the response
    response = submitted.response
    ip, agent = disclosure.where()
    now = datetime.now(UTC).replace(microsecond=0)
    relationship = "guardian" if viewer.kind == "guardian" else None
    signer = {
        "name_typed": " ".join(typed_name.split()),
        "kind": viewer.kind,
        "user_id": viewer.user_id,
        "client_id": viewer.client.id,
        "relationship": relationship,
        "auth_method": auth_method(viewer),
        "intent": {"agreement": AGREEMENT, "ticked": True},
        "erecords_consent": {
            "id": consent.id,
            "disclosure_version": consent.disclosure_version,
            "accepted_at": _iso(consent.accepted_at),
        },
        "signed_at": _iso(now),
        "ip": ip,
        "user_agent": agent,
    }
    payload = {
        "questionnaire": {
            "reference": f"Questionnaire/form-{form.id}|{version.version}",
            "form_version_id": version.id,
        },
        "shown": shown,
        "response": responses.response_json(response),
        "signer": signer,
    }
    canonical, digest = canonical_hash(payload)
    first_viewed = (_first_viewed(viewer, form.id) or now).astimezone(UTC)
    pdf = render_signed_pdf(payload, digest, viewer.client, first_viewed)
    document = store_signed_form(
        viewer.client,
        form.title,
        pdf,
        signer_user_id=viewer.user_id,
        relationship="guardian" if relationship else "client",
        actor=viewer.audit_actor,
    )
    signature = FormSignature(
        client_id=viewer.client.id,
        response_id=response.id,
        form_id=form.id,
        form_version_id=version.id,
        erecords_consent_id=consent.id,
        document_id=document.id,
        signer_user_id=viewer.user_id,
        signer_kind=viewer.kind,
        signer_name=signer["name_typed"],
        signer_relationship=relationship,
        auth_method=signer["auth_method"],
        signed_at=now,
        ip=ip,
        user_agent=agent,
        sha256=digest,
        record_sealed=b"",
    )
    db.session.add(signature)
    db.session.flush()
    signature.record_sealed = seal(
        canonical, table="form_signatures", row_id=signature.id, column="record_sealed"
    )
    disclosure.log_event(viewer, "signed", form_id=form.id, signature_id=signature.id)
    record(
        "signed a form",
        client_id=viewer.client.id,
        detail=f"form {form.id}: {form.title}; signature {signature.id}",
        **viewer.audit_actor,
    )
    return signature, submitted


def decline(viewer: Viewer, form_id: int) -> None:
    """The signer chose not to sign: recorded; the form stays on their list (answers kept)."""
    form, _ = _check_may_sign(viewer, form_id)
    disclosure.log_event(viewer, "declined", form_id=form.id)
    record(
        "declined to sign a form", client_id=viewer.client.id, detail=f"form {form.id}", **viewer.audit_actor
    )


def _first_viewed(viewer: Viewer, form_id: int) -> datetime | None:
    return db.session.scalars(
        select(SignatureEvent.at)
        .where(
            SignatureEvent.client_id == viewer.client.id,
            SignatureEvent.form_id == form_id,
            SignatureEvent.event == "viewed",
        )
        .order_by(SignatureEvent.id)
    ).first()


# ------------------------------------------------------------------ reading signatures back


def signed_record(signature: FormSignature) -> dict:
    """The canonical JSON that was hashed, as stored."""
    raw = unseal(
        signature.record_sealed, table="form_signatures", row_id=signature.id, column="record_sealed"
    )
    return json.loads(raw)


def verifies(signature: FormSignature) -> bool:
    """Whether the stored record still hashes to the signature's SHA-256."""
    return canonical_hash(signed_record(signature))[1] == signature.sha256


def signature_for(client: Client, signature_id: int) -> FormSignature:
    signature = db.session.get(FormSignature, signature_id)
    if signature is None or signature.client_id != client.id:
        raise NotFound()
    return signature


def signatures_for(client_id: int) -> list[FormSignature]:
    return list(
        db.session.scalars(
            select(FormSignature)
            .where(FormSignature.client_id == client_id)
            .order_by(FormSignature.signed_at)
        )
    )


def signature_of_response(response_id: int) -> FormSignature | None:
    return db.session.scalars(select(FormSignature).where(FormSignature.response_id == response_id)).first()


def events_for(client_id: int, form_id: int | None = None) -> list[SignatureEvent]:
    query = select(SignatureEvent).where(SignatureEvent.client_id == client_id)
    if form_id is not None:
        query = query.where((SignatureEvent.form_id == form_id) | SignatureEvent.form_id.is_(None))
    return list(db.session.scalars(query.order_by(SignatureEvent.at, SignatureEvent.id)))
