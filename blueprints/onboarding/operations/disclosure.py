"""The electronic-records disclosure (ESIGN, 15 U.S.C. 7001(c)) a signer consents to before their
first electronic signature, and the consent itself.

The disclosure says: the right to a paper copy and how to ask for one, how to withdraw consent and
what follows, which records it covers, how to update contact details, and the hardware and software
needed. It is offered as a PDF; consent is accepted only after that PDF was opened by the same
signer (recorded as an event), which shows they can open the records they will receive. Consent is
recorded once per signer and can be withdrawn; after a withdrawal nothing more is signed
electronically until consent is given again. Signatures made before a withdrawal stay valid.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from flask import has_request_context, render_template, request
from sqlalchemy import select

from app.refusals import Conflict, NotAllowed, Problems
from blueprints.audit.service import record
from blueprints.onboarding.models import ERecordsConsent, SignatureEvent
from blueprints.onboarding.operations.pdf import html_to_pdf
from blueprints.portal.viewer import Viewer
from tenants.context import current_practice
from tenants.database import db
from tenants.features import practice_settings

DISCLOSURE_VERSION = 1
OPENED_WITHIN = timedelta(hours=24)  # the disclosure PDF must have been opened this recently


def signer_key(viewer: Viewer) -> str:
    """Who signs: the client themselves (own login or a profile link), or a guardian's login."""
    if viewer.kind == "guardian":
        return f"user:{viewer.user_id}"
    return f"client:{viewer.client.id}"


def where() -> tuple[str | None, str | None]:
    """The signer's address and browser, as this request gives them."""
    if not has_request_context():
        return None, None
    return request.remote_addr, (request.user_agent.string or "")[:500] or None


def log_event(viewer: Viewer, event: str, form_id: int | None = None, signature_id: int | None = None):
    ip, agent = where()
    db.session.add(
        SignatureEvent(
            client_id=viewer.client.id,
            form_id=form_id,
            signature_id=signature_id,
            signer_key=signer_key(viewer),
            event=event,
            actor_kind=viewer.kind,
            actor_name=viewer.name,
            ip=ip,
            user_agent=agent,
        )
    )
    db.session.flush()


def contact_email() -> str | None:
    return (practice_settings().contact_email or "").strip() or None


def disclosure_html() -> str:
    """The disclosure as this practice words it today (the PDF and the page show the same)."""
    return render_template(
        "onboarding/pdf/disclosure.html",
        practice=current_practice(),
        contact_email=contact_email(),
        version=DISCLOSURE_VERSION,
    )


def disclosure_pdf() -> bytes:
    return html_to_pdf(disclosure_html())


def active_consent(viewer: Viewer) -> ERecordsConsent | None:
    return db.session.scalars(
        select(ERecordsConsent).where(
            ERecordsConsent.signer_key == signer_key(viewer), ERecordsConsent.withdrawn_at.is_(None)
        )
    ).first()


def last_consent(viewer: Viewer) -> ERecordsConsent | None:
    return db.session.scalars(
        select(ERecordsConsent)
        .where(ERecordsConsent.signer_key == signer_key(viewer))
        .order_by(ERecordsConsent.id.desc())
    ).first()


def open_disclosure(viewer: Viewer) -> bytes:
    """The disclosure PDF for this signer; opening it is recorded (consent needs it)."""
    data = disclosure_pdf()
    if not viewer.read_only:
        log_event(viewer, "disclosure_opened")
    return data


def _opened_recently(viewer: Viewer) -> bool:
    since = datetime.now(UTC) - OPENED_WITHIN
    return (
        db.session.scalars(
            select(SignatureEvent.id).where(
                SignatureEvent.signer_key == signer_key(viewer),
                SignatureEvent.event == "disclosure_opened",
                SignatureEvent.at >= since,
            )
        ).first()
        is not None
    )


def accept(viewer: Viewer, confirmed: bool) -> ERecordsConsent:
    """The signer consents to electronic records and signatures, having opened the disclosure PDF."""
    if viewer.read_only:
        raise NotAllowed("This is a preview: nothing is recorded.")
    if active_consent(viewer) is not None:
        raise Conflict("You have already agreed to electronic records and signatures.")
    if not _opened_recently(viewer):
        raise Problems(
            {"confirm": "Open the disclosure (PDF) first: agreeing shows you can open the records we send."}
        )
    if not confirmed:
        raise Problems({"confirm": "Tick the box to confirm you opened the disclosure and agree."})
    ip, agent = where()
    consent = ERecordsConsent(
        client_id=viewer.client.id,
        signer_key=signer_key(viewer),
        signer_user_id=viewer.user_id,
        signer_name=viewer.name,
        disclosure_version=DISCLOSURE_VERSION,
        disclosure_sha256=hashlib.sha256(disclosure_html().encode()).hexdigest(),
        ip=ip,
        user_agent=agent,
    )
    db.session.add(consent)
    db.session.flush()
    log_event(viewer, "disclosure_accepted")
    record(
        "agreed to electronic records",
        client_id=viewer.client.id,
        detail=f"disclosure version {DISCLOSURE_VERSION}",
        **viewer.audit_actor,
    )
    return consent


def withdraw(viewer: Viewer) -> ERecordsConsent:
    """Consent ends now: nothing more is signed electronically (what was signed stays signed)."""
    if viewer.read_only:
        raise NotAllowed("This is a preview: nothing is recorded.")
    consent = active_consent(viewer)
    if consent is None:
        raise Conflict("You have not agreed to electronic records, so there is nothing to withdraw.")
    consent.withdrawn_at = datetime.now(UTC)
    db.session.flush()
    log_event(viewer, "disclosure_withdrawn")
    record("withdrew consent to electronic records", client_id=viewer.client.id, **viewer.audit_actor)
    return consent
