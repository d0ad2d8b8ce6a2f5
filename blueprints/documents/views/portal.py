"""The client portal's Documents page: upload (field `file`, optional `note`), the record's
uploads and what the practice shared, download, and removing an upload staff have not reviewed.

404 while both documents toggles are off (and gone from navigation); with "Client uploads" off the
shared documents still show, without the form. A profile-link session steps up first.
"""

from __future__ import annotations

from functools import wraps

from flask import abort, redirect, render_template, url_for

from app.nav import register_nav
from app.web import carry_out, carry_out_form, form_status
from blueprints.documents import bp
from blueprints.documents.operations import access, downloads, review, uploads
from blueprints.documents.views import attachment, flash_check, incoming
from blueprints.documents.views.forms import ACCEPT, ActionForm, UploadForm
from blueprints.portal.viewer import current_viewer, portal_page
from tenants.features import is_enabled, practice_settings, practice_zone


def _in_nav() -> bool:
    if not access.portal_documents_on():
        return False
    viewer = current_viewer()
    if viewer is None:
        return False
    return viewer.permissions.documents or viewer.needs_step_up


register_nav("portal", "Documents", "documents.portal_documents", _in_nav, order=45)


def documents_open(view):
    """404 unless "Client uploads" or "Shared documents" is on (the portal's own checks follow)."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if not access.portal_documents_on():
            abort(404)
        return view(*args, **kwargs)

    return wrapper


def _may_upload(viewer) -> bool:
    return is_enabled("uploads") and not viewer.read_only and viewer.permissions.documents


def _may_remove(viewer, document) -> bool:
    mine = document.uploader_relationship == access.viewer_relationship(viewer)
    if viewer.kind == "guardian":
        mine = mine and document.uploader_user_id == viewer.user_id
    return mine and document.reviewed_at is None and not viewer.read_only


@bp.route("/portal/documents", methods=["GET", "POST"])
@documents_open
@portal_page("documents", step_up=True)
def portal_documents():
    viewer = current_viewer()
    form = UploadForm()

    def page():
        own, shared, signed = access.portal_documents(viewer)
        return render_template(
            "documents/portal.html",
            viewer=viewer,
            form=form,
            uploads_on=is_enabled("uploads"),
            shared_on=is_enabled("shared_documents"),
            may_upload=_may_upload(viewer),
            may_remove=lambda document: _may_remove(viewer, document),
            own=own,
            shared=shared,
            signed=signed,
            accept=ACCEPT,
            limits=practice_settings(),
            action_form=ActionForm(),
            zone=practice_zone(viewer.client.time_zone),
        ), form_status(form)

    if not _may_upload(viewer):
        if form.is_submitted():
            abort(403 if is_enabled("uploads") else 404)
        return page()
    return carry_out_form(
        form,
        lambda: uploads.upload_from_portal(viewer, incoming(form.file.data), form.note.data),
        page=page,
        then=_uploaded,
    )


def _uploaded(document):
    flash_check(
        document.scan_status,
        passed="Your file was uploaded. The practice can see it now.",
        pending="Your file was uploaded. It is being checked for viruses and opens once that is done.",
        refused="That file did not pass our security check, so it was not accepted. Nobody can open it.",
    )
    return redirect(url_for("documents.portal_documents"))


@bp.get("/portal/documents/<int:document_id>/download")
@documents_open
@portal_page("documents", step_up=True)
def portal_download(document_id: int):
    viewer = current_viewer()
    return carry_out(
        lambda: downloads.download_for_viewer(viewer, document_id),
        then=attachment,
        back=url_for("documents.portal_documents"),
    )


def _removed(key: str | None):
    review.delete_stored_bytes(key)  # only now: the removal is committed
    return redirect(url_for("documents.portal_documents"))


@bp.post("/portal/documents/<int:document_id>/remove")
@documents_open
@portal_page("documents", step_up=True)
def portal_remove(document_id: int):
    viewer = current_viewer()
    return carry_out(
        lambda: review.remove_own_upload(viewer, document_id),
        success="The file was removed.",
        then=_removed,
        back=url_for("documents.portal_documents"),
    )
