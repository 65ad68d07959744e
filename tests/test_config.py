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


def test_production_starts_with_real_secrets(monkeypatch, tmp_path):
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", STRONG_SECRET)
    monkeypatch.setenv("ENCRYPTION_KEYS", STRONG_KEYS)
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'prod.db'}"})
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_port_and_database_url_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("PORT", "8123")
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@localhost/autopay")
    app = create_app()
    assert app.config["PORT"] == 8123
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u:p@localhost/autopay"
