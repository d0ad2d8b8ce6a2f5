"""The practice's library of shared documents (`/documents/library`): add a file, share an item
with one client, several or all of them, download it, take it out of the library."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user

from app.nav import register_nav, staff_in
from app.web import carry_out, carry_out_form, form_status, staff_required
from blueprints.documents import bp
from blueprints.documents.operations import downloads
from blueprints.documents.operations import library as operations
from blueprints.documents.operations.access import library_item, library_items
from blueprints.documents.views import attachment, flash_check, incoming
from blueprints.documents.views.forms import ACCEPT, ActionForm, LibraryFileForm, ShareWithClientsForm
from blueprints.people.models import Client
from blueprints.people.operations.access import visible_clients
from tenants.database import db

register_nav("staff", "Documents", "documents.library", staff_in(), order=60)


def _library_url() -> str:
    return url_for("documents.library")


def _share_form() -> ShareWithClientsForm:
    form = ShareWithClientsForm()
    clients = db.session.scalars(
        visible_clients(current_user)
        .where(Client.status == "active")
        .order_by(Client.first_name, Client.last_name)
    )
    form.client_ids.choices = [(client.id, client.display_name) for client in clients]
    return form


@bp.route("/documents/library", methods=["GET", "POST"])
@staff_required()
def library():
    form = LibraryFileForm()

    def page():
        return render_template(
            "documents/library.html",
            items=library_items(),
            counts=operations.shared_counts(),
            form=form,
            share_form=_share_form(),
            action_form=ActionForm(),
            may_curate=current_user.role in operations.LIBRARY_ROLES,
            accept=ACCEPT,
        ), form_status(form)

    return carry_out_form(
        form,
        lambda: operations.add_to_library(current_user, incoming(form.file.data)),
        page=page,
        then=_added,
    )


def _added(item):
    flash_check(
        item.scan_status,
        passed="The file is in the library. Share it with clients below.",
        pending="The file is in the library; it can be shared once its virus check is done.",
        refused="That file did not pass the security check, so it was not added.",
    )
    return redirect(_library_url())


@bp.get("/documents/library/<int:item_id>/download")
@staff_required()
def library_download(item_id: int):
    return carry_out(
        lambda: downloads.download_library_item(current_user, library_item(item_id)), then=attachment
    )


@bp.post("/documents/library/<int:item_id>/share")
@staff_required()
def share(item_id: int):
    form = _share_form()
    if not form.validate_on_submit():
        abort(400)

    def shared(count: int):
        flash(
            f"Shared with {count} more client{'' if count == 1 else 's'}."
            if count
            else "They already had it.",
            "success",
        )
        return redirect(_library_url())

    return carry_out(
        lambda: operations.share_item(
            current_user, library_item(item_id), form.client_ids.data or [], form.everyone.data
        ),
        then=shared,
        back=_library_url(),
    )


@bp.post("/documents/library/<int:item_id>/remove")
@staff_required()
def remove(item_id: int):
    return carry_out(
        lambda: operations.remove_from_library(current_user, library_item(item_id)),
        success="Taken out of the library. Clients who have it keep it.",
        then=_library_url(),
        back=_library_url(),
    )
