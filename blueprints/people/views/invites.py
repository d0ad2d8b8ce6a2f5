"""Views of invitations: the activation page (staff, clients, guardians, minors), inviting staff
and re-sending their invite, and inviting a client to the portal."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for
from flask_login import current_user

from app.errors import refuse
from app.extensions import limiter
from app.roles import MANAGES_PRACTICE
from app.web import carry_out_form, form_status, staff_required, token_page_limit
from blueprints.auth.sessions import start_session
from blueprints.people import bp
from blueprints.people.forms import ActivateForm, InviteStaffForm, role_choices
from blueprints.people.operations import invites as operations
from blueprints.people.operations.staff import roles_for
from blueprints.people.views import done, refusal_text
from blueprints.people.views.clients import client_action
from blueprints.people.views.staff import staff_action
from tenants.features import feature_required, is_enabled

ACTIVATE_LIMIT = "10 per minute;50 per hour"
LINK_GONE = "This activation link has expired or was already used. Please ask the practice for a new one."


@bp.route("/activate/<token>", methods=["GET", "POST"])
@token_page_limit("activate")
@limiter.limit(ACTIVATE_LIMIT, methods=["POST"])
def activate(token: str):
    user = operations.activation_user(token)
    if user is None:
        refuse(410, LINK_GONE)
    form = ActivateForm()

    def page():
        return render_template("people/activate.html", form=form, user=user), form_status(form)

    def activate_and_log_in():
        activated = operations.activate_account(token, form.password.data)
        start_session(activated)
        return activated

    return carry_out_form(
        form,
        activate_and_log_in,
        page=page,
        success="Your password is set and you are logged in.",
        then=lambda activated: redirect(_home_of(activated)),
    )


def _home_of(user) -> str:
    if user.is_staff or not is_enabled("portal"):
        return url_for("home.index")
    return url_for("portal.choose")


@bp.after_request
def no_referrer_on_token_pages(response):
    if request.endpoint == "people.activate":
        response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.route("/staff/invite", methods=["GET", "POST"])
@staff_required(*MANAGES_PRACTICE)
def invite_staff():
    form = InviteStaffForm()
    form.role.choices = role_choices(roles_for(current_user))

    def page():
        return render_template("people/staff_invite.html", form=form, error=refusal_text(form)), form_status(
            form
        )

    return carry_out_form(
        form,
        lambda: operations.invite_staff(current_user, form.email.data, form.name.data, form.role.data),
        page=page,
        then=lambda member: done(f"Invitation sent to {member.email}.", url_for("people.staff")),
    )


@bp.post("/staff/<int:user_id>/resend")
@staff_required(*MANAGES_PRACTICE)
def resend_staff_invite(user_id: int):
    return staff_action(
        user_id,
        lambda member: operations.resend_staff_invite(current_user, member),
        "A new invitation was sent to {name}.",
    )


@bp.post("/clients/<int:client_id>/portal/invite")
@staff_required()
@feature_required("portal")
def invite_client(client_id: int):
    return client_action(
        client_id,
        lambda c: f"Portal invitation sent to {operations.invite_client(current_user, c).email}.",
        "",
    )
