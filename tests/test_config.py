import pytest

from webapp import create_app
from webapp.config import DEV_ENCRYPTION_KEY, DEV_SECRET_KEY, ConfigError, secret_problem

STRONG_SECRET = "q8Vt2xLr0Zk9mWc4Ny7Hb1Sd6Gf3Jp5Ae0Ru8Ko2Xi4"
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
    _production(monkeypatch)
    for name, value in (("SECRET_KEY", secret), ("ENCRYPTION_KEYS", keys)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=named):
        create_app()


LIVE_URLS = {"FLUTTERWAVE_BASE_URL": "https://api.flutterwave.com/v3", "VTPASS_BASE_URL": "https://vtpass.com/api",
             "PAYSTACK_BASE_URL": "https://api.paystack.co"}
# Production also needs its own address and a real mail server.
SITE = {"PUBLIC_BASE_URL": "https://autopay.example.com", "MAIL_SERVER": "smtp.example.com"}


def _production(monkeypatch, **urls):
    """Production settings in the environment; ``urls`` changes (None removes) a provider URL,
    PUBLIC_BASE_URL or MAIL_SERVER."""
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", STRONG_SECRET)
    monkeypatch.setenv("ENCRYPTION_KEYS", STRONG_KEYS)
    monkeypatch.delenv("LOOKUP_HASH_KEY", raising=False)
    for name, value in {**LIVE_URLS, **SITE, **urls}.items():
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


@pytest.mark.parametrize("name", ["PUBLIC_BASE_URL", "MAIL_SERVER"])
def test_production_needs_its_address_and_a_mail_server(monkeypatch, tmp_path, name):
    _production(monkeypatch, **{name: None})
    with pytest.raises(ConfigError, match=f"{name} is not set"):
        create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'prod.db'}"})


def test_production_refuses_a_weak_secret_key_from_the_environment(monkeypatch, tmp_path):
    _production(monkeypatch)
    monkeypatch.setenv("SECRET_KEY", " " * 32)
    with pytest.raises(ConfigError, match="SECRET_KEY has fewer than 10 distinct characters"):
        create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'prod.db'}"})


@pytest.mark.parametrize(("value", "problem"), [
    ("Zq8" * 10, "shorter than 32"),
    (" " * 32, "fewer than 10 distinct"),
    ("a" * 40, "fewer than 10 distinct"),
    ("0123456789abcdef" * 2, "repeats a pattern"),
    ("0123456789abcdefghij" * 2, "repeats a pattern"),
    ("abcdefghij" + "z" * 30, "too predictable"),
])
def test_weak_secrets_are_named_for_what_is_wrong(value, problem):
    assert problem in (secret_problem(value) or "")


def test_random_secrets_of_the_usual_shapes_pass():
    import secrets

    for _ in range(200):  # the shapes the README and Flask's docs suggest
        assert secret_problem(secrets.token_urlsafe(48)) is None
        assert secret_problem(secrets.token_hex(32)) is None


def test_trusted_proxies_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("TRUSTED_PROXIES", "2")
    assert create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"}).config["TRUSTED_PROXIES"] == 2


@pytest.mark.parametrize("raw", ["-1", "one"])
def test_trusted_proxies_must_be_a_count(monkeypatch, raw):
    monkeypatch.setenv("TRUSTED_PROXIES", raw)
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES"):
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})


def test_the_requery_and_token_schedules_come_from_the_environment_or_the_policy_tables(monkeypatch, tmp_path):
    from datetime import timedelta

    from webapp.services import policy

    url = {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'dev.db'}"}
    with create_app(url).app_context():
        assert [policy.requery_delay(n) for n in (0, 1, 9)] == [timedelta(seconds=s) for s in (60, 300, 86400)]
        assert policy.token_check_delay(0) == timedelta(seconds=120)
    monkeypatch.setenv("PAYMENT_REQUERY_BACKOFF_SECONDS", "15,30")
    monkeypatch.setenv("TOKEN_BACKOFF_SECONDS", "20")
    with create_app(url).app_context():
        assert [policy.requery_delay(n) for n in (0, 1, 9)] == [timedelta(seconds=s) for s in (15, 30, 30)]
        assert policy.token_check_delay(3) == timedelta(seconds=20)
