"""Views of the auth feature: login (with a second step for staff two-factor), logout, sign-up
hand-off, forgotten password, and each staff member's security page (TOTP, recovery codes)."""

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.errors import refuse
from app.extensions import limiter
from app.nav import register_nav
from app.web import form_status, safe_next, staff_required
from blueprints.audit.service import record
from blueprints.auth import bp, mfa, service
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
from blueprints.auth.sessions import end_session, start_session
from tenants.context import bound_practice, current_practice
from tenants.database import db

LOGIN_LIMIT = "10 per minute;50 per hour"
RESET_LIMIT = "5 per minute;20 per hour"
# Per account as well as per address: many addresses guessing one password, or mail-bombing one inbox.
ACCOUNT_LOGIN_LIMIT = "20 per hour"
ACCOUNT_RESET_LIMIT = "5 per hour"


def _account_key() -> str:
    practice = bound_practice()
    email = (request.form.get("email") or "").strip().lower()[:254]
    return f"account:{practice.id if practice else 'apex'}:{email}"


WRONG_LOGIN = "That email and password do not match an account here."
WRONG_CODE = "That code is not right. Please try again."
REPLAYED_CODE = "That code was already used. Please wait for the next one."

register_nav(
    "staff",
    "Security",
    "auth.account_security",
    lambda: current_user.is_authenticated and current_user.is_staff,
    order=95,
)


def _actor(user) -> dict:
    return {"actor_kind": user.kind, "actor_user_id": user.id, "actor_name": user.name}


def _finish_login(user, next_path: str | None, detail: str | None = None):
    """Start the session (after every step the account needs) and send the person on."""
    start_session(user)
    record("logged in", **_actor(user), detail=detail)
    db.session.commit()
    if mfa.must_set_up_two_factor(user):
        flash("Your practice requires two-factor authentication. Please set it up to continue.", "warning")
        return redirect(url_for("auth.account_security"))
    landing = url_for("home.index") if user.is_staff else url_for("portal.choose")
    return redirect(safe_next(next_path, fallback=landing))


def _record_failed_login(email: str, detail: str) -> None:
    # The attempted address and password never reach the log: the account's id, when there is one.
    user = service.find_user_by_email(email)
    if user is None:
        record("login failed", actor_kind="anonymous", detail=detail)
    else:
        record("login failed", **_actor(user), detail=detail)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(LOGIN_LIMIT, methods=["POST"])
@limiter.limit(ACCOUNT_LOGIN_LIMIT, methods=["POST"], key_func=_account_key)
def login():
    form = LoginForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        refusal = service.password_login_refusal(form.email.data)  # e.g. staff who must use single sign-on
        user = None if refusal else service.authenticate(form.email.data, form.password.data)
        if user is not None and service.has_totp(user):
            mfa.begin_pending_login(user, form.next.data)
            db.session.commit()  # a password rehash, if any
            return redirect(url_for("auth.login_verify"))
        if user is not None:
            return _finish_login(user, form.next.data)
        _record_failed_login(form.email.data, refusal or "wrong email or password")
        db.session.commit()
        form.password.errors.append(refusal or WRONG_LOGIN)
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
    if form.validate_on_submit():
        if mfa.too_many_failures(user):
            mfa.end_pending_login()
            refuse(429, "Too many wrong codes. Please wait a few minutes and log in again.")
        found = mfa.check_second_factor(user, form.code.data)
        if found in (mfa.TOTP_OK, mfa.RECOVERY_OK):
            return _finish_login(user, mfa.pending_next(), detail=f"with a two-factor {found}")
        mfa.count_failure(user)
        record("login failed", **_actor(user), detail="wrong two-factor code")
        db.session.commit()
        form.code.errors.append(REPLAYED_CODE if found == mfa.REPLAYED else WRONG_CODE)
    return render_template("auth/login_verify.html", form=form), form_status(form)


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
    record("logged in", **_actor(user), detail="after signing up")
    db.session.commit()
    return redirect(url_for("home.index"))  # drops the token from the address bar


@bp.route("/forgot-password", methods=["GET", "POST"])
@limiter.limit(RESET_LIMIT, methods=["POST"])
@limiter.limit(ACCOUNT_RESET_LIMIT, methods=["POST"], key_func=_account_key)
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


def _security_page(enable_form=None, disable_form=None, recovery_codes=None):
    user = current_user
    pending = user.totp_secret if not service.has_totp(user) else None
    uri = service.totp_uri(user, current_practice().name) if pending else None
    forms = [form for form in (enable_form, disable_form) if form is not None]
    return render_template(
        "auth/security.html",
        enabled=service.has_totp(user),
        pending_secret=pending,
        otpauth_uri=uri,
        qr_code=service.qr_code_data_uri(uri) if uri else None,
        unused_codes=service.unused_recovery_codes(user) if service.has_totp(user) else 0,
        recovery_codes=recovery_codes,
        start_form=StartTotpForm(),
        enable_form=enable_form or EnableTotpForm(formdata=None),
        disable_form=disable_form or DisableTotpForm(formdata=None),
        codes_form=RecoveryCodesForm(),
        required=mfa.must_set_up_two_factor(user),
    ), (400 if any(form.errors for form in forms) else 200)


@bp.get("/account/security")
@staff_required()
def account_security():
    return _security_page()


@bp.post("/account/security/totp/start")
@staff_required()
def totp_start():
    if not StartTotpForm().validate_on_submit():
        refuse(400, "This form has expired. Please reload the page and try again.")
    try:
        service.begin_totp_setup(current_user)
    except service.AccountError as error:
        flash(str(error), "warning")
    else:
        db.session.commit()
    return redirect(url_for("auth.account_security"))


@bp.post("/account/security/totp/enable")
@limiter.limit(LOGIN_LIMIT)
@staff_required()
def totp_enable():
    form = EnableTotpForm()
    if service.has_totp(current_user) or not current_user.totp_secret:
        flash("Start the set-up again: no authenticator is waiting to be confirmed.", "warning")
        return redirect(url_for("auth.account_security"))
    if form.validate_on_submit():
        found = mfa.check_totp(current_user, current_user.totp_secret, form.code.data)
        if found == mfa.TOTP_OK:
            codes = service.enable_totp(current_user)
            record("two-factor turned on", **_actor(current_user))
            db.session.commit()
            flash("Two-factor authentication is on. Keep your recovery codes somewhere safe.", "success")
            return _security_page(recovery_codes=codes)
        form.code.errors.append(REPLAYED_CODE if found == mfa.REPLAYED else WRONG_CODE)
    return _security_page(enable_form=form)


@bp.post("/account/security/totp/disable")
@limiter.limit(LOGIN_LIMIT)
@staff_required()
def totp_disable():
    form = DisableTotpForm()
    if not service.has_totp(current_user):
        return redirect(url_for("auth.account_security"))
    if form.validate_on_submit():
        code_ok = bool(form.code.data) and (
            mfa.check_totp(current_user, current_user.totp_secret, form.code.data) == mfa.TOTP_OK
        )
        if code_ok or service.password_matches(current_user, form.password.data):
            service.disable_totp(current_user)
            record("two-factor turned off", **_actor(current_user))
            db.session.commit()
            flash("Two-factor authentication is off.", "info")
            return redirect(url_for("auth.account_security"))
        form.code.errors.append("Enter a current code from your app, or your password.")
    return _security_page(disable_form=form)


@bp.post("/account/security/recovery-codes")
@staff_required()
def recovery_codes():
    if not RecoveryCodesForm().validate_on_submit():
        refuse(400, "This form has expired. Please reload the page and try again.")
    if not service.has_totp(current_user):
        return redirect(url_for("auth.account_security"))
    codes = service.replace_recovery_codes(current_user)
    record("recovery codes replaced", **_actor(current_user))
    db.session.commit()
    flash("New recovery codes: the old ones no longer work.", "success")
    return _security_page(recovery_codes=codes)


@bp.after_request
def no_referrer_on_token_pages(response):
    if request.endpoint in ("auth.reset_password", "auth.handoff"):
        response.headers["Referrer-Policy"] = "no-referrer"
    return response
