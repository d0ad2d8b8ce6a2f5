"""Views of the practice's look (owner and admin): upload or remove the logo, preview and choose the
accent colour. Previews are server-rendered images, so the page needs no JavaScript."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.web import carry_out, carry_out_form, staff_required
from blueprints.branding import bp, colour, service
from blueprints.branding.forms import AccentForm, ActionForm, LogoForm
from blueprints.branding.image import MAX_BYTES


def _page(logo_form=None, accent_form=None, preview: str | None = None):
    look = service.current_look()
    logo_form = logo_form or LogoForm(formdata=None)
    accent_form = accent_form or AccentForm(
        formdata=None, data={"accent": look.accent or colour.DEFAULT_ACCENT}
    )
    shown = preview or look.accent or colour.DEFAULT_ACCENT
    page = render_template(
        "settings/branding.html",
        look=look,
        logo_form=logo_form,
        accent_form=accent_form,
        action_form=ActionForm(formdata=None),
        preview=preview,
        shown=shown,
        swatch=service.swatch(shown),
        ratios=service.ratios(shown),
        suggested=[(name, value, service.chip(value)) for name, value in service.SUGGESTED.items()],
        default_accent=colour.DEFAULT_ACCENT,
    )
    return page, (400 if logo_form.errors or accent_form.errors else 200)


@bp.get("/settings/branding")
@staff_required(*service.BRANDING_ROLES)
def edit():
    return _page()


def _uploaded(form: LogoForm) -> bytes:
    # One byte more than the limit is enough to know it is over it.
    return form.logo.data.stream.read(MAX_BYTES + 1)


@bp.post("/settings/branding/logo")
@staff_required(*service.BRANDING_ROLES)
def upload_logo():
    form = LogoForm()
    return carry_out_form(
        form,
        lambda: service.set_logo(current_user, _uploaded(form)),
        page=lambda: _page(logo_form=form),
        success="Your logo was saved. It now shows on every page of your portal.",
        then=url_for("branding.edit"),
    )


@bp.post("/settings/branding/logo/remove")
@staff_required(*service.BRANDING_ROLES)
def remove_logo():
    form = ActionForm()
    if not form.validate_on_submit():
        return _page()[0], 400
    return carry_out(
        lambda: service.remove_logo(current_user),
        success="The logo was removed.",
        then=url_for("branding.edit"),
    )


@bp.post("/settings/branding/accent")
@staff_required(*service.BRANDING_ROLES)
def accent():
    form = AccentForm()
    action = request.form.get("action", "save")
    preset = request.form.get("preset")
    if preset:  # a suggested colour: previewed, not saved
        form.accent.data, action = preset, "preview"

    def invalid():
        return _page(accent_form=form, preview=colour.parse_hex(form.accent.data))

    if not form.validate_on_submit():
        return invalid()
    if action == "preview":
        return carry_out(
            lambda: service.checked_accent(form.accent.data),
            then=lambda checked: _page(accent_form=form, preview=checked),
            form=form,
            invalid=invalid,
        )
    value = None if action == "default" else form.accent.data
    return carry_out(
        lambda: service.set_accent(current_user, value),
        then=_accent_saved,
        form=form,
        invalid=invalid,
    )


def _accent_saved(accent: str | None):
    flash(f"The accent colour is now {accent}." if accent else "The default colour is back.", "success")
    return redirect(url_for("branding.edit"))
