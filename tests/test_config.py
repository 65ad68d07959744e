import pytest

from webapp import create_app
from webapp.config import DEV_ENCRYPTION_KEY, DEV_SECRET_KEY, ConfigError

STRONG_SECRET = "s" * 48
STRONG_KEYS = "q0mVfBvEDm3bJh6oQ8nF2Xg3GZr1xI0lWgK7uTzA9sY="


def test_development_starts_with_defaults(monkeypatch, tmp_path):
    for name in ("APP_ENV", "SECRET_KEY", "ENCRYPTION_KEYS"):
        monkeypatch.delenv(name, raising=False)
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'dev.db'}"})
    assert app.config["SECRET_KEY"] == DEV_SECRET_KEY
    assert app.config["PORT"] == 5000


@pytest.mark.parametrize(
    ("secret", "keys", "named"),
    [
        (None, STRONG_KEYS, "SECRET_KEY"),
        (DEV_SECRET_KEY, STRONG_KEYS, "SECRET_KEY"),
        (STRONG_SECRET, None, "ENCRYPTION_KEYS"),
        (STRONG_SECRET, DEV_ENCRYPTION_KEY, "ENCRYPTION_KEYS"),
    ],
)
def test_production_refuses_default_or_missing_secrets(monkeypatch, secret, keys, named):
    monkeypatch.setenv("APP_ENV", "production")
    for name, value in (("SECRET_KEY", secret), ("ENCRYPTION_KEYS", keys)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=named):
        create_app()


LIVE_URLS = {"FLUTTERWAVE_BASE_URL": "https://api.flutterwave.com/v3", "VTPASS_BASE_URL": "https://vtpass.com/api",
             "PAYSTACK_BASE_URL": "https://api.paystack.co"}


def _production(monkeypatch, **urls):
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", STRONG_SECRET)
    monkeypatch.setenv("ENCRYPTION_KEYS", STRONG_KEYS)
    for name, value in {**LIVE_URLS, **urls}.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)


def test_production_starts_with_real_secrets(monkeypatch, tmp_path):
    _production(monkeypatch)
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'prod.db'}"})
    assert app.config["SESSION_COOKIE_SECURE"] is True


@pytest.mark.parametrize("name", sorted(LIVE_URLS))
def test_production_needs_every_provider_url_set_explicitly(monkeypatch, tmp_path, name):
    _production(monkeypatch, **{name: None})
    with pytest.raises(ConfigError, match=f"{name} is not set"):
        create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'prod.db'}"})


def test_production_refuses_the_vtpass_sandbox(monkeypatch, tmp_path):
    _production(monkeypatch, VTPASS_BASE_URL="https://sandbox.vtpass.com/api")
    with pytest.raises(ConfigError, match="VTPASS_BASE_URL points at a sandbox"):
        create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'prod.db'}"})


@pytest.mark.parametrize(("key", "value", "url_name"), [
    ("FLUTTERWAVE_SECRET_KEY", "FLWSECK-0123456789abcdef-X", "FLUTTERWAVE_BASE_URL"),
    ("PAYSTACK_SECRET_KEY", "sk_live_0123456789abcdef", "PAYSTACK_BASE_URL"),
])
def test_live_looking_keys_never_go_to_a_sandbox_url(monkeypatch, tmp_path, key, value, url_name):
    monkeypatch.delenv("APP_ENV", raising=False)
    monkeypatch.setenv(key, value)
    monkeypatch.setenv(url_name, "http://127.0.0.1:5001/sandbox")
    with pytest.raises(ConfigError, match=f"{key} looks like a live key"):
        create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'dev.db'}"})


def test_test_keys_may_use_a_sandbox_url(monkeypatch, tmp_path):
    monkeypatch.delenv("APP_ENV", raising=False)
    monkeypatch.setenv("FLUTTERWAVE_SECRET_KEY", "FLWSECK_TEST-0123456789abcdef-X")
    monkeypatch.setenv("FLUTTERWAVE_BASE_URL", "http://127.0.0.1:5001/flutterwave/v3")
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'dev.db'}"})
    assert app.config["FLUTTERWAVE_BASE_URL"].startswith("http://127.0.0.1")


def test_port_and_database_url_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("PORT", "8123")
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@localhost/autopay")
    app = create_app()
    assert app.config["PORT"] == 8123
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u:p@localhost/autopay"
