"""Staff views of a client's documents: the Documents tab (uploads, new ones marked until
reviewed; what was shared; archived ones), sharing a file or a library item with this client,
marking an upload reviewed, archiving, and the audited download. Staff who may not see the
client, and ids of other practices, get 404."""

from __future__ import annotations

from flask import abort, redirect, render_template, url_for
from flask_login import current_user

from app.web import carry_out, carry_out_form, form_status, staff_required
from blueprints.documents import bp
from blueprints.documents.operations import downloads, library, review, uploads
from blueprints.documents.operations.access import library_item, library_items
from blueprints.documents.views import attachment, flash_check, incoming
from blueprints.documents.views.forms import ACCEPT, ActionForm, ShareLibraryItemForm, StaffFileForm
from blueprints.people.operations.access import client_for_staff
from blueprints.people.views.clients import client_or_404
from tenants.context import bound_practice
from tenants.features import practice_zone


def _tab_url(client_id: int) -> str:
    return url_for("documents.staff_documents", client_id=client_id)


def _share_form() -> ShareLibraryItemForm:
    form = ShareLibraryItemForm()
    form.item_id.choices = [(item.id, item.name) for item in library_items()]
    return form


@bp.route("/clients/<int:client_id>/documents", methods=["GET", "POST"])
@staff_required()
def staff_documents(client_id: int):
    """The tab (GET), and sharing a file of staff's own with this client (POST, field `file`)."""
    client = client_or_404(client_id)
    form = StaffFileForm()

    def page():
        listed = review.read_tab(current_user, client)
        return render_template(
            "documents/staff_client.html",
            client=client,
            documents=[(d, note) for d, note in listed if d.archived_at is None],
            archived=[(d, note) for d, note in listed if d.archived_at is not None],
            form=form,
            share_form=_share_form(),
            action_form=ActionForm(),
            accept=ACCEPT,
            may_download=lambda document: downloads.may_download(current_user, document),
            zone=practice_zone(),
        ), form_status(form)

    if not form.is_submitted():
        return carry_out(page)
    return carry_out_form(
        form,
        lambda: uploads.share_file(current_user, client, incoming(form.file.data)),
        page=page,
        then=lambda document: _shared(document, client.id),
    )


def _shared(document, client_id: int):
    flash_check(
        document.scan_status,
        passed="The file is shared: the client sees it under Documents.",
        pending="The file is being checked for viruses; the client sees it once that is done.",
        refused="That file did not pass the security check, so it was not shared.",
    )
    return redirect(_tab_url(client_id))


@bp.post("/clients/<int:client_id>/documents/library")
@staff_required()
def share_library_item_with_client(client_id: int):
    client = client_or_404(client_id)
    form = _share_form()
    if not form.validate_on_submit():
        abort(400)

    def share():
        return library.share_item(current_user, library_item(form.item_id.data), [client.id])

    return carry_out(
        share,
        success="The document is shared: the client sees it under Documents.",
        then=_tab_url(client.id),
        back=_tab_url(client.id),
    )


@bp.post("/documents/<int:document_id>/review")
@staff_required()
def mark_reviewed(document_id: int):
    return carry_out(
        lambda: review.mark_reviewed(current_user, document_id),
        success="Marked as reviewed.",
        then=lambda document: redirect(_tab_url(document.client_id)),
    )


@bp.post("/documents/<int:document_id>/archive")
@staff_required()
def archive(document_id: int):
    return carry_out(
        lambda: review.archive(current_user, document_id),
        success="The document is archived: the client no longer sees it. It stays here.",
        then=lambda document: redirect(_tab_url(document.client_id)),
    )


@bp.get("/documents/<int:document_id>/download")
@staff_required()
def staff_download(document_id: int):
    return carry_out(lambda: downloads.download_for_staff(current_user, document_id), then=attachment)


def documents_panel(client) -> dict | None:
    """What `documents/_client_panel.html` shows on a client's record (staff who may see it)."""
    if bound_practice() is None or not current_user.is_authenticated or not current_user.is_staff:
        return None
    if client_for_staff(current_user, client.id) is None:
        return None
    counts = review.tab_counts(client)
    return {**counts, "url": _tab_url(client.id)}


@bp.app_context_processor
def panel_helpers():
    return {"documents_panel": documents_panel}
