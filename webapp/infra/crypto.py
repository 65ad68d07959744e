"""Customer numbers (meter, smartcard, account numbers) at rest: encrypted, hashed for lookup, masked.

Three tools, each for one job:

- ``encrypt``/``decrypt`` (Fernet, AES-128-CBC + HMAC) keep the number readable only to the app.
  ``ENCRYPTION_KEYS`` is a comma-separated list of Fernet keys, newest first: new tokens use the
  first key, any listed key decrypts, ``rotate`` re-encrypts an old token under the newest key.
  Fernet tokens are randomised, so an encrypted column cannot be searched or made unique.
- ``lookup_hash`` is a keyed HMAC-SHA256 of the normalised number. Store it beside the encrypted
  column for "does this estate already have meter X" lookups and unique constraints. Its key is
  deliberately NOT an encryption key: rotating ``ENCRYPTION_KEYS`` must not change any stored hash.
  It comes from ``LOOKUP_HASH_KEY`` when set, else is derived from ``SECRET_KEY`` with HKDF (so a
  deployment works with the secrets it already has). Changing the lookup key invalidates every
  stored hash, so set ``LOOKUP_HASH_KEY`` explicitly before ever rotating ``SECRET_KEY``.
- ``mask`` is what people see: ``•••• 4521``.

The column type that encrypts on the way in and decrypts on the way out is
``webapp.models.base.EncryptedString``.
"""
from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

from webapp.config import ConfigError

MASK = "••••"
# Versioned so a future change of derivation can live beside this one during a migration.
_LOOKUP_HKDF_INFO = b"utility-autopay/lookup-hash/v1"
_SEPARATORS = re.compile(r"[\s\-./]+")


class EncryptionConfigError(ConfigError):
    """ENCRYPTION_KEYS (or the lookup-hash key) cannot be used."""


class DecryptionError(ValueError):
    """A token that none of the configured keys can open (wrong key, key removed, or tampered)."""


def _config(config: Mapping | None) -> Mapping:
    return current_app.config if config is None else config


@lru_cache(maxsize=8)
def _multifernet(keys: str) -> MultiFernet:
    """One MultiFernet per distinct key list; building Fernet objects per call is wasted work."""
    parts = [part.strip() for part in keys.split(",") if part.strip()]
    if not parts:
        raise EncryptionConfigError(
            "ENCRYPTION_KEYS is empty; set it to one or more Fernet keys, comma-separated, newest first "
            "(generate one with: python -c \"from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())\")."
        )
    fernets = []
    for position, key in enumerate(parts, start=1):
        try:
            fernets.append(Fernet(key))
        except (ValueError, TypeError) as exc:
            # Name the position, never the key itself: this message may reach a log.
            raise EncryptionConfigError(
                f"ENCRYPTION_KEYS entry {position} of {len(parts)} is not a valid Fernet key "
                "(it must be 32 bytes encoded as URL-safe base64, 44 characters)."
            ) from exc
    return MultiFernet(fernets)


def cipher(config: Mapping | None = None) -> MultiFernet:
    """The MultiFernet for the configured ``ENCRYPTION_KEYS`` (cached per key list)."""
    return _multifernet(str(_config(config).get("ENCRYPTION_KEYS") or ""))


def encrypt(plaintext: str, config: Mapping | None = None) -> str:
    """Encrypt under the newest key. The result differs on every call, even for the same input."""
    return cipher(config).encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt(token: str, config: Mapping | None = None) -> str:
    """Decrypt with whichever configured key made ``token``; ``DecryptionError`` if none did."""
    try:
        return cipher(config).decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeEncodeError) as exc:
        raise DecryptionError(
            "cannot decrypt a stored value: none of the keys in ENCRYPTION_KEYS opens it (was the key "
            "that encrypted it removed before its values were rotated?) or the value was altered"
        ) from exc


def rotate(token: str, config: Mapping | None = None) -> str:
    """Re-encrypt ``token`` under the newest key, so older keys can later be retired."""
    try:
        return cipher(config).rotate(token.encode("ascii")).decode("ascii")
    except (InvalidToken, UnicodeEncodeError) as exc:
        raise DecryptionError(
            "cannot rotate a stored value: none of the keys in ENCRYPTION_KEYS opens it"
        ) from exc


def normalise_number(value: str) -> str:
    """The canonical form of a customer number: no spaces, dashes, dots or slashes; upper case.

    "0123 4567-89" and "0123456789" are the same meter, so they must hash the same. Leading
    zeros are kept: they are part of the number.
    """
    return _SEPARATORS.sub("", value or "").upper()


@lru_cache(maxsize=8)
def _derived_lookup_key(explicit: str, secret_key: str) -> bytes:
    if explicit:
        return explicit.encode("utf-8")
    if not secret_key:
        raise EncryptionConfigError("LOOKUP_HASH_KEY and SECRET_KEY are both empty; set one of them.")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_LOOKUP_HKDF_INFO).derive(
        secret_key.encode("utf-8")
    )


def lookup_key(config: Mapping | None = None) -> bytes:
    """The HMAC key for ``lookup_hash``: ``LOOKUP_HASH_KEY`` if set, else HKDF(SECRET_KEY)."""
    cfg = _config(config)
    return _derived_lookup_key(str(cfg.get("LOOKUP_HASH_KEY") or ""), str(cfg.get("SECRET_KEY") or ""))


def lookup_hash(value: str, config: Mapping | None = None) -> str:
    """Keyed HMAC-SHA256 (64 hex characters) of the normalised number, for lookups and uniqueness.

    Keyed, because customer numbers are short and guessable: a plain hash could be reversed by
    trying every 11-digit meter number.
    """
    normalised = normalise_number(value)
    if not normalised:
        raise ValueError("cannot hash an empty customer number")
    return hmac.new(lookup_key(config), normalised.encode("utf-8"), hashlib.sha256).hexdigest()


def mask(number: str | None) -> str:
    """Show only the last four characters: ``"•••• 4521"``. Four or fewer show nothing."""
    normalised = normalise_number(number or "")
    if not normalised:
        return ""
    if len(normalised) <= 4:
        return MASK
    return f"{MASK} {normalised[-4:]}"
