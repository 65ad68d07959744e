"""Settings read from the environment.

One name per fact. Development runs with safe-to-print defaults; production refuses to start
without real secrets (see ``check_production``).
"""
from __future__ import annotations

import math
import os
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = ROOT / "instance"

# Development defaults. They are public, so production must never run on them.
DEV_SECRET_KEY = "dev-insecure-secret-key-change-me"
# A valid Fernet key (urlsafe base64 of 32 bytes), public and therefore development-only.
DEV_ENCRYPTION_KEY = "ZGV2LWluc2VjdXJlLWVuY3J5cHRpb24ta2V5LTMyYnk="


class ConfigError(RuntimeError):
    """The app cannot start with the settings it was given."""


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc


def _non_negative_int(name: str, default: int) -> int:
    value = _int(name, default)
    if value < 0:
        raise ConfigError(f"{name} must be 0 or more, got {value}")
    return value


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from exc


def _int_list(name: str, default: list[int] | None) -> list[int] | None:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        return [int(part) for part in raw.split(",") if part.strip()]
    except ValueError as exc:
        raise ConfigError(f"{name} must be comma-separated integers, got {raw!r}") from exc


def _pause_points(raw: str) -> dict[str, float]:
    points = {}
    for part in filter(None, (p.strip() for p in raw.split(","))):
        name, _, seconds = part.partition("=")
        try:
            points[name] = float(seconds)
        except ValueError as exc:
            raise ConfigError(f"PAYMENT_PAUSE_POINTS: {part!r} is not name=seconds") from exc
    return points


def normalise_database_url(url: str) -> str:
    """Accept the common ``postgres://`` spellings and use the psycopg 3 driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def from_env() -> dict:
    """Build the config mapping from environment variables."""
    app_env = os.environ.get("APP_ENV", "development")
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{INSTANCE_DIR / 'autopay.db'}"
    redis_url = os.environ.get("REDIS_URL", "")
    return {
        "APP_ENV": app_env,
        "SECRET_KEY": os.environ.get("SECRET_KEY", DEV_SECRET_KEY),
        "ENCRYPTION_KEYS": os.environ.get("ENCRYPTION_KEYS", DEV_ENCRYPTION_KEY),
        # Key for the lookup hashes of customer numbers; empty = derived from SECRET_KEY (see crypto).
        "LOOKUP_HASH_KEY": os.environ.get("LOOKUP_HASH_KEY", ""),
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(database_url),
        "REDIS_URL": redis_url,
        "PORT": _int("PORT", 5000),
        # The site's own address (https://...), the base of every URL sent out (gateway callbacks,
        # links in emails). Required in production: never the Host header of a request.
        "PUBLIC_BASE_URL": os.environ.get("PUBLIC_BASE_URL", ""),
        # Reverse proxies in front of the app whose X-Forwarded-For/-Proto/-Host are believed
        # (werkzeug ProxyFix); 0 = none, the app faces clients directly.
        "TRUSTED_PROXIES": _non_negative_int("TRUSTED_PROXIES", 0),
        # Rate limits (Flask-Limiter syntax).
        "RATELIMIT_STORAGE_URI": redis_url or "memory://",
        "RATELIMIT_HEADERS_ENABLED": True,
        # Redis away: rate limits fall back to each process's memory instead of failing the
        # request (Flask-Limiter's documented fallback); a payment form still answers.
        "RATELIMIT_SWALLOW_ERRORS": True,
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "LOGIN_RATE_LIMIT": os.environ.get("LOGIN_RATE_LIMIT", "10 per minute"),
        # Failed sign-ins per email address (any client). Past it even the right password waits for
        # the window to end: slowed, never locked, since the window expires by itself.
        "LOGIN_ACCOUNT_RATE_LIMIT": os.environ.get("LOGIN_ACCOUNT_RATE_LIMIT", "5 per 15 minutes"),
        # Sign-up attempts per client address; invite codes are only checked inside it.
        "REGISTER_RATE_LIMIT": os.environ.get("REGISTER_RATE_LIMIT", "5 per hour"),
        # Sessions (services/sessions): idle and absolute lifetime of a sign-in.
        "SESSION_IDLE_MINUTES": _int("SESSION_IDLE_MINUTES", 30),
        "SESSION_MAX_HOURS": _int("SESSION_MAX_HOURS", 12),
        # How long the link in a sign-up confirmation email works.
        "SIGNUP_CONFIRM_HOURS": _int("SIGNUP_CONFIRM_HOURS", 24),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": app_env == "production",
        "REMEMBER_COOKIE_SECURE": app_env == "production",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "WTF_CSRF_TIME_LIMIT": None,
        # Providers: with a base URL set, the clients talk to it as to the real provider.
        # In production the base URLs have no default: they must be set (check_production).
        "FLUTTERWAVE_BASE_URL": os.environ.get(
            "FLUTTERWAVE_BASE_URL", "" if app_env == "production" else "https://api.flutterwave.com/v3"),
        "FLUTTERWAVE_SECRET_KEY": os.environ.get("FLUTTERWAVE_SECRET_KEY", ""),
        "FLUTTERWAVE_SECRET_HASH": os.environ.get("FLUTTERWAVE_SECRET_HASH", ""),
        # A bill missing from Flutterwave's listing only counts as "no record" this long after it
        # was sent (its records may lag; see providers/flutterwave).
        "FLUTTERWAVE_RECORD_LAG_SECONDS": _float("FLUTTERWAVE_RECORD_LAG_SECONDS", 600.0),
        "VTPASS_BASE_URL": os.environ.get(
            "VTPASS_BASE_URL", "" if app_env == "production" else "https://sandbox.vtpass.com/api"),
        "VTPASS_API_KEY": os.environ.get("VTPASS_API_KEY", ""),
        "VTPASS_PUBLIC_KEY": os.environ.get("VTPASS_PUBLIC_KEY", ""),
        "VTPASS_SECRET_KEY": os.environ.get("VTPASS_SECRET_KEY", ""),
        "PAYSTACK_BASE_URL": os.environ.get(
            "PAYSTACK_BASE_URL", "" if app_env == "production" else "https://api.paystack.co"),
        "PAYSTACK_SECRET_KEY": os.environ.get("PAYSTACK_SECRET_KEY", ""),
        # SMS through Termii (providers/termii.py). Without TERMII_API_KEY no SMS leaves: messages
        # wait in the outbox. BASE_URL is the account's own API host (Termii's docs write
        # https://BASE_URL/api/sms/send; Nigerian accounts' is api.ng.termii.com). SENDER_ID must be
        # registered with Termii (3-11 characters). CHANNEL "dnd" is Termii's transactional route,
        # which it recommends for messages like ours (generic does not reach DND numbers).
        # WEBHOOK_SECRET is the secret key Termii signs delivery reports with (X-Termii-Signature).
        "TERMII_BASE_URL": os.environ.get(
            "TERMII_BASE_URL", "" if app_env == "production" else "https://api.ng.termii.com"),
        "TERMII_API_KEY": os.environ.get("TERMII_API_KEY", ""),
        "TERMII_SENDER_ID": os.environ.get("TERMII_SENDER_ID", "Autopay"),
        "TERMII_CHANNEL": os.environ.get("TERMII_CHANNEL", "dnd"),
        "TERMII_WEBHOOK_SECRET": os.environ.get("TERMII_WEBHOOK_SECRET", ""),
        "SMS_CONNECT_TIMEOUT": _float("SMS_CONNECT_TIMEOUT", 5.0),
        "SMS_READ_TIMEOUT": _float("SMS_READ_TIMEOUT", 15.0),
        "SMS_MAX_ATTEMPTS": _int("SMS_MAX_ATTEMPTS", 5),
        "PROVIDER_CONNECT_TIMEOUT": _float("PROVIDER_CONNECT_TIMEOUT", 5.0),
        "PROVIDER_READ_TIMEOUT": _float("PROVIDER_READ_TIMEOUT", 35.0),
        # Payment calls in flight per bills provider, across all workers (0 = no cap; see services/throttle),
        # and how long a payment waits for a free slot before it is retried later.
        "PROVIDER_MAX_CONCURRENCY": _int("PROVIDER_MAX_CONCURRENCY", 8),
        "PROVIDER_SLOT_WAIT_SECONDS": _float("PROVIDER_SLOT_WAIT_SECONDS", 30.0),
        # Wallet funding bounds in kobo (₦100 to ₦1,000,000 by default).
        "FUNDING_MIN_KOBO": _int("FUNDING_MIN_KOBO", 100_00),
        "FUNDING_MAX_KOBO": _int("FUNDING_MAX_KOBO", 1_000_000_00),
        "FUNDING_INTENT_TTL_MINUTES": _int("FUNDING_INTENT_TTL_MINUTES", 60),
        # The bank of residents' Paystack dedicated accounts (a provider slug: "test-bank" in test
        # mode, "wema-bank" or "titan-paystack" live, per Paystack's Dedicated Virtual Account API).
        # The local provider sandbox, when the app runs against it (``make run`` sets it; never in production).
        "SANDBOX_URL": os.environ.get("SANDBOX_URL", ""),
        "PAYSTACK_DVA_BANK": os.environ.get("PAYSTACK_DVA_BANK", "wema-bank" if app_env == "production"
                                            else "test-bank"),
        "WEBHOOK_RATE_LIMIT": os.environ.get("WEBHOOK_RATE_LIMIT", "120 per minute"),
        "WEBHOOK_MAX_BYTES": _int("WEBHOOK_MAX_BYTES", 65536),
        # Payments (DESIGN §4).
        "PAYMENT_STALE_AFTER_SECONDS": _int("PAYMENT_STALE_AFTER_SECONDS", 120),
        # A sent payment's lease (services/payments/leases): its worker renews it every third while
        # the call is out; once the worker is gone the relay has the provider asked within this long.
        "PAYMENT_SUBMIT_LEASE_SECONDS": _int("PAYMENT_SUBMIT_LEASE_SECONDS", 30),
        "PAYMENT_MAX_PURCHASE_ATTEMPTS": _int("PAYMENT_MAX_PURCHASE_ATTEMPTS", 4),
        "PAYMENT_RETRY_BASE_SECONDS": _float("PAYMENT_RETRY_BASE_SECONDS", 10.0),
        "PAYMENT_RETRY_MAX_SECONDS": _float("PAYMENT_RETRY_MAX_SECONDS", 300.0),
        # Delays (seconds) at which RQ re-runs a purchase job that raised; unset: services/policy.py.
        "PAYMENT_RQ_RETRY_INTERVALS": _int_list("PAYMENT_RQ_RETRY_INTERVALS", None),
        # The requery and late-token schedules (seconds, the last step repeating); unset: the
        # tables of services/policy.py. `make run` with the sandbox sets short ones.
        "PAYMENT_REQUERY_BACKOFF_SECONDS": _int_list("PAYMENT_REQUERY_BACKOFF_SECONDS", None),
        "TOKEN_BACKOFF_SECONDS": _int_list("TOKEN_BACKOFF_SECONDS", None),
        "PAYMENT_JOB_TIMEOUT_SECONDS": _int("PAYMENT_JOB_TIMEOUT_SECONDS", 180),
        # Payments bought together by one job (DESIGN §9): how many per job, and how many of a
        # batch's purchase calls are in flight at once (the provider cap still bounds all workers).
        "PAYMENT_BATCH_SIZE": _int("PAYMENT_BATCH_SIZE", 32),
        "PAYMENT_BATCH_CONCURRENCY": _int("PAYMENT_BATCH_CONCURRENCY", 32),
        "JANITOR_INTERVAL_SECONDS": _int("JANITOR_INTERVAL_SECONDS", 60),
        # How often a worker runs RQ's maintenance, which is also when it tries to take over the
        # scheduler (the mover of jobs enqueued for later: a status check's retry, RQ's retries).
        # The lock of a scheduler whose worker was killed -9 lapses after 61 s; with RQ's defaults
        # (maintenance every 10 minutes, an idle worker waking every 405 s) scheduled jobs then
        # waited up to 10 minutes. A worker's registration also lapses this + 15 s after a kill.
        "WORKER_MAINTENANCE_SECONDS": _int("WORKER_MAINTENANCE_SECONDS", 30),
        # How many of a janitor pass's status checks (unknown, taken over, late tokens) are out at
        # once; each still waits for one of its provider's slots.
        "JANITOR_CONCURRENCY": _int("JANITOR_CONCURRENCY", 16),
        # A committed payment whose job was lost (Redis away at the enqueue, a restart, FLUSHALL)
        # is enqueued again by the relay (every 10 s) once it is this old and its job is gone.
        "PAYMENT_RELAY_AFTER_SECONDS": _int("PAYMENT_RELAY_AFTER_SECONDS", 10),
        # An unknown payment whose provider has given no answer at all for this long (timeouts,
        # 5xx): the estate's admins are alerted once and the resident told what is happening.
        "PAYMENT_ALERT_AFTER_SECONDS": _int("PAYMENT_ALERT_AFTER_SECONDS", 3600),
        # A payment still unknown this long after it was sent, answered or not: one more alert.
        "PAYMENT_UNRESOLVED_ALERT_AFTER_SECONDS": _int("PAYMENT_UNRESOLVED_ALERT_AFTER_SECONDS", 86400),
        # Prepaid purchases that succeeded without a token: admins are alerted once after this
        # long, and the janitor stops asking after TOKEN_GIVE_UP_SECONDS.
        "TOKEN_ALERT_AFTER_SECONDS": _int("TOKEN_ALERT_AFTER_SECONDS", 86400),
        "TOKEN_GIVE_UP_SECONDS": _int("TOKEN_GIVE_UP_SECONDS", 14 * 86400),
        # A token neither loaded nor marked used this many days after it came gets a warning in
        # the token vault. No provider or DisCo publishes a validity period for a credit token
        # (VTpass and Flutterwave document none), but one bought long ago may be refused once the
        # meter's keys change or its tariff moves, so 90 days is our own default, not theirs.
        "TOKEN_VALIDITY_DAYS": _int("TOKEN_VALIDITY_DAYS", 90),
        # Payouts from an estate wallet to the estate's bank account (services/payouts): bounds in
        # kobo, how long a request waits for its second admin, how long a sent transfer may go
        # unanswered before the janitor asks the gateway, how often one reference may be sent after
        # the gateway said it had no record of it, and when an unresolved payout alerts the admins.
        "PAYOUT_MIN_KOBO": _int("PAYOUT_MIN_KOBO", 1_000_00),
        "PAYOUT_MAX_KOBO": _int("PAYOUT_MAX_KOBO", 10_000_000_00),
        "PAYOUT_REQUEST_TTL_SECONDS": _int("PAYOUT_REQUEST_TTL_SECONDS", 7 * 86400),
        "PAYOUT_STALE_AFTER_SECONDS": _int("PAYOUT_STALE_AFTER_SECONDS", 300),
        "PAYOUT_MAX_SENDS": _int("PAYOUT_MAX_SENDS", 3),
        "PAYOUT_UNRESOLVED_ALERT_AFTER_SECONDS": _int("PAYOUT_UNRESOLVED_ALERT_AFTER_SECONDS", 86400),
        # Fraud rules (inclusive thresholds; 0 turns a rule off). See webapp/services/fraud.py.
        "FRAUD_ACCOUNT_PURCHASES_PER_HOUR": _int("FRAUD_ACCOUNT_PURCHASES_PER_HOUR", 5),
        "FRAUD_ACCOUNT_PURCHASES_PER_DAY": _int("FRAUD_ACCOUNT_PURCHASES_PER_DAY", 12),
        "FRAUD_RESIDENT_PURCHASES_PER_HOUR": _int("FRAUD_RESIDENT_PURCHASES_PER_HOUR", 10),
        "FRAUD_RESIDENT_PURCHASES_PER_DAY": _int("FRAUD_RESIDENT_PURCHASES_PER_DAY", 30),
        "FRAUD_AMOUNT_FACTOR": _int("FRAUD_AMOUNT_FACTOR", 5),
        "FRAUD_AMOUNT_MIN_HISTORY": _int("FRAUD_AMOUNT_MIN_HISTORY", 3),
        "FRAUD_AMOUNT_HISTORY": _int("FRAUD_AMOUNT_HISTORY", 20),
        "FRAUD_SHARED_NUMBER_RESIDENTS": _int("FRAUD_SHARED_NUMBER_RESIDENTS", 3),
        # Automations: an occurrence older than this when swept counts as missed (catch_up "none").
        "AUTOMATION_LATE_TOLERANCE_MINUTES": _int("AUTOMATION_LATE_TOLERANCE_MINUTES", 60),
        # Estate bills: remind this many days before the due date, and again this many days after
        # it while unpaid (0 turns both reminders off).
        "BILL_REMINDER_DAYS_BEFORE": _int("BILL_REMINDER_DAYS_BEFORE", 3),
        # Test seam for crash-safety tests: pause the worker at a named point, e.g. "after_debit=5".
        "PAYMENT_PAUSE_POINTS": _pause_points(os.environ.get("PAYMENT_PAUSE_POINTS", "")),
        # Email (DESIGN §6). MAIL_SERVER empty = development: mail goes to the outbox page, not out.
        "MAIL_SERVER": os.environ.get("MAIL_SERVER", ""),
        "MAIL_PORT": _int("MAIL_PORT", 587),
        "MAIL_USERNAME": os.environ.get("MAIL_USERNAME", ""),
        "MAIL_PASSWORD": os.environ.get("MAIL_PASSWORD", ""),
        "MAIL_USE_TLS": os.environ.get("MAIL_USE_TLS", "true").strip().lower() in ("1", "true", "yes", "on"),
        "MAIL_DEFAULT_SENDER": os.environ.get("MAIL_DEFAULT_SENDER", "Utility Autopay <no-reply@localhost>"),
        "MAIL_TIMEOUT_SECONDS": _float("MAIL_TIMEOUT_SECONDS", 10.0),
        "MAIL_MAX_ATTEMPTS": _int("MAIL_MAX_ATTEMPTS", 5),
    }


# Hosts that are never a live provider: VTpass's own sandbox and this machine (our sandbox).
SANDBOX_HOSTS = ("sandbox.vtpass.com", "localhost", "127.0.0.1", "::1", "[::1]")


def _is_sandbox_url(url: str) -> bool:
    from urllib.parse import urlsplit

    host = (urlsplit(url or "").hostname or "").lower()
    return host in SANDBOX_HOSTS or host.startswith("127.")


def _live_looking_keys(config: dict) -> list[str]:
    """Settings holding keys that look live: Flutterwave's test secret keys carry ``_TEST``
    (``FLWSECK_TEST-...``) and Paystack's test keys start ``sk_test_`` (both gateways' dashboards
    issue keys in these forms; live ones are ``FLWSECK-...`` and ``sk_live_...``)."""
    live = []
    flutterwave = config.get("FLUTTERWAVE_SECRET_KEY") or ""
    if flutterwave.startswith("FLWSECK-"):
        live.append("FLUTTERWAVE_SECRET_KEY")
    if (config.get("PAYSTACK_SECRET_KEY") or "").startswith("sk_live_"):
        live.append("PAYSTACK_SECRET_KEY")
    return live


def check_provider_urls(config: dict) -> None:
    """Never send live keys to a sandbox, and in production name every provider URL explicitly."""
    live = _live_looking_keys(config)
    for name, key in (("FLUTTERWAVE_BASE_URL", "FLUTTERWAVE_SECRET_KEY"), ("PAYSTACK_BASE_URL", "PAYSTACK_SECRET_KEY")):
        if key in live and _is_sandbox_url(config.get(name) or ""):
            raise ConfigError(f"{key} looks like a live key but {name} points at a sandbox "
                              f"({config.get(name)}); refusing to start.")
    if config.get("APP_ENV") != "production":
        return
    if config.get("TERMII_API_KEY") and _is_sandbox_url(config.get("TERMII_BASE_URL") or ""):
        raise ConfigError(f"TERMII_BASE_URL points at a sandbox ({config.get('TERMII_BASE_URL')}); "
                          "production must use the live API.")
    for name in ("FLUTTERWAVE_BASE_URL", "VTPASS_BASE_URL", "PAYSTACK_BASE_URL"):
        url = config.get(name) or ""
        if not url:
            raise ConfigError(f"{name} is not set; in production every provider URL must be set explicitly "
                              "(see the README's production section).")
        if _is_sandbox_url(url):
            raise ConfigError(f"{name} points at a sandbox ({url}); production must use the live API.")


# Secret strength (SECRET_KEY, LOOKUP_HASH_KEY). Length alone lets 32 spaces through, so also ask
# for variety: enough distinct characters, no repeated pattern, and a character-frequency entropy
# estimate. Ten distinct characters, not more: a random hex key (secrets.token_hex) has only 16 to
# draw from, and a 32-character one shows 10 or more almost always.
MIN_SECRET_LENGTH = 32
MIN_SECRET_DISTINCT = 10
MIN_SECRET_BITS = 90
GENERATE_SECRET = "python -c 'import secrets; print(secrets.token_urlsafe(48))'"


def _smallest_period(text: str) -> int:
    """Length of the shortest block that ``text`` repeats (the whole length when none), by KMP."""
    failure = [0] * len(text)
    for i in range(1, len(text)):
        k = failure[i - 1]
        while k and text[i] != text[k]:
            k = failure[k - 1]
        failure[i] = k + (text[i] == text[k])
    return len(text) - (failure[-1] if text else 0)


def estimated_bits(text: str) -> float:
    """Shannon entropy of the character frequencies times the length: a ceiling, never a proof."""
    counts = Counter(text)
    return -sum(n * math.log2(n / len(text)) for n in counts.values())


def secret_problem(value: str) -> str | None:
    """Why ``value`` is too weak to be a production secret, or None."""
    if len(value) < MIN_SECRET_LENGTH:
        return f"is shorter than {MIN_SECRET_LENGTH} characters"
    if len(set(value)) < MIN_SECRET_DISTINCT:
        return f"has fewer than {MIN_SECRET_DISTINCT} distinct characters"
    if _smallest_period(value) <= len(value) // 2:
        return "repeats a pattern"
    if estimated_bits(value) < MIN_SECRET_BITS:
        return "is too predictable (a few characters make up most of it)"
    return None


def check_public_base_url(config: dict) -> None:
    from urllib.parse import urlsplit

    url = config.get("PUBLIC_BASE_URL") or ""
    if not url:
        raise ConfigError("PUBLIC_BASE_URL is not set; in production it names the site (https://...) for "
                          "gateway callbacks and links in emails, never taken from a request's Host header.")
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname or parts.query or parts.fragment:
        raise ConfigError(f"PUBLIC_BASE_URL must be the site's https:// address, got {url!r}.")


def check_production(config: dict) -> None:
    """Refuse to run production on missing, public default or weak secrets, on sandbox providers,
    without its public address or without a mail server."""
    if config.get("APP_ENV") != "production":
        check_provider_urls(config)
        return
    secret = config.get("SECRET_KEY") or ""
    if not secret or secret == DEV_SECRET_KEY:
        raise ConfigError(
            "SECRET_KEY is missing or is the development default; set SECRET_KEY to a random value "
            f"of at least {MIN_SECRET_LENGTH} characters (e.g. {GENERATE_SECRET}) before running with "
            "APP_ENV=production."
        )
    problem = secret_problem(secret)
    if problem:
        raise ConfigError(f"SECRET_KEY {problem}; set it to a random value (e.g. {GENERATE_SECRET}) "
                          "before running with APP_ENV=production.")
    keys = config.get("ENCRYPTION_KEYS") or ""
    if not keys or DEV_ENCRYPTION_KEY in keys.split(","):
        raise ConfigError(
            "ENCRYPTION_KEYS is missing or contains the development default; set ENCRYPTION_KEYS to "
            "one or more Fernet keys (comma-separated, newest first) before running with "
            "APP_ENV=production."
        )
    # Lookup hashes are keyed by LOOKUP_HASH_KEY when set, else by a key derived from SECRET_KEY
    # (already required strong above). A set LOOKUP_HASH_KEY must be as strong and distinct from it.
    lookup = config.get("LOOKUP_HASH_KEY") or ""
    if lookup:
        problem = "is the same as SECRET_KEY" if lookup == secret else secret_problem(lookup)
        if problem:
            raise ConfigError(
                f"LOOKUP_HASH_KEY {problem}; set it to its own random value of at least {MIN_SECRET_LENGTH} "
                "characters (or leave it unset to derive it from SECRET_KEY) before running with "
                "APP_ENV=production."
            )
    check_public_base_url(config)
    if not config.get("MAIL_SERVER"):
        # Without one, mail would only be kept in the development outbox, which production never shows.
        raise ConfigError("MAIL_SERVER is not set; production sends email through a real SMTP server "
                          "(see the README's production section).")
    check_provider_urls(config)
    if config.get("PASSWORD_HASH_METHOD") not in (None, "", "scrypt"):
        raise ConfigError("PASSWORD_HASH_METHOD is for the test suite only; production hashes passwords with scrypt.")
