"""Views of staff single sign-on: the owner's settings page, the start of a sign-in (to the
provider) and its callback (back from it), and the login page's "Sign in with …" option."""

from __future__ import annotations

from functools import partial

from flask import redirect, render_template, request, session, url_for
from flask_login import current_user

from app.errors import render_error
from app.extensions import limiter
from app.roles import OWNER_ONLY
from app.web import carry_out, form_status, safe_next, staff_required
from blueprints.sso import bp, service
from blueprints.sso.forms import ProviderForm, RemoveProviderForm
from tenants.addresses import practice_url
from tenants.context import bound_practice, current_practice

FLOW_KEY = "sso_flow"
CALLBACK_LIMIT = "10 per minute;50 per hour"


def _redirect_uri() -> str:
    # Built from the stored address, never from the Host header: it is what the owner registered.
    return practice_url(current_practice().slug, url_for("sso.callback"))


@bp.app_context_processor
def login_option():
    """`sso_login()` in templates: the practice's provider button on the login page, or None."""

    def sso_login() -> dict | None:
        if bound_practice() is None:
            return None
        provider = service.configured_provider()
        if provider is None:
            return None
        return {
            "name": provider.display_name,
            "url": url_for("sso.start", next=request.args.get("next") or None),
            "required": provider.required_for_staff,
        }

    return {"sso_login": sso_login}


# --- The owner's settings ---------------------------------------------------------------------------


def _settings_page(form: ProviderForm):
    provider = service.configured_provider()
    return render_template(
        "sso/settings.html",
        form=form,
        provider=provider,
        redirect_uri=_redirect_uri(),
        linked=service.linked_staff_count(),
        owner_linked=service.linked_identity(current_user) is not None,
        remove_form=RemoveProviderForm(),
    )


@bp.route("/settings/sign-in", methods=["GET", "POST"])
@staff_required(*OWNER_ONLY)
def settings():
    provider = service.configured_provider()
    stored = None
    if provider is not None:
        stored = {
            "display_name": provider.display_name,
            "issuer": provider.issuer,
            "client_id": provider.client_id,
            "required_for_staff": provider.required_for_staff,
        }
    form = ProviderForm(data=stored)
    if form.validate_on_submit():
        return carry_out(
            partial(service.save_provider, form.values(), current_user),
            success="Sign-in settings saved.",
            then=url_for("sso.settings"),
            form=form,
            invalid=lambda: _settings_page(form),
        )
    return _settings_page(form), form_status(form)


@bp.post("/settings/sign-in/remove")
@staff_required(*OWNER_ONLY)
def remove():
    if not RemoveProviderForm().validate_on_submit():
        return render_error(400, "This form has expired. Please reload the page and try again.")
    return carry_out(
        partial(service.remove_provider, current_user),
        success="Single sign-on is off: staff log in with their passwords.",
        then=url_for("sso.settings"),
        back=url_for("sso.settings"),
    )


# --- Signing in -------------------------------------------------------------------------------------


@bp.get("/login/oidc")
def start():
    provider = service.configured_provider()
    if provider is None:
        return render_error(404)
    flow, url = service.start_sign_in(provider, _redirect_uri(), safe_next(request.args.get("next"), ""))
    session[FLOW_KEY] = flow
    return redirect(url)


def _signed_in(flow: object):
    return service.finish_sign_in(flow, request.args, _redirect_uri())


def _answer(flow: object, outcome):
    if isinstance(outcome, service.SignInRefused):
        return render_error(outcome.status, outcome.message, back=url_for("auth.login"))
    next_path = flow.get("next") if isinstance(flow, dict) else None
    return redirect(safe_next(next_path, fallback=url_for("home.index")))


@bp.get("/login/oidc/callback")
@limiter.limit(CALLBACK_LIMIT)
def callback():
    flow = session.pop(FLOW_KEY, None)  # one use, whatever the outcome
    # A refusal is an outcome too: its "login failed" line is committed like a sign-in.
    return carry_out(partial(_signed_in, flow), then=partial(_answer, flow))
