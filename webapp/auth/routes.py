from urllib.parse import urlsplit

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from ..extensions import limiter
from ..services import accounts
from . import bp
from .forms import ChangePasswordForm, LoginForm, LogoutForm, RegisterForm


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


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(_home())
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        try:
            user = accounts.authenticate(form.email.data, form.password.data)
        except accounts.AccountError as exc:
            error = str(exc)
        else:
            login_user(user)
            return redirect(safe_next(request.args.get("next")) or _home())
    elif request.method == "POST":
        error = accounts.GENERIC_LOGIN_ERROR
    status = 401 if error else 200
    return render_template("auth/login.html", form=form, error=error), status


@bp.route("/register", methods=["GET", "POST"])
def register():
    if current_user.is_authenticated:
        return redirect(_home())
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            user = accounts.register_resident(
                accounts.Registration(
                    email=form.email.data,
                    full_name=form.full_name.data,
                    phone=form.phone.data or "",
                    password=form.password.data,
                    invite_code=form.invite_code.data,
                )
            )
        except accounts.AccountError as exc:
            field = getattr(form, exc.field, None) if exc.field else None
            if field is not None:
                field.errors.append(str(exc))
            else:
                flash(str(exc), "error")
        else:
            login_user(user)
            flash(f"Welcome to {user.estate.name}, {user.full_name.split()[0]}.", "success")
            return redirect(url_for("main.index"))
    status = 422 if request.method == "POST" else 200
    return render_template("auth/register.html", form=form), status


@bp.route("/logout", methods=["POST"])
def logout():
    form = LogoutForm()
    if form.validate_on_submit():
        logout_user()
        flash("You have signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            accounts.change_password(current_user, form.current_password.data, form.new_password.data)
        except accounts.AccountError as exc:
            getattr(form, exc.field).errors.append(str(exc))
        else:
            flash("Your password has been changed.", "success")
            return redirect(_home())
    status = 422 if request.method == "POST" else 200
    return render_template("auth/change_password.html", form=form), status
