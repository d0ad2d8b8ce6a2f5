"""Views of profile links: the `/l/<token>` confirmation and exchange, "email me a new link", the staff
panel's send/revoke actions, and the step-up page (`/verify`) of a profile-link session.

Token pages never leak the token: they send `Referrer-Policy: no-referrer`, and the POST that uses a
link redirects to the portal, so the token leaves the address bar.
"""


from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_login import current_user

from app.errors import refuse
from app.extensions import limiter
from app.web import form_status, safe_next, staff_required
from blueprints.audit.service import record
from blueprints.people.operations.access import client_for_staff
from blueprints.portal.viewer import current_viewer, mark_stepped_up, start_profile_link_session
from blueprints.profile_links import bp, service
from blueprints.profile_links.forms import (
    ContinueForm,
    NewLinkForm,
    SendCodeForm,
    StaffLinkForm,
    StepUpCodeForm,
    StepUpPasswordForm,
)
from tenants.context import bound_practice
from tenants.database import db
from tenants.features import feature_required, is_enabled, practice_zone

# Every unusable token (expired, revoked, used, malformed, another practice's) gets this one answer.
UNAVAILABLE_STATUS = 404
NEW_LINK_LIMIT = "5 per hour"
SEND_CODE_LIMIT = "3 per 10 minutes;10 per day"
VERIFY_LIMIT = "10 per minute;30 per hour"
TOKEN_ENDPOINTS = ("profile_links.open_link", "profile_links.use_link", "profile_links.new_link")


def _unavailable(form: NewLinkForm | None = None):
    form = form or NewLinkForm(formdata=None)
    return render_template("profile_links/unavailable.html", form=form), UNAVAILABLE_STATUS


@bp.get("/l/<token>")
@feature_required("profile_links")
def open_link(token: str):
    """The confirmation page. It consumes nothing: mail scanners open links."""
    if service.find_live_link(token) is None:
        return _unavailable()
    return render_template("profile_links/confirm.html", form=ContinueForm())


@bp.post("/l/<token>")
@feature_required("profile_links")
def use_link(token: str):
    if not ContinueForm().validate_on_submit():
        abort(400)
    link = service.consume_link(token)
    if link is None:
        return _unavailable()
    client = link.client
    start_profile_link_session(client)
    # Which link opened this session, so that a revocation can be checked against it.
    session["profile_link"] = {**session["profile_link"], "link_id": link.id}
    record(
        "opened a profile link",
        actor_kind="profile_link",
        actor_name=client.display_name,
        client_id=client.id,
    )
    db.session.commit()
    return redirect(url_for("scheduling.portal_appointments"))


@bp.route("/l/new-link", methods=["GET", "POST"])
@feature_required("profile_links")
@limiter.limit(NEW_LINK_LIMIT, methods=["POST"])
def new_link():
    """ "Email me a new link": the same answer whether or not the address is on file."""
    form = NewLinkForm()
    if form.validate_on_submit():
        service.request_new_link(form.email.data)
        db.session.commit()
        return render_template("profile_links/new_link_sent.html")
    return render_template("profile_links/unavailable.html", form=form, asking=True), form_status(form)


@bp.after_request
def no_referrer_on_token_pages(response):
    if request.endpoint in TOKEN_ENDPOINTS:
        response.headers["Referrer-Policy"] = "no-referrer"
    return response


# ---------------------------------------------------------------------------------------------
# Staff: the client record's panel
# ---------------------------------------------------------------------------------------------


def _staff_client(client_id: int):
    client = client_for_staff(current_user, client_id)
    if client is None:
        abort(404)
    if not StaffLinkForm().validate_on_submit():
        abort(400)
    return client


def _staff_actor() -> dict:
    return {"actor_kind": "staff", "actor_user_id": current_user.id, "actor_name": current_user.name}


def _back_to(client) -> str:
    return f"/clients/{client.id}"


@bp.post("/clients/<int:client_id>/profile-links")
@feature_required("profile_links")
@staff_required()
def send(client_id: int):
    client = _staff_client(client_id)
    try:
        service.send_link(client, current_user)
    except ValueError as error:
        refuse(400, str(error))
    record("sent a profile link", client_id=client.id, **_staff_actor())
    db.session.commit()
    flash(f"A profile link was emailed to {client.email}.", "success")
    return redirect(_back_to(client))


@bp.post("/clients/<int:client_id>/profile-links/<int:link_id>/revoke")
@feature_required("profile_links")
@staff_required()
def revoke(client_id: int, link_id: int):
    client = _staff_client(client_id)
    if not service.revoke_link(client.id, link_id):
        abort(404)
    record("revoked profile links", client_id=client.id, detail="one link", **_staff_actor())
    db.session.commit()
    flash("The profile link was revoked.", "success")
    return redirect(_back_to(client))


@bp.post("/clients/<int:client_id>/profile-links/revoke-all")
@feature_required("profile_links")
@staff_required()
def revoke_all(client_id: int):
    client = _staff_client(client_id)
    count = service.revoke_all(client.id)
    record("revoked profile links", client_id=client.id, detail=f"all links ({count})", **_staff_actor())
    db.session.commit()
    flash(f"All profile links of {client.display_name} were revoked.", "success")
    return redirect(_back_to(client))


def profile_links_panel(client) -> dict | None:
    """What `_client_panel.html` shows on a client record, or None when it shows nothing."""
    if bound_practice() is None or not current_user.is_authenticated or not current_user.is_staff:
        return None
    if not is_enabled("profile_links") or client_for_staff(current_user, client.id) is None:
        return None
    return {
        "links": service.live_links(client.id),
        "zone": practice_zone(),
        "can_send": client.status == "active" and service.can_email_code(client),
    }


@bp.app_context_processor
def panel_helpers():
    return {"profile_links_panel": profile_links_panel}


# ---------------------------------------------------------------------------------------------
# Step-up of a profile-link session
# ---------------------------------------------------------------------------------------------


def _step_up_viewer(next_url: str):
    """The profile-link viewer who still has to step up, or a redirect for everyone else."""
    viewer = current_viewer()
    if viewer is None:
        return None, redirect(url_for("auth.login", next=next_url))
    if viewer.kind != "profile_link" or viewer.stepped_up:
        return None, redirect(next_url)
    return viewer, None


def _mask(email: str) -> str:
    name, _, domain = (email or "").strip().partition("@")
    return f"{name[:1]}***@{domain}" if domain else "the address on file"


def _step_up_page(viewer, next_url, password_form=None, code_form=None, status=200):
    client = viewer.client
    return render_template(
        "profile_links/step_up.html",
        viewer=viewer,
        next_url=next_url,
        password_form=(password_form or StepUpPasswordForm(formdata=None, next=next_url))
        if service.can_use_password(client)
        else None,
        code_form=(code_form or StepUpCodeForm(formdata=None, next=next_url))
        if service.can_email_code(client)
        else None,
        send_form=SendCodeForm(formdata=None, next=next_url),
        masked_email=_mask(client.email),
    ), status


@bp.route("/verify", methods=["GET", "POST"])
@feature_required("profile_links")
@limiter.limit(VERIFY_LIMIT, methods=["POST"])
def step_up():
    next_url = safe_next(request.values.get("next"), fallback=url_for("portal.home"))
    viewer, elsewhere = _step_up_viewer(next_url)
    if elsewhere is not None:
        return elsewhere
    if request.method == "GET":
        return _step_up_page(viewer, next_url)
    client = viewer.client
    method = request.form.get("method")
    if method == "password" and service.can_use_password(client):
        form = StepUpPasswordForm()
        if form.validate_on_submit():
            if service.check_password(client, form.password.data):
                return _stepped_up(viewer, "password", next_url)
            form.password.errors.append("That password is not right.")
            _step_up_failed(viewer, "password")
        return _step_up_page(viewer, next_url, password_form=form, status=400)
    if method == "code" and service.can_email_code(client):
        form = StepUpCodeForm()
        if form.validate_on_submit():
            result = service.check_code(client, form.code.data)
            if result.ok:
                return _stepped_up(viewer, "emailed code", next_url)
            form.code.errors.append(result.message)
            _step_up_failed(viewer, "emailed code")  # commits: the wrong try counts
        return _step_up_page(viewer, next_url, code_form=form, status=400)
    abort(400)


@bp.post("/verify/send-code")
@feature_required("profile_links")
@limiter.limit(SEND_CODE_LIMIT)
def send_code():
    next_url = safe_next(request.form.get("next"), fallback=url_for("portal.home"))
    viewer, elsewhere = _step_up_viewer(next_url)
    if elsewhere is not None:
        return elsewhere
    if not SendCodeForm().validate_on_submit():
        abort(400)
    try:
        service.send_code(viewer.client)
    except service.StepUpError as error:
        flash(str(error), "danger")
        return _step_up_page(viewer, next_url, status=400)
    record("sent a step-up code", client_id=viewer.client.id, **viewer.audit_actor)
    db.session.commit()
    flash(
        f"We emailed a six-digit code to {_mask(viewer.client.email)}. "
        f"It works for {service.CODE_MINUTES} minutes.",
        "info",
    )
    return redirect(url_for("profile_links.step_up", next=next_url))


def _stepped_up(viewer, method: str, next_url: str):
    mark_stepped_up()
    record("stepped up", client_id=viewer.client.id, detail=method, **viewer.audit_actor)
    db.session.commit()
    return redirect(next_url)


def _step_up_failed(viewer, method: str) -> None:
    record("failed to step up", client_id=viewer.client.id, detail=method, **viewer.audit_actor)
    db.session.commit()
