"""Views of the grants on a client's record: adding a guardian to a minor, changing what a guardian
may do, and revoking a guardian's access or the client's own login."""

from __future__ import annotations

from flask import abort, render_template, url_for
from flask_login import current_user

from app.web import carry_out_form, form_status, staff_required
from blueprints.people import bp
from blueprints.people.forms import GuardianForm, GuardianPermissionsForm
from blueprints.people.operations import guardians as operations
from blueprints.people.operations.access import check_may_grant, is_minor
from blueprints.people.views import refusal_text
from blueprints.people.views.clients import client_action, client_or_404
from tenants.features import feature_required, practice_settings


def _grant_or_404(client, access_id: int, relationship: str):
    access = operations.access_for_client(client, access_id, relationship)
    if access is None:
        abort(404)
    return access


def _render_form(form, client, access=None):
    return render_template(
        "people/guardian_form.html",
        form=form,
        access=access,
        error=refusal_text(form),
        client=client,
        minor=is_minor(client),
        settings=practice_settings(),
    ), form_status(form)


@bp.route("/clients/<int:client_id>/guardians/new", methods=["GET", "POST"])
@staff_required()
@feature_required("guardian_access")
def add_guardian(client_id: int):
    client = client_or_404(client_id)
    check_may_grant(current_user)
    form = GuardianForm()
    return carry_out_form(
        form,
        lambda: operations.add_guardian(
            current_user, client, form.name.data, form.email.data, form.permissions()
        ),
        page=lambda: _render_form(form, client),
        success=f"{form.name.data} can now act for {client.display_name}. An email is on its way.",
        then=url_for("people.client", client_id=client_id),
    )


@bp.route("/clients/<int:client_id>/guardians/<int:access_id>", methods=["GET", "POST"])
@staff_required()
@feature_required("guardian_access")
def edit_guardian(client_id: int, access_id: int):
    client = client_or_404(client_id)
    access = _grant_or_404(client, access_id, "guardian")
    check_may_grant(current_user)
    form = GuardianPermissionsForm(obj=access)
    return carry_out_form(
        form,
        lambda: operations.update_guardian(current_user, access, form.permissions()),
        page=lambda: _render_form(form, client, access),
        success=f"{access.user.name}'s permissions were saved.",
        then=url_for("people.client", client_id=client_id),
    )


@bp.post("/clients/<int:client_id>/guardians/<int:access_id>/revoke")
@staff_required()
@feature_required("guardian_access")
def revoke_guardian(client_id: int, access_id: int):
    access = _grant_or_404(client_or_404(client_id), access_id, "guardian")
    return client_action(
        client_id, lambda c: operations.revoke(current_user, access), "Guardian access revoked."
    )


@bp.post("/clients/<int:client_id>/portal/<int:access_id>/revoke")
@staff_required()
def revoke_portal_access(client_id: int, access_id: int):
    access = _grant_or_404(client_or_404(client_id), access_id, "self")
    return client_action(
        client_id, lambda c: operations.revoke(current_user, access), "Portal access revoked."
    )
