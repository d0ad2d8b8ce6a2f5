"""Views of the people feature: staff, clients, portal invitations, guardians, account activation."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.errors import refuse
from app.extensions import limiter
from app.web import form_status, staff_required
from blueprints.auth.service import AccountError
from blueprints.auth.sessions import start_session
from blueprints.people import bp, service
from blueprints.people.forms import (
    MINOR_MESSAGE_LABELS,
    ActionForm,
    ActivateForm,
    AssignForm,
    GuardianForm,
    GuardianPermissionsForm,
    InviteStaffForm,
    RoleForm,
    TestClientForm,
    choices,
    client_form,
    role_choices,
)
from tenants.database import db
from tenants.features import feature_required, is_enabled, practice_settings

ACTIVATE_LIMIT = "10 per minute;50 per hour"
LINK_GONE = "This activation link has expired or was already used. Please ask the practice for a new one."
STAFF_ROLES_ONLY = service.MANAGE_STAFF


# ---------------------------------------------------------------------------------------------
# Activation (staff, clients, guardians, minors)
# ---------------------------------------------------------------------------------------------


@bp.route("/activate/<token>", methods=["GET", "POST"])
@limiter.limit(ACTIVATE_LIMIT, methods=["POST"])
def activate(token: str):
    user = service.activation_user(token)
    if user is None:
        refuse(410, LINK_GONE)
    form = ActivateForm()
    if form.validate_on_submit():
        try:
            user = service.activate_account(token, form.password.data)
        except AccountError as error:
            form.password.errors.append(str(error))
        else:
            start_session(user)
            db.session.commit()
            flash("Your password is set and you are logged in.", "success")
            if user.is_staff or not is_enabled("portal"):
                return redirect(url_for("home.index"))
            return redirect(url_for("portal.choose"))
    return render_template("people/activate.html", form=form, user=user), form_status(form)


@bp.after_request
def no_referrer_on_token_pages(response):
    if request.endpoint == "people.activate":
        response.headers["Referrer-Policy"] = "no-referrer"
    return response


# ---------------------------------------------------------------------------------------------
# Staff (owner and admin)
# ---------------------------------------------------------------------------------------------


def _staff_or_404(user_id: int):
    member = service.staff_member(user_id)
    if member is None:
        abort(404)
    return member


@bp.get("/staff")
@staff_required(*STAFF_ROLES_ONLY)
def staff():
    return render_template("people/staff_list.html", members=service.list_staff())


@bp.route("/staff/invite", methods=["GET", "POST"])
@staff_required(*STAFF_ROLES_ONLY)
def invite_staff():
    form = InviteStaffForm()
    form.role.choices = role_choices(service.roles_for(current_user))
    error = None
    if form.validate_on_submit():
        try:
            member = service.invite_staff(current_user, form.email.data, form.name.data, form.role.data)
        except AccountError as exc:
            db.session.rollback()
            error = str(exc)
        else:
            db.session.commit()
            flash(f"Invitation sent to {member.email}.", "success")
            return redirect(url_for("people.staff"))
    status = 400 if (form.errors or error) else 200
    return render_template("people/staff_invite.html", form=form, error=error), status


def _render_member(member, error: str | None = None, status: int = 200):
    form = RoleForm(role=member.role)
    roles = service.roles_for(current_user)
    form.role.choices = role_choices(roles if member.role in roles else (member.role, *roles))
    return (
        render_template(
            "people/staff_member.html",
            member=member,
            role_form=form,
            action_form=ActionForm(),
            may_change=current_user.role == "owner" or member.role != "owner",
            error=error,
        ),
        status,
    )


@bp.get("/staff/<int:user_id>")
@staff_required(*STAFF_ROLES_ONLY)
def staff_member(user_id: int):
    return _render_member(_staff_or_404(user_id))


def _staff_action(user_id: int, change, done: str, form=None):
    member = _staff_or_404(user_id)
    form = form or ActionForm()
    if not form.validate_on_submit():
        return _render_member(member, "That form was incomplete. Please try again.", 400)
    try:
        change(member)
    except PermissionError:
        abort(403)
    except AccountError as error:
        db.session.rollback()
        return _render_member(_staff_or_404(user_id), str(error), 400)
    db.session.commit()
    flash(done.format(name=member.name), "success")
    if current_user.role not in STAFF_ROLES_ONLY:  # they just stepped down themselves
        return redirect(url_for("home.index"))
    return redirect(url_for("people.staff_member", user_id=user_id))


@bp.post("/staff/<int:user_id>/role")
@staff_required(*STAFF_ROLES_ONLY)
def change_role(user_id: int):
    form = RoleForm()
    return _staff_action(
        user_id,
        lambda member: service.change_role(current_user, member, form.role.data),
        "{name}'s role was changed.",
        form,
    )


@bp.post("/staff/<int:user_id>/deactivate")
@staff_required(*STAFF_ROLES_ONLY)
def deactivate_staff(user_id: int):
    return _staff_action(
        user_id,
        lambda member: service.deactivate_staff(current_user, member),
        "{name} is deactivated and logged out everywhere.",
    )


@bp.post("/staff/<int:user_id>/reactivate")
@staff_required(*STAFF_ROLES_ONLY)
def reactivate_staff(user_id: int):
    return _staff_action(
        user_id, lambda member: service.reactivate_staff(current_user, member), "{name} is active again."
    )


@bp.post("/staff/<int:user_id>/resend")
@staff_required(*STAFF_ROLES_ONLY)
def resend_staff_invite(user_id: int):
    return _staff_action(
        user_id,
        lambda member: service.resend_staff_invite(current_user, member),
        "A new invitation was sent to {name}.",
    )


# ---------------------------------------------------------------------------------------------
# Clients (all staff; clinicians and interns only their assigned clients)
# ---------------------------------------------------------------------------------------------


def _client_or_404(client_id: int):
    client = service.client_for_staff(current_user, client_id)
    if client is None:
        abort(404)  # another practice's id, or a client this person may not see: the same answer
    return client


@bp.get("/clients")
@staff_required()
def clients():
    status = request.args.get("status", "active")
    if status not in ("active", "archived"):
        status = "active"
    query = request.args.get("q", "").strip()[:200]
    found = service.search_clients(current_user, query, status)
    return render_template(
        "people/clients.html", clients=found, query=query, status=status, limit=service.LIST_LIMIT
    )


def _render_client_form(form, client=None, status: int | None = None):
    return (
        render_template(
            "people/client_form.html",
            form=form,
            client=client,
            sections=service.asked_sections(practice_settings()),
            time_zones=service.time_zone_names(),
        ),
        status or form_status(form),
    )


@bp.route("/clients/new", methods=["GET", "POST"])
@staff_required()
def new_client():
    form = client_form(practice_settings())
    if form.validate_on_submit():
        try:
            client = service.add_client(current_user, form.asked_data())
        except AccountError as error:
            form.first_name.errors.append(str(error))
        else:
            db.session.commit()
            flash(f"{client.display_name} was added.", "success")
            return redirect(url_for("people.client", client_id=client.id))
    return _render_client_form(form)


@bp.route("/clients/<int:client_id>/edit", methods=["GET", "POST"])
@staff_required()
def edit_client(client_id: int):
    client = _client_or_404(client_id)
    form = client_form(practice_settings(), obj=client)
    if form.validate_on_submit():
        try:
            service.update_client(current_user, client, form.asked_data())
        except AccountError as error:
            db.session.rollback()
            client = _client_or_404(client_id)
            form.first_name.errors.append(str(error))
        else:
            db.session.commit()
            flash("The record was saved.", "success")
            return redirect(url_for("people.client", client_id=client_id))
    return _render_client_form(form, client)


def _render_client(client, error: str | None = None, status: int = 200, assign_form=None):
    assignable = service.assignable_staff(client)
    assign_form = assign_form or AssignForm()
    assign_form.user_id.choices = choices(
        (u.id, f"{u.name} ({service.ROLE_LABELS[u.role]})") for u in assignable
    )
    guardians_on = is_enabled("guardian_access")
    grants = service.grants_for_client(client)
    return (
        render_template(
            "people/client_detail.html",
            client=client,
            error=error,
            may_assign=current_user.role in service.MAY_ASSIGN,
            may_archive=current_user.role in service.MAY_ARCHIVE,
            may_grant=current_user.role in service.MAY_GRANT_ACCESS,
            may_mark_test=current_user.role in service.MAY_MARK_TEST,
            assign_form=assign_form,
            assignable=assignable,
            action_form=ActionForm(),
            test_form=TestClientForm(),
            portal_on=is_enabled("portal"),
            guardians_on=guardians_on,
            minor=service.is_minor(client),
            self_grants=[g for g in grants if g.relationship_kind == "self"],
            own_login=service.own_login_state(client, grants),
            guardian_grants=[g for g in grants if g.relationship_kind == "guardian"] if guardians_on else [],
            access_state=service.access_state,
            guardian_allows=service.guardian_allows,
            age=service.age_on(client.date_of_birth, service.practice_today()),
            minor_message_labels=MINOR_MESSAGE_LABELS,
            settings=practice_settings(),
        ),
        status,
    )


@bp.get("/clients/<int:client_id>")
@staff_required()
def client(client_id: int):
    client = _client_or_404(client_id)
    service.record_viewed(current_user, client)
    db.session.commit()
    return _render_client(client)


def _client_action(client_id: int, change, done: str, form=None):
    """Run `change(client)` for a POST from the client's page: 404, 403, 400 with the message, or done."""
    client = _client_or_404(client_id)
    form = form or ActionForm()
    if not form.validate_on_submit():
        return _render_client(client, "That form was incomplete. Please try again.", 400)
    try:
        message = change(client)
    except PermissionError:
        abort(403)
    except AccountError as error:
        db.session.rollback()
        return _render_client(_client_or_404(client_id), str(error), 400)
    db.session.commit()
    flash(message or done, "success")
    return redirect(url_for("people.client", client_id=client_id))


@bp.post("/clients/<int:client_id>/archive")
@staff_required()
def archive_client(client_id: int):
    return _client_action(
        client_id, lambda c: service.set_archived(current_user, c, True), "The record is archived."
    )


@bp.post("/clients/<int:client_id>/unarchive")
@staff_required()
def unarchive_client(client_id: int):
    return _client_action(
        client_id, lambda c: service.set_archived(current_user, c, False), "The record is active again."
    )


@bp.post("/clients/<int:client_id>/test-client")
@staff_required()
def mark_test_client(client_id: int):
    form = TestClientForm()
    return _client_action(
        client_id,
        lambda c: service.set_test_client(current_user, c, form.is_test.data == "1"),
        "Saved: test client setting.",
        form,
    )


@bp.post("/clients/<int:client_id>/clinicians")
@staff_required()
def assign_clinician(client_id: int):
    form = AssignForm()
    return _client_action(
        client_id,
        lambda c: f"{service.assign(current_user, c, form.user_id.data).name} is assigned.",
        "",
        form,
    )


@bp.post("/clients/<int:client_id>/clinicians/<int:user_id>/remove")
@staff_required()
def unassign_clinician(client_id: int, user_id: int):
    def change(client):
        service.unassign(current_user, client, user_id)

    return _client_action(client_id, change, "The assignment was removed.")


# ---------------------------------------------------------------------------------------------
# Portal access: the client's own login, guardians of minors
# ---------------------------------------------------------------------------------------------


@bp.post("/clients/<int:client_id>/portal/invite")
@staff_required()
@feature_required("portal")
def invite_client(client_id: int):
    return _client_action(
        client_id,
        lambda c: f"Portal invitation sent to {service.invite_client(current_user, c).email}.",
        "",
    )


@bp.post("/clients/<int:client_id>/portal/<int:access_id>/revoke")
@staff_required()
def revoke_portal_access(client_id: int, access_id: int):
    client = _client_or_404(client_id)
    access = service.access_for_client(client, access_id, "self")
    if access is None:
        abort(404)
    return _client_action(client_id, lambda c: service.revoke(current_user, access), "Portal access revoked.")


def _minor_context(client):
    return {"client": client, "minor": service.is_minor(client), "settings": practice_settings()}


@bp.route("/clients/<int:client_id>/guardians/new", methods=["GET", "POST"])
@staff_required()
@feature_required("guardian_access")
def add_guardian(client_id: int):
    client = _client_or_404(client_id)
    if current_user.role not in service.MAY_GRANT_ACCESS:
        abort(403)
    form = GuardianForm()
    error = None
    if form.validate_on_submit():
        try:
            service.add_guardian(current_user, client, form.name.data, form.email.data, form.permissions())
        except AccountError as exc:
            db.session.rollback()
            client = _client_or_404(client_id)
            error = str(exc)
        else:
            db.session.commit()
            flash(
                f"{form.name.data} can now act for {client.display_name}. An email is on its way.", "success"
            )
            return redirect(url_for("people.client", client_id=client_id))
    status = 400 if (form.errors or error) else 200
    return render_template(
        "people/guardian_form.html", form=form, error=error, **_minor_context(client)
    ), status


@bp.route("/clients/<int:client_id>/guardians/<int:access_id>", methods=["GET", "POST"])
@staff_required()
@feature_required("guardian_access")
def edit_guardian(client_id: int, access_id: int):
    client = _client_or_404(client_id)
    access = service.access_for_client(client, access_id, "guardian")
    if access is None:
        abort(404)
    if current_user.role not in service.MAY_GRANT_ACCESS:
        abort(403)
    form = GuardianPermissionsForm(obj=access)
    if form.validate_on_submit():
        try:
            service.update_guardian(current_user, access, form.permissions())
        except AccountError as exc:
            form.minor_messages.errors.append(str(exc))
        else:
            db.session.commit()
            flash(f"{access.user.name}'s permissions were saved.", "success")
            return redirect(url_for("people.client", client_id=client_id))
    return (
        render_template(
            "people/guardian_form.html", form=form, access=access, error=None, **_minor_context(client)
        ),
        form_status(form),
    )


@bp.post("/clients/<int:client_id>/guardians/<int:access_id>/revoke")
@staff_required()
@feature_required("guardian_access")
def revoke_guardian(client_id: int, access_id: int):
    client = _client_or_404(client_id)
    access = service.access_for_client(client, access_id, "guardian")
    if access is None:
        abort(404)
    return _client_action(
        client_id, lambda c: service.revoke(current_user, access), "Guardian access revoked."
    )
