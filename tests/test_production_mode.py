"""Production is production, and every page is hardened.

With APP_ENV=production the development pieces (mail outbox, provider sandbox, demo data, `make run`)
refuse to run or are not there, and the app refuses to start without its public address, a mail
server or strong secrets. On every page: a strict Content-Security-Policy the templates keep to (no
inline script, handler or style), HSTS in production only, no-store for signed-in pages, bounded
redirect targets, ProxyFix behind TRUSTED_PROXIES, and a private SQLite file.
"""
from __future__ import annotations

import os
import stat
import sys
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import text

from tests import factories
from tests.factories_payments import make_payment
from webapp import create_app, devrun
from webapp.config import ROOT, ConfigError
from webapp.extensions import db
from webapp.models import Estate, User
from webapp.response_headers import CONTENT_SECURITY_POLICY, MAX_LOCATION_CHARS, MAX_NEXT_CHARS, bounded_location
from webapp.sandbox import __main__ as sandbox_main
from webapp.sandbox import runner as sandbox_runner

STRONG_SECRET = "q8Vt2xLr0Zk9mWc4Ny7Hb1Sd6Gf3Jp5Ae0Ru8Ko2Xi4"
STRONG_KEYS = "q0mVfBvEDm3bJh6oQ8nF2Xg3GZr1xI0lWgK7uTzA9sY="
PRODUCTION = {
    "APP_ENV": "production", "SECRET_KEY": STRONG_SECRET, "ENCRYPTION_KEYS": STRONG_KEYS, "LOOKUP_HASH_KEY": "",
    "PUBLIC_BASE_URL": "https://autopay.example.com", "MAIL_SERVER": "smtp.example.com",
    "FLUTTERWAVE_BASE_URL": "https://api.flutterwave.com/v3", "VTPASS_BASE_URL": "https://vtpass.com/api",
    "PAYSTACK_BASE_URL": "https://api.paystack.co",
    "PASSWORD_HASH_METHOD": "scrypt",  # the suite's cheap hash is refused in production
}
# The shared `app` fixture, built with production settings instead of development ones.
in_production = pytest.mark.parametrize("config_overrides", [PRODUCTION], ids=["production"])


def _build(base_config, **changes):
    return create_app({**base_config, **PRODUCTION, **changes})


# ---------------------------------------------------------------- development pieces are off

@in_production
def test_the_outbox_is_not_found_in_production_even_without_a_mail_server(app, auth, estate_admin):
    app.config["MAIL_SERVER"] = ""  # startup refuses this; the page must not depend on that check
    auth.login(estate_admin.email)
    assert auth.client.get("/notifications/outbox").status_code == 404
    assert "/notifications/outbox" not in auth.client.get("/notifications/").get_data(as_text=True)


def test_the_outbox_stays_on_in_development_without_a_mail_server(app, auth, estate_admin):
    auth.login(estate_admin.email)
    assert auth.client.get("/notifications/outbox").status_code == 200


@in_production
def test_seed_demo_refuses_in_production_and_creates_nobody(app):
    result = app.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code != 0
    assert "APP_ENV is production" in result.output and "autopay-demo-1" not in result.output
    assert db.session.query(User).count() == 0 and db.session.query(Estate).count() == 0


def test_make_run_refuses_production_and_points_to_the_readme(monkeypatch, capsys):
    monkeypatch.setenv("APP_ENV", "production")

    def no_redis(*_args, **_kwargs):
        raise AssertionError("make run started Redis in production")

    monkeypatch.setattr(devrun, "start_redis", no_redis)
    assert devrun.main() == 2
    assert '"Running in production" in README.md' in capsys.readouterr().err


def test_the_readme_has_the_production_section_make_run_points_to():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme.startswith("# Utility Autopay\n\n```sh\nmake run ")
    section = readme[readme.index("## Running in production"):]
    for needed in ("gunicorn", "flask worker", "flask cron", "DATABASE_URL", "REDIS_URL", "PUBLIC_BASE_URL",
                   "MAIL_SERVER", "TRUSTED_PROXIES", "ENCRYPTION_KEYS", "[Service]"):
        assert needed in section, needed


def test_make_run_refuses_production_as_a_command(tmp_path):
    import subprocess

    env = {**os.environ, "APP_ENV": "production"}
    done = subprocess.run([sys.executable, "-m", "webapp.devrun"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2 and "Running in production" in done.stderr


def test_the_sandbox_refuses_to_start_in_production(monkeypatch, capsys):
    monkeypatch.setenv("APP_ENV", "production")
    assert sandbox_main.main(["--port", "0"]) == 2
    assert "never runs there" in capsys.readouterr().err
    with pytest.raises(sandbox_runner.SandboxInProduction):
        sandbox_runner.start_sandbox()


def test_make_run_does_not_start_the_sandbox_for_a_production_environment():
    spawned = []
    with pytest.raises(sandbox_runner.SandboxInProduction):
        sandbox_runner.start_for_devrun({"APP_ENV": "production"}, [], lambda *args: spawned.append(args))
    assert spawned == []


# ---------------------------------------------------------------- startup checks

def test_production_starts_with_every_required_setting(base_config):
    app = _build(base_config)
    assert app.config["APP_ENV"] == "production"


@pytest.mark.parametrize(("name", "value", "complaint"), [
    ("MAIL_SERVER", "", "MAIL_SERVER is not set"),
    ("PUBLIC_BASE_URL", "", "PUBLIC_BASE_URL is not set"),
    ("PUBLIC_BASE_URL", "http://autopay.example.com", "must be the site's https:// address"),
    ("PUBLIC_BASE_URL", "https://", "must be the site's https:// address"),
])
def test_production_refuses_to_start_without_its_address_or_a_mail_server(base_config, name, value, complaint):
    with pytest.raises(ConfigError, match=complaint):
        _build(base_config, **{name: value})


@pytest.mark.parametrize("weak", [" " * 32, "a" * 40, "abcdefghijklmnop" * 3, "Xy7!" * 10,
                                  "0123456789" + "0" * 30, "short-but-varied-9Qz"],
                         ids=["32 spaces", "a*40", "repeated 16", "repeated 4", "padded", "short"])
@pytest.mark.parametrize("name", ["SECRET_KEY", "LOOKUP_HASH_KEY"])
def test_production_refuses_weak_secrets(base_config, name, weak):
    with pytest.raises(ConfigError, match=name):
        _build(base_config, **{name: weak})


@pytest.mark.parametrize("strong", ["5f0c9e2b7a4d81f36c0b9a7e2d4f6183b5c7e9a0d2f4b6c8e1a3c5e7f9b0d2e4",
                                    "Lm3Qa9Wz2Xs8Ed7Rc1Tf6Yg5Uh4Ij0Ok", "N3v3r-gu3ss-th1s-0ne_Zq8Wk2Xp5Lr7Ty"],
                         ids=["hex", "mixed", "dashed"])
def test_production_accepts_random_looking_secrets(base_config, strong):
    assert _build(base_config, SECRET_KEY=strong).config["SECRET_KEY"] == strong


# ---------------------------------------------------------------- proxies

def _remote_addr_route(app):
    from flask import jsonify, request

    app.add_url_rule("/_probe/client", "probe_client",
                     lambda: jsonify(addr=request.remote_addr, scheme=request.scheme, host=request.host))


FORWARDED = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "pay.example.com"}


@pytest.mark.fresh_app
@pytest.mark.parametrize("config_overrides", [{"TRUSTED_PROXIES": 1}], ids=["one proxy"])
def test_behind_one_trusted_proxy_the_client_address_comes_from_x_forwarded_for(app):
    _remote_addr_route(app)
    client = app.test_client()
    seen = client.get("/_probe/client", headers=FORWARDED, environ_base={"REMOTE_ADDR": "10.0.0.2"}).get_json()
    assert seen == {"addr": "203.0.113.7", "scheme": "https", "host": "pay.example.com"}


@pytest.mark.fresh_app
def test_without_trusted_proxies_forwarded_headers_are_ignored(app):
    _remote_addr_route(app)
    client = app.test_client()
    seen = client.get("/_probe/client", headers=FORWARDED, environ_base={"REMOTE_ADDR": "10.0.0.2"}).get_json()
    assert seen["addr"] == "10.0.0.2" and seen["scheme"] == "http" and seen["host"] == "autopay.test"


# ---------------------------------------------------------------- headers

def test_every_page_has_the_strict_content_security_policy(client):
    policy = client.get("/auth/login").headers["Content-Security-Policy"]
    assert policy == CONTENT_SECURITY_POLICY
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"
    assert "unsafe" not in policy


def _directives(policy: str) -> dict[str, str]:
    return dict(part.strip().split(" ", 1) for part in policy.split(";"))


@pytest.mark.parametrize("config_overrides", [{"PAYSTACK_BASE_URL": "http://127.0.0.1:5999/paystack"}],
                         ids=["local sandbox"])
def test_the_fund_form_may_go_on_to_the_gateways_checkout_and_nothing_else_changes(logged_in):
    fund = _directives(logged_in.get("/wallet/fund").headers["Content-Security-Policy"])
    assert fund.pop("form-action") == "'self' https: http://127.0.0.1:5999"
    strict = _directives(CONTENT_SECURITY_POLICY)
    assert strict.pop("form-action") == "'self'"
    assert fund == strict
    assert _directives(logged_in.get("/wallet/").headers["Content-Security-Policy"])["form-action"] == "'self'"


@pytest.mark.parametrize("config_overrides", [{**PRODUCTION, "PAYSTACK_BASE_URL": "http://paystack.internal"}],
                         ids=["production"])
def test_in_production_the_fund_form_never_goes_on_to_plain_http(logged_in):
    policy = logged_in.get("/wallet/fund").headers["Content-Security-Policy"]
    assert _directives(policy)["form-action"] == "'self' https:"


def test_the_rq_dashboard_alone_is_left_without_the_policy(client, auth):
    admin = factories.make_user(email="root@example.com", role="platform_admin")
    auth.login(admin.email)
    page = client.get("/admin/rq/")
    assert page.status_code == 200 and "Content-Security-Policy" not in page.headers
    assert client.get("/admin/").headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY


def test_the_other_security_headers_are_on_every_response(client):
    headers = client.get("/auth/login").headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["X-Frame-Options"] == "DENY"


def test_hsts_is_not_sent_in_development(client):
    assert "Strict-Transport-Security" not in client.get("/auth/login").headers


@in_production
def test_hsts_is_sent_in_production(client):
    assert client.get("/auth/login").headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_a_signed_in_page_is_never_stored_but_static_files_stay_cacheable(logged_in):
    assert logged_in.get("/").headers["Cache-Control"] == "no-store"
    static = logged_in.get("/static/css/app.css")
    assert static.status_code == 200 and "no-store" not in static.headers.get("Cache-Control", "")


def test_the_sign_in_page_is_never_stored(client):
    assert client.get("/auth/login").headers["Cache-Control"] == "no-store"


# ---------------------------------------------------------------- no inline script or style

class _PageAudit(HTMLParser):
    """Everything in a page that the Content-Security-Policy would block."""

    def __init__(self) -> None:
        super().__init__()
        self.blocked: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "script" and not dict(attrs).get("src"):
            self.blocked.append("inline <script>")
        if tag == "style":
            self.blocked.append("inline <style>")
        for name, value in attrs:
            if name.startswith(("on", "hx-on", "data-hx-on")) or name == "style":
                self.blocked.append(f"<{tag} {name}=...>")
            if value and value.strip().lower().startswith("javascript:"):
                self.blocked.append(f"<{tag} {name}=javascript:...>")
            if name in ("hx-vals", "hx-vars") and value and value.strip().startswith("js:"):
                self.blocked.append(f"<{tag} {name}=js:...>")


def blocked_by_csp(html: str) -> list[str]:
    audit = _PageAudit()
    audit.feed(html)
    return audit.blocked


RESIDENT_PAGES = ["/", "/pay/", "/payments/", "/wallet/", "/wallet/fund", "/accounts/", "/accounts/new",
                  "/notifications/", "/notifications/preferences", "/notifications/outbox", "/automations/",
                  "/automations/new", "/automations/settings", "/automations/upcoming",
                  "/automations/activity", "/bills/", "/auth/password"]
ADMIN_PAGES = ["/admin/", "/admin/payments/", "/admin/catalogue/", "/admin/bills/", "/admin/bills/new",
               "/admin/metrics/", "/admin/audit/", "/admin/reconciliation/"]


def test_signed_out_pages_have_nothing_the_policy_blocks(client):
    for path in ("/auth/login", "/auth/register", "/no-such-page"):
        assert blocked_by_csp(client.get(path).get_data(as_text=True)) == [], path


def test_resident_pages_have_nothing_the_policy_blocks(logged_in, resident, meter):
    paid = make_payment(resident, meter)
    pages = [*RESIDENT_PAGES, f"/payments/{paid.id}", f"/payments/{paid.id}/receipt", f"/pay/{paid.id}"]
    for path in pages:
        response = logged_in.get(path)
        assert response.status_code == 200, path
        assert blocked_by_csp(response.get_data(as_text=True)) == [], path


def test_admin_pages_have_nothing_the_policy_blocks(auth, estate_admin, resident, meter):
    held = make_payment(resident, meter, status="held")
    auth.login(estate_admin.email)
    for path in [*ADMIN_PAGES, f"/admin/payments/{held.id}"]:
        response = auth.client.get(path)
        assert response.status_code == 200, path
        assert blocked_by_csp(response.get_data(as_text=True)) == [], path


def test_htmx_runs_without_eval_or_injected_styles(client):
    html = client.get("/auth/login").get_data(as_text=True)
    assert '"includeIndicatorStyles": false' in html and '"allowEval": false' in html


def test_the_resend_button_shows_refusals_through_a_data_attribute_not_an_inline_handler(logged_in, resident, meter):
    paid = make_payment(resident, meter)
    html = logged_in.get(f"/payments/{paid.id}").get_data(as_text=True)
    assert 'data-swap-errors="400 429"' in html
    script = (ROOT / "static" / "js" / "app.js").read_text(encoding="utf-8")
    assert "htmx:beforeSwap" in script and "data-swap-errors" in script and "data-print" in script


# ---------------------------------------------------------------- bounded redirects

def test_a_huge_query_is_not_echoed_into_the_sign_in_redirect(client):
    response = client.get("/wallet/?filter=" + "x" * 100_000)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert len(location) <= MAX_LOCATION_CHARS
    assert parse_qs(urlsplit(location).query)["next"] == ["/wallet/"]


def test_a_short_query_still_comes_back_after_sign_in(client):
    location = client.get("/wallet/statement?page=2").headers["Location"]
    assert parse_qs(urlsplit(location).query)["next"] == ["/wallet/statement?page=2"]


def test_a_redirect_built_elsewhere_is_bounded_too(client):
    # The RQ dashboard's own guard builds its `next` from the whole query.
    location = client.get("/admin/rq/?q=" + "y" * 5000).headers["Location"]
    assert len(location) <= MAX_LOCATION_CHARS and "next" not in parse_qs(urlsplit(location).query)


def test_bounded_location_drops_a_long_next_then_falls_back_to_the_default():
    assert bounded_location("/auth/login?next=/wallet/", "/") == "/auth/login?next=/wallet/"
    assert bounded_location("/auth/login?next=" + "n" * (MAX_NEXT_CHARS + 1) + "&a=1", "/") == "/auth/login?a=1"
    assert bounded_location("/x?q=" + "q" * MAX_LOCATION_CHARS, "/") == "/"


# ---------------------------------------------------------------- private SQLite file

@pytest.fixture
def loose_umask():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_sqlite_file_and_its_folder_are_created_private(tmp_path, loose_umask, redis_service):
    folder = tmp_path / "instance"
    database = folder / "autopay.db"
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}",
                      "REDIS_URL": redis_service.url})
    assert _mode(folder) == 0o700 and _mode(database) == 0o600
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(text("CREATE TABLE probe (x INTEGER)"))
            conn.execute(text("INSERT INTO probe VALUES (1)"))
            assert _mode(f"{database}-wal") == 0o600  # SQLite copies the database file's mode
        db.engine.dispose()


def test_a_readable_sqlite_file_left_by_an_older_version_is_tightened(tmp_path, loose_umask, redis_service):
    database = tmp_path / "old.db"
    database.touch()
    os.chmod(database, 0o644)
    create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}", "REDIS_URL": redis_service.url})
    assert _mode(database) == 0o600
