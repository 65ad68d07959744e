"""Utility Autopay: the Flask application factory."""
from __future__ import annotations

import logging

from flask import Flask

from webapp import config as settings
from webapp import request_numbers
from webapp.config import ROOT


def create_app(config: dict | None = None) -> Flask:
    """Build the app. ``config`` overrides settings read from the environment (tests use it)."""
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(settings.INSTANCE_DIR),
    )
    load_settings(app, config)
    register_proxies(app)
    register_extensions(app)
    request_numbers.register(app)  # <int:...> is a strict row id in every URL
    register_blueprints(app)
    register_error_handlers(app)
    register_response_headers(app)
    register_template_helpers(app)
    register_cli(app)
    return app


def load_settings(app: Flask, overrides: dict | None) -> None:
    app.config.update(settings.from_env())
    if overrides:
        app.config.update(overrides)
    settings.check_production(app.config)
    if app.config["APP_ENV"] == "production":
        from webapp.infra import crypto

        crypto.cipher(app.config)  # a malformed key fails now, not at the first encrypted read
    from webapp.infra import sqlite_files

    sqlite_files.prepare(app.config["SQLALCHEMY_DATABASE_URI"], app.instance_path)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


def register_proxies(app: Flask) -> None:
    """Behind TRUSTED_PROXIES reverse proxies, believe that many X-Forwarded-For/-Proto/-Host hops
    (client address for rate limits, https for secure cookies); with none, believe no such header."""
    hops = app.config.get("TRUSTED_PROXIES") or 0
    if hops > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)


def register_extensions(app: Flask) -> None:
    from webapp.extensions import csrf, db, htmx, limiter, login_manager, migrate
    from webapp.models.base import render_alembic_item

    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # Writers wait for each other instead of failing with "database is locked".
        app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"connect_args": {"timeout": 30}})
    db.init_app(app)
    migrate.init_app(
        app,
        db,
        directory=str(ROOT / "migrations"),
        render_as_batch=True,
        compare_type=True,
        render_item=render_alembic_item,
    )
    csrf.init_app(app)
    htmx.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        from webapp.infra import sqlite_files

        with app.app_context():
            sqlite_files.tune(db.engine)  # WAL, busy timeout, BEGIN IMMEDIATE for writers
        app.teardown_request(lambda _exc: sqlite_files.release_write_lock(db.session))
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.login_message_category = "info"

    register_user_loader()


def register_user_loader() -> None:
    from sqlalchemy import bindparam, select

    from webapp.extensions import db, login_manager
    from webapp.models import User
    from webapp.request_numbers import parse_id
    from webapp.services.identity import sessions

    # Built once: every signed-in request runs it, and a prebuilt statement costs about two thirds
    # of ``Session.get``, which builds its query anew on each call. Only the users row is read (the
    # estate and the rest load when a page asks for them).
    by_id = select(User).where(User.id == bindparam("user_id"))

    @login_manager.user_loader
    def load_user(user_id: str):
        number = parse_id(user_id) if user_id.isdigit() else None
        user = None if number is None else db.session.execute(by_id, {"user_id": number}).scalar_one_or_none()
        # A revoked, idle or too-old session is refused here, on every request (services/sessions).
        return sessions.accept(user)


def register_blueprints(app: Flask) -> None:
    from webapp.admin import bp as admin_bp
    from webapp.auth import bp as auth_bp
    from webapp.automations import bp as automations_bp
    from webapp.estate_bills import bp as estate_bills_bp
    from webapp.history import bp as history_bp
    from webapp.households import bp as households_bp
    from webapp.main import bp as main_bp
    from webapp.notifications import bp as notifications_bp
    from webapp.pay import bp as pay_bp
    from webapp.tokens import bp as tokens_bp
    from webapp.utility_accounts import bp as utility_accounts_bp
    from webapp.wallet import bp as wallet_bp
    from webapp.webhooks import bp as webhooks_bp

    app.register_blueprint(main_bp)
    app.register_blueprint(auth_bp, url_prefix="/auth")
    app.register_blueprint(admin_bp, url_prefix="/admin")
    from webapp.admin import rq as rq_dashboard

    rq_dashboard.init_app(app)  # /admin/rq, platform admins only
    app.register_blueprint(wallet_bp, url_prefix="/wallet")
    app.register_blueprint(webhooks_bp, url_prefix="/webhooks")
    app.register_blueprint(history_bp, url_prefix="/payments")
    app.register_blueprint(tokens_bp, url_prefix="/tokens")
    app.register_blueprint(utility_accounts_bp, url_prefix="/accounts")
    app.register_blueprint(pay_bp, url_prefix="/pay")
    app.register_blueprint(notifications_bp, url_prefix="/notifications")
    app.register_blueprint(automations_bp, url_prefix="/automations")
    app.register_blueprint(estate_bills_bp, url_prefix="/bills")
    app.register_blueprint(households_bp, url_prefix="/household")


def register_error_handlers(app: Flask) -> None:
    from webapp.errors import register

    register(app)


def register_response_headers(app: Flask) -> None:
    from webapp.response_headers import register

    register(app)


def register_template_helpers(app: Flask) -> None:
    from webapp.presentation import nav, partials, templating

    templating.register(app)
    partials.register(app)
    nav.register(app)


def register_cli(app: Flask) -> None:
    from webapp.cli import register

    register(app)
