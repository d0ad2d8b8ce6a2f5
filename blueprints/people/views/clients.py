"""Views of client records (all staff; clinicians and interns only their assigned clients): the list
and search, adding and editing, a client's page, archive, test clients, assignments.

`client_action` runs any change posted from a client's page (portal invites and grants use it too).
"""

from __future__ import annotations

from flask import abort, render_template, request, url_for
from flask_login import current_user

from app.roles import CARE_TEAM, MANAGES_PRACTICE, SEES_ALL_CLIENTS
from app.web import carry_out, carry_out_form, form_status, staff_required
from blueprints.people import bp
from blueprints.people.forms import (
    MINOR_MESSAGE_LABELS,
    ActionForm,
    AssignForm,
    TestClientForm,
    choices,
    client_form,
)
from blueprints.people.operations import clients as operations
from blueprints.people.operations.access import age_on, client_for_staff, is_minor
from blueprints.people.operations.guardians import (
    access_state,
    grants_for_client,
    guardian_allows,
    own_login_state,
)
from blueprints.people.operations.staff import ROLE_LABELS
from blueprints.people.views import done, page_action
from tenants.features import is_enabled, practice_settings, practice_today


def client_or_404(client_id: int):
    client = client_for_staff(current_user, client_id)
    if client is None:
        abort(404)  # another practice's id, or a client this person may not see: the same answer
    return client


def render_client(client, error: str | None = None, status: int = 200):
    assignable = operations.assignable_staff(client)
    assign_form = AssignForm()
    assign_form.user_id.choices = choices((u.id, f"{u.name} ({ROLE_LABELS[u.role]})") for u in assignable)
    guardians_on = is_enabled("guardian_access")
    grants = grants_for_client(client)
    return (
        render_template(
            "people/client_detail.html",
            client=client,
            error=error,
            may_assign=current_user.role in SEES_ALL_CLIENTS,
            may_archive=current_user.role in CARE_TEAM,
            may_grant=current_user.role in CARE_TEAM,
            may_mark_test=current_user.role in MANAGES_PRACTICE,
            assign_form=assign_form,
            assignable=assignable,
            action_form=ActionForm(),
            test_form=TestClientForm(),
            portal_on=is_enabled("portal"),
            guardians_on=guardians_on,
            minor=is_minor(client),
            self_grants=[g for g in grants if g.relationship_kind == "self"],
            own_login=own_login_state(client, grants),
            guardian_grants=[g for g in grants if g.relationship_kind == "guardian"] if guardians_on else [],
            access_state=access_state,
            guardian_allows=guardian_allows,
            age=age_on(client.date_of_birth, practice_today()),
            minor_message_labels=MINOR_MESSAGE_LABELS,
            settings=practice_settings(),
        ),
        status,
    )


def client_action(client_id: int, change, success: str, form=None):
    """Run `change(client)` for a POST from the client's page: 404, 403, 400 with the message, or done.
    `change` may return the message to show instead of `success`."""
    return page_action(
        client_or_404(client_id),
        change,
        render_client,
        then=lambda message: done(message or success, url_for("people.client", client_id=client_id)),
        form=form,
    )


@bp.get("/clients")
@staff_required()
def clients():
    status = request.args.get("status", "active")
    if status not in ("active", "archived"):
        status = "active"
    query = request.args.get("q", "").strip()[:200]
    found = operations.search_clients(current_user, query, status)
    return render_template(
        "people/clients.html", clients=found, query=query, status=status, limit=operations.LIST_LIMIT
    )


def _render_client_form(form, client=None):
    return (
        render_template(
            "people/client_form.html",
            form=form,
            client=client,
            sections=operations.asked_sections(practice_settings()),
            time_zones=operations.time_zone_names(),
        ),
        form_status(form),
    )


@bp.route("/clients/new", methods=["GET", "POST"])
@staff_required()
def new_client():
    form = client_form(practice_settings())
    return carry_out_form(
        form,
        lambda: operations.add_client(current_user, form.asked_data()),
        page=lambda: _render_client_form(form),
        then=lambda client: done(
            f"{client.display_name} was added.", url_for("people.client", client_id=client.id)
        ),
    )


@bp.route("/clients/<int:client_id>/edit", methods=["GET", "POST"])
@staff_required()
def edit_client(client_id: int):
    client = client_or_404(client_id)
    form = client_form(practice_settings(), obj=client)
    return carry_out_form(
        form,
        lambda: operations.update_client(current_user, client, form.asked_data()),
        page=lambda: _render_client_form(form, client),
        success="The record was saved.",
        then=url_for("people.client", client_id=client_id),
    )


@bp.get("/clients/<int:client_id>")
@staff_required()
def client(client_id: int):
    client = client_or_404(client_id)
    return carry_out(
        lambda: operations.record_viewed(current_user, client), then=lambda _: render_client(client)
    )


@bp.post("/clients/<int:client_id>/archive")
@staff_required()
def archive_client(client_id: int):
    return client_action(
        client_id, lambda c: operations.set_archived(current_user, c, True), "The record is archived."
    )


@bp.post("/clients/<int:client_id>/unarchive")
@staff_required()
def unarchive_client(client_id: int):
    return client_action(
        client_id, lambda c: operations.set_archived(current_user, c, False), "The record is active again."
    )


@bp.post("/clients/<int:client_id>/test-client")
@staff_required()
def mark_test_client(client_id: int):
    form = TestClientForm()
    return client_action(
        client_id,
        lambda c: operations.set_test_client(current_user, c, form.is_test.data == "1"),
        "Saved: test client setting.",
        form,
    )


@bp.post("/clients/<int:client_id>/clinicians")
@staff_required()
def assign_clinician(client_id: int):
    form = AssignForm()
    return client_action(
        client_id,
        lambda c: f"{operations.assign(current_user, c, form.user_id.data).name} is assigned.",
        "",
        form,
    )


@bp.post("/clients/<int:client_id>/clinicians/<int:user_id>/remove")
@staff_required()
def unassign_clinician(client_id: int, user_id: int):
    def change(client):
        operations.unassign(current_user, client, user_id)

    return client_action(client_id, change, "The assignment was removed.")
