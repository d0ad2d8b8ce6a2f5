"""Views of practice settings (owner and admin) and of "Preview as client" (owner, admin, scheduler)."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.nav import register_nav
from app.web import attach_problems, carry_out, form_status, staff_required
from blueprints.portal.viewer import end_preview as leave_preview
from blueprints.settings import bp, service
from blueprints.settings.forms import CreateTestClientForm, PreviewForm, SettingsForm
from tenants.addresses import practice_host
from tenants.context import current_practice
from tenants.features import is_enabled, practice_settings
from tenants.registry import get_practice


def _staff_in(roles):
    def visible() -> bool:
        return current_user.is_authenticated and current_user.is_staff and current_user.role in roles

    return visible


register_nav("staff", "Settings", "settings.edit", _staff_in(service.SETTINGS_ROLES), order=80)
register_nav("staff", "Preview as client", "settings.preview", _staff_in(service.PREVIEW_ROLES), order=85)


def _practice_name() -> str:
    # The registry's current name (the request's bound record may predate a rename in this request).
    practice = current_practice()
    stored = get_practice(practice.id)
    return stored.name if stored is not None else practice.name


@bp.route("/settings", methods=["GET", "POST"])
@staff_required(*service.SETTINGS_ROLES)
def edit():
    settings = practice_settings()
    practice_name = _practice_name()
    form = SettingsForm(data=service.current_values(settings, practice_name))

    def page():
        return render_template(
            "settings/settings.html",
            form=form,
            address=practice_host(current_practice().slug),
            time_zones=service.time_zones(),
            may_set_mfa_rule=current_user.role in service.MFA_RULE_ROLES,
        ), form_status(form)

    if request.method != "POST":
        return page()
    if form.validate_on_submit():
        practice_id, values = current_practice().id, form.values()
        return carry_out(
            lambda: service.apply_settings(settings, practice_id, practice_name, current_user, values),
            then=_saved,
            form=form,
            invalid=page,
        )
    # Show the rules' problems too, beside the fields the form itself found nothing wrong with.
    problems = service.settings_problems(form.values())
    attach_problems(form, {field: message for field, message in problems.items() if not form[field].errors})
    return page()


def _saved(changed: list[str]):
    flash("Settings saved." if changed else "Nothing was changed.", "success")
    return redirect(url_for("settings.edit"))


def _preview_page(form: PreviewForm, clients):
    return render_template(
        "settings/preview.html",
        form=form,
        create_form=CreateTestClientForm(),
        clients=clients,
        portal_on=is_enabled("portal"),
    ), form_status(form)


def _preview_form(clients) -> PreviewForm:
    form = PreviewForm()
    form.client_id.choices = [(client.id, client.display_name) for client in clients]
    return form


@bp.get("/settings/preview")
@staff_required(*service.PREVIEW_ROLES)
def preview():
    clients = service.list_test_clients()
    return _preview_page(_preview_form(clients), clients)


@bp.post("/settings/preview")
@staff_required(*service.PREVIEW_ROLES)
def start_preview():
    clients = service.list_test_clients()
    form = _preview_form(clients)
    if not form.validate_on_submit():
        return _preview_page(form, clients)
    return carry_out(
        lambda: service.start_preview(current_user, form.client_id.data), then=url_for("portal.home")
    )


@bp.post("/settings/preview/test-client")
@staff_required(*service.PREVIEW_ROLES)
def create_test_client():
    if not CreateTestClientForm().validate_on_submit():
        abort(400)
    return carry_out(lambda: service.ensure_test_client(current_user), then=_test_client_ready)


def _test_client_ready(client):
    flash(f"The test client {client.display_name} is ready.", "success")
    return redirect(url_for("settings.preview"))


@bp.get("/settings/preview/end")
@staff_required()
def end_preview():
    leave_preview()
    if current_user.role in service.SETTINGS_ROLES:
        return redirect(url_for("settings.edit"))
    if current_user.role in service.PREVIEW_ROLES:
        return redirect(url_for("settings.preview"))
    return redirect(url_for("home.index"))
