"""Views of the auth feature: login (with a second step for staff two-factor), logout, sign-up
hand-off, forgotten password, and each staff member's security page (TOTP, recovery codes)."""

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.errors import refuse
from app.extensions import limiter
from app.nav import register_nav
from app.web import carry_out, carry_out_form, form_status, safe_next, staff_required, token_page_limit
from blueprints.auth import bp, logins, mfa, service, two_factor
from blueprints.auth.forms import (
    DisableTotpForm,
    EnableTotpForm,
    ForgotPasswordForm,
    LoginForm,
    LogoutForm,
    RecoveryCodesForm,
    ResetPasswordForm,
    StartTotpForm,
    VerifyCodeForm,
)
from blueprints.auth.models import User
from blueprints.auth.sessions import end_session
from tenants.context import bound_practice, current_practice

LOGIN_LIMIT = "10 per minute;50 per hour"
RESET_LIMIT = "5 per minute;20 per hour"
# Per account as well as per address: many addresses guessing one password, or mail-bombing one inbox.
ACCOUNT_LOGIN_LIMIT = "20 per hour"
ACCOUNT_RESET_LIMIT = "5 per hour"
WRONG_LOGIN = "That email and password do not match an account here."


def _account_key() -> str:
    practice = bound_practice()
    email = (request.form.get("email") or "").strip().lower()[:254]
    return f"account:{practice.id if practice else 'apex'}:{email}"


register_nav(
    "staff",
    "Security",
    "auth.account_security",
    lambda: current_user.is_authenticated and current_user.is_staff,
    order=95,
)


def _landing(user, next_path: str | None):
    """Where a person goes once logged in (staff who must set up two-factor: their security page)."""
    if mfa.must_set_up_two_factor(user):
        flash("Your practice requires two-factor authentication. Please set it up to continue.", "warning")
        return redirect(url_for("auth.account_security"))
    landing = url_for("home.index") if user.is_staff else url_for("portal.choose")
    return redirect(safe_next(next_path, fallback=landing))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(LOGIN_LIMIT, methods=["POST"])
@limiter.limit(ACCOUNT_LOGIN_LIMIT, methods=["POST"], key_func=_account_key)
def login():
    form = LoginForm(next=request.args.get("next", ""))

    def next_step(user):
        if not isinstance(user, User):  # None, or why a password may not be used here (single sign-on)
            form.password.errors.append(user or WRONG_LOGIN)
            return _login_page(form)
        if two_factor.has_totp(user):
            return redirect(url_for("auth.login_verify"))
        return _landing(user, form.next.data)

    if form.validate_on_submit():
        return carry_out(
            lambda: logins.password_step(form.email.data, form.password.data, form.next.data), then=next_step
        )
    return _login_page(form)


def _login_page(form):
    return render_template("auth/login.html", form=form), form_status(form)


@bp.route("/login/verify", methods=["GET", "POST"])
@limiter.limit(LOGIN_LIMIT, methods=["POST"])
def login_verify():
    user = mfa.pending_user()
    if user is None:
        mfa.end_pending_login()
        flash("Please log in again.", "info")
        return redirect(url_for("auth.login"))
    form = VerifyCodeForm()
    next_path = mfa.pending_next()  # read now: logging in starts a fresh session

    def next_step(found):
        if found in (mfa.TOTP_OK, mfa.RECOVERY_OK):
            return _landing(user, next_path)
        form.code.errors.append(mfa.code_message(found))
        return _verify_page(form)

    if form.validate_on_submit():
        return carry_out(lambda: logins.code_step(user, form.code.data), then=next_step)
    return _verify_page(form)


def _verify_page(form):
    return render_template("auth/login_verify.html", form=form), form_status(form)


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    form = LogoutForm()
    if request.method == "POST" and form.validate_on_submit():
        user = current_user if current_user.is_authenticated else None
        return carry_out(lambda: end_session(user), then=_logged_out)
    return render_template("auth/logout.html", form=form)


def _logged_out(_):
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))


@bp.get("/auth/handoff")
def handoff():
    """The one-time token a new owner carries from signup on the apex to their own host."""
    # The redirect drops the token from the address bar.
    return carry_out(lambda: logins.hand_off(request.args.get("token", "")), then=url_for("home.index"))


@bp.route("/forgot-password", methods=["GET", "POST"])
@limiter.limit(RESET_LIMIT, methods=["POST"])
@limiter.limit(ACCOUNT_RESET_LIMIT, methods=["POST"], key_func=_account_key)
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        return carry_out(
            lambda: service.request_password_reset(form.email.data),
            then=lambda _: render_template("auth/reset_sent.html"),
        )
    return render_template("auth/forgot_password.html", form=form), form_status(form)


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
@token_page_limit("reset")
@limiter.limit(RESET_LIMIT, methods=["POST"])
def reset_password(token: str):
    if service.peek_token(token, service.PASSWORD_RESET) is None:
        refuse(410, "This reset link has expired or was already used. You can ask for a new one.")
    form = ResetPasswordForm()

    def page():
        return render_template("auth/reset_password.html", form=form), form_status(form)

    return carry_out_form(
        form,
        lambda: service.reset_password(token, form.password.data),
        page=page,
        success="Your password was changed. Please log in with the new one.",
        then=url_for("auth.login"),
    )


def _security_page(enable_form=None, disable_form=None, recovery_codes=None):
    user = current_user
    enabled = two_factor.has_totp(user)
    pending = two_factor.totp_secret(user) if not enabled else None
    uri = two_factor.totp_uri(user, pending, current_practice().name) if pending else None
    forms = [form for form in (enable_form, disable_form) if form is not None]
    return render_template(
        "auth/security.html",
        enabled=enabled,
        pending_secret=pending,
        otpauth_uri=uri,
        qr_code=two_factor.qr_code_data_uri(uri) if uri else None,
        unused_codes=two_factor.unused_recovery_codes(user) if enabled else 0,
        recovery_codes=recovery_codes,
        start_form=StartTotpForm(),
        enable_form=enable_form or EnableTotpForm(formdata=None),
        disable_form=disable_form or DisableTotpForm(formdata=None),
        codes_form=RecoveryCodesForm(),
        required=mfa.must_set_up_two_factor(user),
    ), (400 if any(form.errors for form in forms) else 200)


def _back_to_security() -> str:
    return url_for("auth.account_security")


@bp.get("/account/security")
@staff_required()
def account_security():
    return _security_page()


@bp.post("/account/security/totp/start")
@staff_required()
def totp_start():
    if not StartTotpForm().validate_on_submit():
        refuse(400, "This form has expired. Please reload the page and try again.")
    return carry_out(
        lambda: two_factor.begin_totp_setup(current_user), then=_back_to_security(), back=_back_to_security()
    )


@bp.post("/account/security/totp/enable")
@limiter.limit(LOGIN_LIMIT)
@staff_required()
def totp_enable():
    form = EnableTotpForm()
    if two_factor.has_totp(current_user) or not two_factor.has_secret(current_user):
        flash(two_factor.START_AGAIN, "warning")
        return redirect(_back_to_security())
    return carry_out_form(
        form,
        lambda: mfa.confirm_setup(current_user, form.code.data),
        page=lambda: _security_page(enable_form=form),
        success="Two-factor authentication is on. Keep your recovery codes somewhere safe.",
        then=lambda codes: _security_page(recovery_codes=codes),
    )


@bp.post("/account/security/totp/disable")
@limiter.limit(LOGIN_LIMIT)
@staff_required()
def totp_disable():
    form = DisableTotpForm()
    if not two_factor.has_totp(current_user):
        return redirect(_back_to_security())
    return carry_out_form(
        form,
        lambda: mfa.turn_off(current_user, form.code.data, form.password.data),
        page=lambda: _security_page(disable_form=form),
        then=_turned_off,
    )


def _turned_off(_):
    flash("Two-factor authentication is off.", "info")
    return redirect(_back_to_security())


@bp.post("/account/security/recovery-codes")
@staff_required()
def recovery_codes():
    if not RecoveryCodesForm().validate_on_submit():
        refuse(400, "This form has expired. Please reload the page and try again.")
    if not two_factor.has_totp(current_user):
        return redirect(_back_to_security())
    return carry_out(
        lambda: two_factor.replace_recovery_codes(current_user),
        success="New recovery codes: the old ones no longer work.",
        then=lambda codes: _security_page(recovery_codes=codes),
    )


@bp.after_request
def no_referrer_on_token_pages(response):
    if request.endpoint in ("auth.reset_password", "auth.handoff"):
        response.headers["Referrer-Policy"] = "no-referrer"
    return response
