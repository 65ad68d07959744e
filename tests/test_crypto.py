"""Customer numbers at rest: encryption with key rotation, keyed lookup hashes, masking."""
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Column, Integer, MetaData, Table, insert, select, text

from webapp import create_app
from webapp.config import ConfigError
from webapp.extensions import db
from webapp.infra import crypto
from webapp.models.base import EncryptedString

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()
METER = "45012345678"


def keys(*fernet_keys: str, **extra) -> dict:
    return {"ENCRYPTION_KEYS": ",".join(fernet_keys), "SECRET_KEY": "s" * 40, **extra}


# --- encryption -------------------------------------------------------------------------------

def test_round_trip_returns_the_plaintext():
    config = keys(NEW_KEY)
    assert crypto.decrypt(crypto.encrypt(METER, config), config) == METER


def test_ciphertext_does_not_contain_the_number_and_differs_each_time():
    config = keys(NEW_KEY)
    first, second = crypto.encrypt(METER, config), crypto.encrypt(METER, config)
    assert METER not in first
    assert first != second


def test_token_from_an_older_key_still_decrypts_after_a_new_key_is_added():
    token = crypto.encrypt(METER, keys(OLD_KEY))
    assert crypto.decrypt(token, keys(NEW_KEY, OLD_KEY)) == METER


def test_new_tokens_use_the_first_listed_key():
    token = crypto.encrypt(METER, keys(NEW_KEY, OLD_KEY))
    assert crypto.decrypt(token, keys(NEW_KEY)) == METER
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(token, keys(OLD_KEY))


def test_rotate_re_encrypts_under_the_newest_key():
    old_token = crypto.encrypt(METER, keys(OLD_KEY))
    rotated = crypto.rotate(old_token, keys(NEW_KEY, OLD_KEY))
    # Once rotated, the old key can be retired and the value still opens.
    assert crypto.decrypt(rotated, keys(NEW_KEY)) == METER


def test_a_removed_key_fails_with_a_clear_error():
    token = crypto.encrypt(METER, keys(OLD_KEY))
    with pytest.raises(crypto.DecryptionError, match="none of the keys in ENCRYPTION_KEYS"):
        crypto.decrypt(token, keys(NEW_KEY))


def test_a_tampered_token_is_refused():
    token = crypto.encrypt(METER, keys(NEW_KEY))
    tampered = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(tampered, keys(NEW_KEY))


def test_the_cipher_is_built_once_per_key_set():
    assert crypto.cipher(keys(NEW_KEY, OLD_KEY)) is crypto.cipher(keys(NEW_KEY, OLD_KEY))
    assert crypto.cipher(keys(NEW_KEY)) is not crypto.cipher(keys(OLD_KEY))


@pytest.mark.parametrize(
    ("configured", "message"),
    [
        ("", "ENCRYPTION_KEYS is empty"),
        (" , ", "ENCRYPTION_KEYS is empty"),
        ("not-a-key", "entry 1 of 1 is not a valid Fernet key"),
        (f"{NEW_KEY},short", "entry 2 of 2 is not a valid Fernet key"),
    ],
    ids=["empty", "only-separators", "not-a-key", "second-too-short"],  # NEW_KEY differs per process
)
def test_invalid_key_configuration_is_a_config_error_naming_the_problem(configured, message):
    with pytest.raises(ConfigError, match=message):
        crypto.encrypt(METER, {"ENCRYPTION_KEYS": configured})


def test_the_config_error_never_echoes_the_bad_key():
    secret_looking = "this-is-my-secret-key-material"
    with pytest.raises(crypto.EncryptionConfigError) as caught:
        crypto.encrypt(METER, {"ENCRYPTION_KEYS": secret_looking})
    assert secret_looking not in str(caught.value)


# --- lookup hash ------------------------------------------------------------------------------

def test_lookup_hash_is_stable_hex_sha256():
    config = keys(NEW_KEY)
    digest = crypto.lookup_hash(METER, config)
    assert digest == crypto.lookup_hash(METER, config)
    assert len(digest) == 64 and int(digest, 16) >= 0


def test_lookup_hash_ignores_spacing_and_dashes():
    config = keys(NEW_KEY)
    assert crypto.lookup_hash("450 1234-5678", config) == crypto.lookup_hash("45012345678", config)


def test_lookup_hash_keeps_leading_zeros_significant():
    config = keys(NEW_KEY)
    assert crypto.lookup_hash("0123456789", config) != crypto.lookup_hash("123456789", config)


def test_lookup_hash_does_not_change_when_encryption_keys_rotate():
    assert crypto.lookup_hash(METER, keys(OLD_KEY)) == crypto.lookup_hash(METER, keys(NEW_KEY, OLD_KEY))


def test_lookup_hash_depends_on_the_secret_key_when_no_lookup_key_is_set():
    a = crypto.lookup_hash(METER, {"SECRET_KEY": "a" * 40})
    b = crypto.lookup_hash(METER, {"SECRET_KEY": "b" * 40})
    assert a != b


def test_lookup_hash_uses_the_dedicated_key_when_set():
    with_key = {"SECRET_KEY": "a" * 40, "LOOKUP_HASH_KEY": "L" * 40}
    other_secret = {"SECRET_KEY": "b" * 40, "LOOKUP_HASH_KEY": "L" * 40}
    other_key = {"SECRET_KEY": "a" * 40, "LOOKUP_HASH_KEY": "M" * 40}
    assert crypto.lookup_hash(METER, with_key) == crypto.lookup_hash(METER, other_secret)
    assert crypto.lookup_hash(METER, with_key) != crypto.lookup_hash(METER, other_key)


def test_lookup_hash_is_keyed_not_a_plain_hash():
    import hashlib

    assert crypto.lookup_hash(METER, keys(NEW_KEY)) != hashlib.sha256(METER.encode()).hexdigest()


def test_lookup_hash_refuses_an_empty_number():
    with pytest.raises(ValueError, match="empty"):
        crypto.lookup_hash(" - ", keys(NEW_KEY))


# --- masking ----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("number", "shown"),
    [
        ("45012344521", "•••• 4521"),
        ("4501 2344 521", "•••• 4521"),
        ("7027914329", "•••• 4329"),
        ("12345", "•••• 2345"),
        ("1234", "••••"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_shows_only_the_last_four(number, shown):
    assert crypto.mask(number) == shown


# --- the column type --------------------------------------------------------------------------

@pytest.fixture
def probe_table(app):
    table = Table(
        "crypto_probe", MetaData(),
        Column("id", Integer, primary_key=True),
        Column("number", EncryptedString()),
    )
    table.create(db.engine)
    yield table
    table.drop(db.engine)


def test_encrypted_column_stores_ciphertext_and_loads_plaintext(probe_table):
    with db.engine.begin() as conn:
        conn.execute(insert(probe_table).values(id=1, number=METER))
        conn.execute(insert(probe_table).values(id=2, number=None))
    with db.engine.connect() as conn:
        raw = dict(conn.execute(text("SELECT id, number FROM crypto_probe")).all())
        loaded = dict(conn.execute(select(probe_table.c.id, probe_table.c.number)).all())
    assert METER not in raw[1] and crypto.decrypt(raw[1]) == METER
    assert loaded == {1: METER, 2: None}


# --- production settings ----------------------------------------------------------------------

STRONG_SECRET = "q8Vt2xLr0Zk9mWc4Ny7Hb1Sd6Gf3Jp5Ae0Ru8Ko2Xi4"
STRONG_LOOKUP_KEY = "Lm3Qa9Wz2Xs8Ed7Rc1Tf6Yg5Uh4Ij0Ok"

@pytest.fixture
def production_env(monkeypatch, tmp_path):
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", STRONG_SECRET)
    monkeypatch.setenv("ENCRYPTION_KEYS", NEW_KEY)
    monkeypatch.delenv("LOOKUP_HASH_KEY", raising=False)
    for name, value in {"FLUTTERWAVE_BASE_URL": "https://api.flutterwave.com/v3", "VTPASS_BASE_URL": "https://vtpass.com/api",
                        "PAYSTACK_BASE_URL": "https://api.paystack.co", "PUBLIC_BASE_URL": "https://autopay.example.com",
                        "MAIL_SERVER": "smtp.example.com"}.items():
        monkeypatch.setenv(name, value)
    return {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'prod.db'}"}


def test_production_may_derive_the_lookup_key_from_a_strong_secret_key(production_env):
    assert create_app(production_env).config["LOOKUP_HASH_KEY"] == ""


@pytest.mark.parametrize("lookup_key", ["too-short", STRONG_SECRET])
def test_production_refuses_a_weak_or_reused_lookup_key(production_env, monkeypatch, lookup_key):
    monkeypatch.setenv("LOOKUP_HASH_KEY", lookup_key)
    with pytest.raises(ConfigError, match="LOOKUP_HASH_KEY"):
        create_app(production_env)


def test_production_accepts_a_strong_dedicated_lookup_key(production_env, monkeypatch):
    monkeypatch.setenv("LOOKUP_HASH_KEY", STRONG_LOOKUP_KEY)
    assert create_app(production_env).config["LOOKUP_HASH_KEY"] == STRONG_LOOKUP_KEY
