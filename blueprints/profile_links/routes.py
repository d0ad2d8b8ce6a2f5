"""Views of profile links: the `/l/<token>` confirmation and exchange, "email me a new link", the staff
panel's send/revoke actions, and the step-up page (`/verify`) of a profile-link session.

Token pages never leak the token: they send `Referrer-Policy: no-referrer`, and the POST that uses a
link redirects to the portal, so the token leaves the address bar. `/l/<token>` (GET and POST
together) is throttled per address and practice (`app.web.token_page_limit`).
"""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.extensions import limiter
from app.web import carry_out, form_status, safe_next, staff_required, token_page_limit
from blueprints.people.operations.access import client_for_staff
from blueprints.portal.viewer import current_viewer
from blueprints.profile_links import bp, service, sessions, step_up
from blueprints.profile_links.forms import (
    ContinueForm,
    NewLinkForm,
    SendCodeForm,
    StaffLinkForm,
    StepUpCodeForm,
    StepUpPasswordForm,
)
from tenants.context import bound_practice
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
@token_page_limit("profile-link")
def open_link(token: str):
    """The confirmation page. It consumes nothing: mail scanners open links."""
    if service.find_live_link(token) is None:
        return _unavailable()
    return render_template("profile_links/confirm.html", form=ContinueForm())


@bp.post("/l/<token>")
@feature_required("profile_links")
@token_page_limit("profile-link")
def use_link(token: str):
    if not ContinueForm().validate_on_submit():
        abort(400)
    return carry_out(
        lambda: sessions.open_link(token),
        then=lambda link: redirect(url_for("scheduling.portal_appointments")) if link else _unavailable(),
    )


@bp.route("/l/new-link", methods=["GET", "POST"])
@feature_required("profile_links")
@limiter.limit(NEW_LINK_LIMIT, methods=["POST"])
def new_link():
    """ "Email me a new link": the same answer whether or not the address is on file."""
    form = NewLinkForm()
    if form.validate_on_submit():
        return carry_out(
            lambda: service.request_new_link(form.email.data),
            then=lambda _: render_template("profile_links/new_link_sent.html"),
        )
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


def _back_to(client) -> str:
    return f"/clients/{client.id}"


@bp.post("/clients/<int:client_id>/profile-links")
@feature_required("profile_links")
@staff_required()
def send(client_id: int):
    client = _staff_client(client_id)
    return carry_out(
        lambda: service.send_link(current_user, client),
        success=f"A profile link was emailed to {client.email}.",
        then=_back_to(client),
        back=_back_to(client),
    )


@bp.post("/clients/<int:client_id>/profile-links/<int:link_id>/revoke")
@feature_required("profile_links")
@staff_required()
def revoke(client_id: int, link_id: int):
    client = _staff_client(client_id)
    return carry_out(
        lambda: service.revoke_link(current_user, client, link_id),
        success="The profile link was revoked.",
        then=_back_to(client),
        back=_back_to(client),
    )


@bp.post("/clients/<int:client_id>/profile-links/revoke-all")
@feature_required("profile_links")
@staff_required()
def revoke_all(client_id: int):
    client = _staff_client(client_id)
    return carry_out(
        lambda: service.revoke_all(current_user, client),
        success=f"All profile links of {client.display_name} were revoked.",
        then=_back_to(client),
    )


def profile_links_panel(client) -> dict | None:
    """What `_client_panel.html` shows on a client record, or None when it shows nothing."""
    if bound_practice() is None or not current_user.is_authenticated or not current_user.is_staff:
        return None
    if not is_enabled("profile_links") or client_for_staff(current_user, client.id) is None:
        return None
    return {
        "links": service.live_links(client.id),
        "zone": practice_zone(),
        "can_send": client.status == "active" and step_up.can_email_code(client),
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
    if not viewer.needs_step_up:
        return None, redirect(next_url)
    return viewer, None


def _mask(email: str) -> str:
    name, _, domain = (email or "").strip().partition("@")
    return f"{name[:1]}***@{domain}" if domain else "the address on file"


def _step_up_page(viewer, next_url, password_form=None, code_form=None, send_form=None, status=200):
    return render_template(
        "profile_links/step_up.html",
        viewer=viewer,
        next_url=next_url,
        password_form=(password_form or StepUpPasswordForm(formdata=None, next=next_url))
        if step_up.can_use_password(viewer)
        else None,
        code_form=(code_form or StepUpCodeForm(formdata=None, next=next_url))
        if step_up.viewer_can_email_code(viewer)
        else None,
        send_form=send_form or SendCodeForm(formdata=None, next=next_url),
        masked_email=_mask(step_up.code_address(viewer)),
    ), status


@bp.route("/verify", methods=["GET", "POST"], endpoint="step_up")
@feature_required("profile_links")
@limiter.limit(VERIFY_LIMIT, methods=["POST"])
def verify():
    next_url = safe_next(request.values.get("next"), fallback=url_for("portal.home"))
    viewer, elsewhere = _step_up_viewer(next_url)
    if elsewhere is not None:
        return elsewhere
    if request.method == "GET":
        return _step_up_page(viewer, next_url)
    method = request.form.get("method")
    if method == "password" and step_up.can_use_password(viewer):
        form = StepUpPasswordForm()

        def after_password(ok: bool):
            if ok:
                return redirect(next_url)
            form.password.errors.append("That password is not right.")
            return _step_up_page(viewer, next_url, password_form=form, status=400)

        if form.validate_on_submit():
            return carry_out(lambda: step_up.with_password(viewer, form.password.data), then=after_password)
        return _step_up_page(viewer, next_url, password_form=form, status=400)
    if method == "code" and step_up.viewer_can_email_code(viewer):
        form = StepUpCodeForm()

        def after_code(result: step_up.CodeCheck):
            if result.ok:
                return redirect(next_url)
            form.code.errors.append(result.message)
            return _step_up_page(viewer, next_url, code_form=form, status=400)

        if form.validate_on_submit():
            return carry_out(lambda: step_up.with_code(viewer, form.code.data), then=after_code)
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
    form = SendCodeForm()
    if not form.validate_on_submit():
        abort(400)

    def sent(_):
        flash(
            f"We emailed a six-digit code to {_mask(step_up.code_address(viewer))}. "
            f"It works for {step_up.CODE_MINUTES} minutes.",
            "info",
        )
        return redirect(url_for("profile_links.step_up", next=next_url))

    return carry_out(
        lambda: step_up.send_code(viewer),
        then=sent,
        form=form,
        invalid=lambda: _step_up_page(viewer, next_url, send_form=form, status=400),
    )
