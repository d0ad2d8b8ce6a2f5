"""Views of the auth feature: login, logout, sign-up hand-off, forgotten password."""

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.errors import refuse
from app.extensions import limiter
from app.web import form_status, safe_next
from blueprints.auth import bp, service
from blueprints.auth.forms import ForgotPasswordForm, LoginForm, LogoutForm, ResetPasswordForm
from blueprints.auth.sessions import end_session, start_session
from tenants.database import db

LOGIN_LIMIT = "10 per minute;50 per hour"
RESET_LIMIT = "5 per minute;20 per hour"


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(LOGIN_LIMIT, methods=["POST"])
def login():
    form = LoginForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        user = service.authenticate(form.email.data, form.password.data)
        if user is not None:
            start_session(user)
            db.session.commit()
            landing = url_for("home.index") if user.is_staff else url_for("portal.choose")
            return redirect(safe_next(form.next.data, fallback=landing))
        form.password.errors.append("That email and password do not match an account here.")
    return render_template("auth/login.html", form=form), form_status(form)


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    form = LogoutForm()
    if request.method == "POST" and form.validate_on_submit():
        end_session(current_user if current_user.is_authenticated else None)
        db.session.commit()
        flash("You are logged out.", "info")
        return redirect(url_for("auth.login"))
    return render_template("auth/logout.html", form=form)


@bp.get("/auth/handoff")
def handoff():
    """The one-time token a new owner carries from signup on the apex to their own host."""
    user = service.consume_token(request.args.get("token", ""), service.HANDOFF)
    if user is None:
        refuse(400, "This sign-in link has expired or was already used. Please log in.")
    start_session(user)
    db.session.commit()
    return redirect(url_for("home.index"))  # drops the token from the address bar


@bp.route("/forgot-password", methods=["GET", "POST"])
@limiter.limit(RESET_LIMIT, methods=["POST"])
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        service.request_password_reset(form.email.data)
        db.session.commit()
        return render_template("auth/reset_sent.html")
    return render_template("auth/forgot_password.html", form=form), form_status(form)


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
@limiter.limit(RESET_LIMIT, methods=["POST"])
def reset_password(token: str):
    if service.peek_token(token, service.PASSWORD_RESET) is None:
        refuse(410, "This reset link has expired or was already used. You can ask for a new one.")
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            service.reset_password(token, form.password.data)
        except service.AccountError as error:
            form.password.errors.append(str(error))
        else:
            db.session.commit()
            flash("Your password was changed. Please log in with the new one.", "success")
            return redirect(url_for("auth.login"))
    return render_template("auth/reset_password.html", form=form), form_status(form)


@bp.after_request
def no_referrer_on_token_pages(response):
    if request.endpoint in ("auth.reset_password", "auth.handoff"):
        response.headers["Referrer-Policy"] = "no-referrer"
    return response
