import hashlib
from urllib.parse import urlsplit

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from webapp.auth import bp
from webapp.auth.forms import ChangePasswordForm, ConfirmSignupForm, LoginForm, LogoutForm, RegisterForm
from webapp.extensions import limiter
from webapp.guards import require_login
from webapp.services.identity import credentials, sessions

TOO_MANY_SIGN_INS = "Too many sign-in attempts. Wait a few minutes, then try again."
TOO_MANY_SIGN_UPS = "Too many sign-up attempts from your network. Wait a while, then try again."


def safe_next(target: str | None) -> str | None:
    """Only same-site relative paths; anything with a scheme or host (or //host) is dropped."""
    if not target:
        return None
    target = target.strip().replace("\\", "/")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def _home() -> str:
    return url_for("admin.index") if current_user.is_admin else url_for("main.index")


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _account_limit() -> str:
    return current_app.config["LOGIN_ACCOUNT_RATE_LIMIT"]


def _register_limit() -> str:
    return current_app.config["REGISTER_RATE_LIMIT"]


def _typed_account() -> str:
    """The per-account limit's key: the email as typed, known or not, so both get the same answer."""
    email = (request.form.get("email") or "").strip().lower()
    return "sign-in-account:" + hashlib.sha256(email.encode()).hexdigest()[:32]


def _failed_sign_in(response) -> bool:
    return response.status_code == 401


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"], error_message=TOO_MANY_SIGN_INS)
# Only failures count against an account, but once over the limit every attempt for it waits
# (the right password too) until the window ends by itself: slowed, never locked.
@limiter.limit(_account_limit, key_func=_typed_account, methods=["POST"], deduct_when=_failed_sign_in,
               error_message=TOO_MANY_SIGN_INS)
def login():
    if current_user.is_authenticated:
        return redirect(_home())
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        try:
            user = credentials.authenticate(form.email.data, form.password.data)
        except credentials.AccountError as exc:
            error = str(exc)
        else:
            sessions.start(user)
            if user.is_resident:
                from webapp.households.acting import remember_choices  # that package imports this one

                remember_choices(user.id)  # the header's household switcher
            return redirect(safe_next(request.args.get("next")) or _home())
    elif request.method == "POST":
        error = credentials.GENERIC_LOGIN_ERROR
    status = 401 if error else 200
    return render_template("auth/login.html", form=form, error=error), status


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(_register_limit, methods=["POST"], error_message=TOO_MANY_SIGN_UPS)
def register():
    if current_user.is_authenticated:
        return redirect(_home())
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            credentials.register_resident(
                credentials.Registration(
                    email=form.email.data,
                    full_name=form.full_name.data,
                    phone=form.phone.data or "",
                    password=form.password.data,
                    invite_code=form.invite_code.data,
                )
            )
        except credentials.AccountError as exc:
            field = getattr(form, exc.field, None) if exc.field else None
            if field is not None:
                field.errors.append(str(exc))
            else:
                flash(str(exc), "error")
        else:
            # The same answer for a new address and one that has an account (the email differs).
            return redirect(url_for(".register_sent"))
    status = 422 if request.method == "POST" else 200
    return render_template("auth/register.html", form=form), status


@bp.route("/register/sent")
def register_sent():
    return render_template("auth/register_sent.html")


@bp.route("/register/confirm/<token>", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"], error_message=TOO_MANY_SIGN_INS)
def confirm_signup(token: str):
    """The link in the sign-up email. GET only shows the form: mail scanners open links too."""
    pending = credentials.pending_signup(token)
    if pending is None:
        return render_template("auth/confirm_signup.html", form=None, error=credentials.LINK_ERROR), 400
    form = ConfirmSignupForm()
    if form.validate_on_submit():
        try:
            user = credentials.confirm_signup(token, form.password.data)
        except credentials.AccountError as exc:
            form.password.errors.append(str(exc))
        else:
            sessions.start(user)
            flash(f"Welcome to {user.estate.name}, {user.full_name.split()[0]}.", "success")
            return redirect(url_for("main.index"))
    status = 422 if request.method == "POST" else 200
    return render_template("auth/confirm_signup.html", form=form, email=pending.email, error=None), status


@bp.route("/logout", methods=["POST"])
def logout():
    """Signs out every session of this person, not only this browser's."""
    form = LogoutForm()
    if form.validate_on_submit():
        signed_in = current_user.is_authenticated  # False if the session had already ended (and said so)
        if signed_in:
            sessions.sign_out_everywhere(current_user._get_current_object())
        sessions.end()
        if signed_in:
            flash("You have signed out on every device.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
def change_password():
    if not current_user.is_authenticated:
        return require_login()
    form = ChangePasswordForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        try:
            credentials.change_password(user, form.current_password.data, form.new_password.data)
        except credentials.AccountError as exc:
            getattr(form, exc.field).errors.append(str(exc))
        else:
            sessions.start(user)  # this browser carries on under the new session version
            flash("Your password has been changed, and every other device has been signed out.", "success")
            return redirect(_home())
    status = 422 if request.method == "POST" else 200
    return render_template("auth/change_password.html", form=form), status
