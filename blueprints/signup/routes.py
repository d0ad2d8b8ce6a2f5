"""Views of signup: the apex landing page, the signup form, the live address check."""

from flask import jsonify, redirect, render_template, request

from app.extensions import limiter
from app.web import carry_out_form, form_status
from blueprints.signup import bp
from blueprints.signup.forms import SignupForm
from blueprints.signup.service import sign_up
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
