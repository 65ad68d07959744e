"""Start the sandbox as a subprocess (tests, benchmarks) or as one of `make run`'s children."""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field

import requests

from webapp.infra.local_services import free_port, wait_for_port
from webapp.sandbox.app import PREFIXES
from webapp.sandbox.keys import SANDBOX_CREDENTIALS

# Knobs the command line takes; any other knob is applied with configure() once the server is up.
CLI_KNOBS = {"latency": "--latency", "fault_rate": "--fault-rate", "seed": "--seed",
             "timeout_hold": "--timeout-hold", "webhook_base": "--webhook-base",
             "termii_webhook_url": "--termii-webhook-url"}
# Any of these set means real provider keys are configured, so `make run` leaves the sandbox off.
REAL_KEY_SETTINGS = ("FLUTTERWAVE_SECRET_KEY", "VTPASS_API_KEY", "VTPASS_SECRET_KEY", "PAYSTACK_SECRET_KEY")


PRODUCTION_REFUSED = ("APP_ENV is production: the provider sandbox (whose checkout pays any amount and whose "
                      "bills always succeed) never runs there. Point the app at the live provider APIs.")


class SandboxInProduction(RuntimeError):
    """The sandbox was asked to start with APP_ENV=production."""


def refuse_in_production(env=None) -> None:
    if (os.environ if env is None else env).get("APP_ENV") == "production":
        raise SandboxInProduction(PRODUCTION_REFUSED)


def provider_settings(url: str) -> dict[str, str]:
    """App settings that point every provider client at the sandbox at ``url``."""
    url = url.rstrip("/")
    return {
        "FLUTTERWAVE_BASE_URL": url + PREFIXES["flutterwave"],
        "VTPASS_BASE_URL": url + PREFIXES["vtpass"],
        "PAYSTACK_BASE_URL": url + PREFIXES["paystack"],
        "TERMII_BASE_URL": url + PREFIXES["termii"],
        # Where the wallet links to the sandbox's "send a bank transfer" page.
        "SANDBOX_URL": url,
        **SANDBOX_CREDENTIALS,
    }


def sandbox_argv(port: int, host: str = "127.0.0.1", quiet: bool = False, **knobs) -> list[str]:
    argv = [sys.executable, "-m", "webapp.sandbox", "--host", host, "--port", str(port)]
    for name, flag in CLI_KNOBS.items():
        if knobs.get(name) is not None:
            argv += [flag, str(knobs[name])]
    return argv + (["--quiet"] if quiet else [])


@dataclass
class SandboxHandle:
    url: str
    process: subprocess.Popen
    log_path: str | None = None
    _session: requests.Session = field(default_factory=requests.Session, repr=False)

    def _post(self, path: str, payload: dict | None = None) -> dict:
        response = self._session.post(self.url + path, json=payload or {}, timeout=5)
        if response.status_code != 200:
            raise ValueError(response.json().get("error", response.text))
        return response.json()

    def configure(self, **knobs) -> dict:
        """Change knobs at runtime; returns all knob values. Unknown or invalid knobs raise ValueError."""
        return self._post("/_sandbox/config", knobs)

    def reset(self) -> None:
        """Forget every transaction, counter and saved card (knobs stay as they are)."""
        self._post("/_sandbox/reset")

    def transactions(self) -> dict:
        """The sandbox's state as JSON: bills, attempts, funding, webhooks, knobs."""
        return self._session.get(self.url + "/_sandbox/transactions", timeout=5).json()

    def transfer(self, account_number: str, amount_kobo: int, notify: str | None = None,
                 claimed_amount_kobo: int | None = None, deliver: bool = True) -> dict:
        """A bank transfer into a Paystack dedicated account; its ``charge.success`` goes to
        ``notify`` (the app's origin) unless ``deliver`` is false. Returns the transaction and the
        webhook delivery's record."""
        return self._post("/_sandbox/transfer", {"account_number": account_number, "amount_kobo": amount_kobo,
                                                 "notify": notify, "claimed_amount_kobo": claimed_amount_kobo,
                                                 "deliver": deliver})

    def disagree(self, provider: str, reference: str, how: str, amount_kobo: int | None = None) -> dict:
        """Make one recorded bill disagree with the app: "succeeded", "failed", "missing" or "amount"."""
        return self._post("/_sandbox/disagree", {"provider": provider, "reference": reference, "how": how,
                                                 "amount_kobo": amount_kobo})

    def processed(self, provider: str, references) -> int:
        """Purchases the provider processed (recorded, not failed) under any of ``references``."""
        wanted = set(references)
        return sum(1 for bill in self.transactions()["bills"]
                   if bill["provider"] == provider and bill["reference"] in wanted and bill["status"] != "failed")

    def provider_settings(self) -> dict[str, str]:
        return provider_settings(self.url)

    def stop(self) -> None:
        self._session.close()
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if self.log_path:
            with contextlib.suppress(OSError):
                os.unlink(self.log_path)

    def __enter__(self) -> SandboxHandle:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_sandbox(port: int | None = None, host: str = "127.0.0.1", **knobs) -> SandboxHandle:
    """Start the sandbox in a subprocess on ``port`` (default: a free loopback port) and wait for it.

    The server's log goes to a temporary file (``handle.log_path``) kept until ``stop()``.
    """
    refuse_in_production()
    attempts = 1 if port else 3  # a free port can be taken by someone else before the child binds it
    for attempt in range(attempts):
        chosen = port or free_port()
        fd, log_path = tempfile.mkstemp(prefix="autopay-sandbox-", suffix=".log")
        with os.fdopen(fd, "w") as log:
            process = subprocess.Popen(sandbox_argv(chosen, host, quiet=True, **knobs), stdout=log,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        handle = SandboxHandle(url=f"http://{host}:{chosen}", process=process, log_path=log_path)
        try:
            _wait_until_serving(handle, chosen, host)
        except RuntimeError:
            handle.stop()
            if attempt + 1 == attempts:
                raise
            continue
        extra = {k: v for k, v in knobs.items() if k not in CLI_KNOBS}
        if extra:
            handle.configure(**extra)
        return handle
    raise RuntimeError("the sandbox did not start")  # pragma: no cover - loop always returns or raises


def _wait_until_serving(handle: SandboxHandle, port: int, host: str) -> None:
    try:
        wait_for_port(port, host=host, timeout=15)
    except TimeoutError as exc:
        raise RuntimeError(f"the sandbox did not start: {_tail(handle.log_path)}") from exc
    if handle.process.poll() is not None:
        raise RuntimeError(f"the sandbox exited with code {handle.process.returncode}: {_tail(handle.log_path)}")


def _tail(path: str | None) -> str:
    if not path:
        return ""
    with contextlib.suppress(OSError), open(path, encoding="utf-8", errors="replace") as log:
        return log.read()[-2000:]
    return ""


DEVRUN_TIMEOUT_HOLD = 12.0
DEVRUN_SCHEDULES = {
    "PROVIDER_READ_TIMEOUT": "10",
    "PAYMENT_REQUERY_BACKOFF_SECONDS": "10,20,60,300,3600",
    "TOKEN_BACKOFF_SECONDS": "10,20,60,300,3600",
    "PAYMENT_RQ_RETRY_INTERVALS": "5,15,30",
    "PAYMENT_RETRY_BASE_SECONDS": "2",
    "PAYMENT_RETRY_MAX_SECONDS": "10",
    # The sandbox's bill listing never lags, so a bill missing from it is "no record" after 8 s
    # (production waits FLUTTERWAVE_RECORD_LAG_SECONDS, ten minutes by default).
    "FLUTTERWAVE_RECORD_LAG_SECONDS": "8",
}


def start_for_devrun(env: dict, children: list, spawn) -> None:
    """For `make run`: with no real provider keys in ``env``, run the sandbox and point the app at it.

    ``spawn(name, argv, env)`` starts a child process and returns the devrun ``Child``; it is
    appended to ``children`` so Ctrl-C stops it with the rest. ``env`` is updated in place with the
    base URLs and the sandbox credentials for the web, worker and cron processes.
    """
    if any(env.get(name) for name in REAL_KEY_SETTINGS):
        return
    refuse_in_production(env)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # Every slow test number settles within a minute (the README's table says how long each takes):
    # a "timeout" holds 12 s against a 10 s read timeout (production: 35 s), and the requery, token
    # and job-retry schedules start at seconds instead of minutes. Each can be set in the
    # environment instead.
    # Termii's delivery reports go to the webhook URL set in its console; here, this app's.
    site = env.get("PUBLIC_BASE_URL") or f"http://127.0.0.1:{env.get('PORT') or 5000}"
    # Paystack's webhooks (a payout's transfer.* events have no callback URL of their own) go to the
    # URL set in its dashboard; here, this app's.
    children.append(spawn("sandbox", sandbox_argv(port, quiet=True, timeout_hold=DEVRUN_TIMEOUT_HOLD,
                                                  webhook_base=site.rstrip("/"),
                                                  termii_webhook_url=site.rstrip("/") + "/webhooks/termii"), env))
    wait_for_port(port, timeout=20)
    env.update(provider_settings(url))
    for name, value in DEVRUN_SCHEDULES.items():
        env.setdefault(name, value)
    print(f"Providers: no API keys configured, so the app uses the local provider sandbox at {url} "
          "(test customer numbers: see the README)", flush=True)
