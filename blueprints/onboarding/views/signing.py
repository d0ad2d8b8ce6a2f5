"""The client portal's side of e-signatures: the electronic-records disclosure (its page, its PDF,
agreeing after opening it, withdrawing), and signing or declining a consent (posted to the form's
own page, see `views.portal`). A profile-link session steps up first, like every forms page."""

from __future__ import annotations

from flask import Response, render_template, request, url_for

from app.refusals import NotFound
from app.web import carry_out, carry_out_form, form_status
from blueprints.documents.operations import downloads
from blueprints.documents.views import attachment
from blueprints.onboarding import bp
from blueprints.onboarding.forms import DisclosureForm
from blueprints.onboarding.operations import disclosure, signatures
from blueprints.onboarding.views.portal import FEATURE
from blueprints.portal.viewer import current_viewer, portal_page
from tenants.context import current_practice
from tenants.features import practice_zone


def _safe_next() -> str:
    """Back to the form the signer came from (a path of this portal only)."""
    target = request.values.get("next") or ""
    if target.startswith("/portal/forms/") and "//" not in target and "\\" not in target:
        return target
    return url_for("onboarding.disclosure_page")


def disclosure_context(viewer) -> dict:
    return {
        "erecords": disclosure.active_consent(viewer),
        "erecords_last": disclosure.last_consent(viewer),
        "disclosure_url": url_for("onboarding.disclosure_pdf"),
    }


def _disclosure_page(viewer, form: DisclosureForm):
    return render_template(
        "onboarding/disclosure.html",
        viewer=viewer,
        form=form,
        next_url=_safe_next(),
        practice=current_practice(),
        contact_email=disclosure.contact_email(),
        zone=practice_zone(viewer.client.time_zone),
        **disclosure_context(viewer),
    ), form_status(form)


@bp.get("/portal/forms/disclosure")
@portal_page("forms", **FEATURE)
def disclosure_page():
    return _disclosure_page(current_viewer(), DisclosureForm())


@bp.get("/portal/forms/disclosure.pdf")
@portal_page("forms", **FEATURE)
def disclosure_pdf():
    viewer = current_viewer()

    def send(data: bytes):
        response = Response(data, mimetype="application/pdf")
        response.headers.set("Content-Disposition", "inline", filename="electronic-records-disclosure.pdf")
        response.headers["Cache-Control"] = "private, no-store"
        return response

    return carry_out(lambda: disclosure.open_disclosure(viewer), then=send)


@bp.post("/portal/forms/disclosure/accept")
@portal_page("forms", **FEATURE)
def accept_disclosure():
    viewer, form = current_viewer(), DisclosureForm()
    return carry_out_form(
        form,
        lambda: disclosure.accept(viewer, bool(form.confirm.data)),
        page=lambda: _disclosure_page(viewer, form),
        success="Thank you: you agreed to electronic records and signatures.",
        then=_safe_next(),
        back=_safe_next(),
    )


@bp.post("/portal/forms/disclosure/withdraw")
@portal_page("forms", **FEATURE)
def withdraw_disclosure():
    return carry_out(
        lambda: disclosure.withdraw(current_viewer()),
        success="Your consent to electronic records is withdrawn. Ask the practice for paper forms to sign.",
        then=url_for("onboarding.disclosure_page"),
        back=url_for("onboarding.disclosure_page"),
    )


@bp.get("/portal/forms/signatures/<int:signature_id>/pdf")
@portal_page("forms", **FEATURE)
def portal_signed_pdf(signature_id: int):
    """The signer's copy of a signed form, through the documents' audited download (it works while
    the portal's Documents page is off too)."""
    viewer = current_viewer()

    def serve():
        signature = signatures.signature_for(viewer.client, signature_id)  # another record's: 404
        if signature.document_id is None:
            raise NotFound()
        return downloads.download_for_viewer(viewer, signature.document_id)

    return carry_out(serve, then=attachment, back=url_for("onboarding.portal_forms"))
