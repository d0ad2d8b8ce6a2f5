"""Views of signup: the signup form, the live address check, and "Find my practice" on the apex
landing page (which `home.index` shows)."""

from flask import jsonify, redirect, render_template, request

from app.extensions import limiter
from app.web import carry_out, carry_out_form, form_status
from blueprints.signup import bp
from blueprints.signup.forms import FindPracticeForm, SignupForm
from blueprints.signup.service import practice_login_url, sign_up
from tenants.addresses import practice_host, practice_url
from tenants.registry import address_available


@bp.route("/signup", methods=["GET", "POST"])
@limiter.limit("20 per hour", methods=["POST"])
def signup():
    form = SignupForm()

    def page():
        return render_template("signup/signup.html", form=form), form_status(form)

    def hand_over(signed_up):
        practice, token = signed_up
        return redirect(practice_url(practice.slug, f"/auth/handoff?token={token}"), code=303)

    return carry_out_form(
        form,
        lambda: sign_up(
            form.practice_name.data,
            form.owner_name.data,
            form.email.data,
            form.password.data,
            form.subdomain.data,
        ),
        page=page,
        then=hand_over,
    )


@bp.get("/signup/check")
@limiter.limit("120 per minute")
def check_address():
    subdomain = request.args.get("subdomain", "")
    problem = address_available(subdomain)
    return jsonify(
        available=problem is None,
        message=problem or f"{practice_host(subdomain.strip().lower())} is available.",
    )


@bp.get("/find")
@limiter.limit("60 per minute")
def find_practice():
    """Type the practice's address, land on its login page."""
    form = FindPracticeForm(request.args)

    def page():
        return render_template("home/landing.html", find_form=form), 400

    if not form.validate():
        return page()
    return carry_out(
        lambda: practice_login_url(form.address.data),
        then=lambda url: redirect(url, code=303),
        form=form,
        invalid=page,
    )
