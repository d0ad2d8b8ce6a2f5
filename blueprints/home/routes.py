"""Views of the practice home."""

from flask import abort, redirect, render_template, session, url_for
from flask_login import current_user

from app.web import carry_out, staff_required
from blueprints.home import bp, service
from blueprints.home.forms import GetStartedForm
from blueprints.signup.forms import FindPracticeForm
from tenants.addresses import practice_host
from tenants.context import bound_practice
from tenants.features import practice_settings
from tenants.middleware import practice_required


@bp.get("/")
def index():
    practice = bound_practice()
    if practice is None:
        return render_template("home/landing.html", find_form=FindPracticeForm(formdata=None))
    settings = practice_settings()
    if current_user.is_authenticated and current_user.is_staff:
        return render_template(
            "home/staff_home.html",
            address=practice_host(practice.slug),
            settings=settings,
            form=GetStartedForm(),
            may_open_portal=current_user.role in service.MAY_OPEN_PORTAL,
        )
    if not settings.portal_enabled:
        return render_template("home/not_open.html")
    if current_user.is_authenticated or session.get("profile_link"):
        return redirect(url_for("portal.choose" if current_user.is_authenticated else "portal.home"))
    return render_template("home/welcome.html")


@bp.post("/get-started")
@practice_required
@staff_required()
def get_started():
    form = GetStartedForm()
    if not form.validate_on_submit():
        abort(400)
    return carry_out(
        lambda: service.open_portal(current_user),
        success="Your client portal is open. Clients can now log in here.",
        then=url_for("home.index"),
    )
