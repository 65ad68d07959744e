"""One HTTP exchange with a provider: timed, classified, redacted, reported.

Every client goes through ``ProviderHttp.call``. It owns the rules that protect money:

- a request that never reached the provider (connection refused, connect timeout, DNS) is
  ``transient``: nothing was processed;
- a request that was sent and whose answer is missing or unclear (read timeout, connection
  dropped mid-answer, 5xx, HTML or broken JSON) is ``outcome_unknown`` when it could move money
  (``moves_money=True``) and ``transient`` for reads (a read can simply be repeated);
- 429 is ``transient`` ``rate_limited`` (the provider refused before processing);
- 401/403 is ``permanent`` ``authentication_error`` (our credentials; retrying will not help).

Anything else comes back as a ``Reply`` with the parsed JSON object for the client to interpret.
One ``requests.Session`` per process pools connections; it is rebuilt after a fork because pooled
sockets must never be shared between processes.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from webapp.providers.amounts import dumps
from webapp.providers.base import CallLogger, ErrorClass, PaymentErrorType, ProviderCall, ProviderError
from webapp.providers.redact import Redactor

log = logging.getLogger("webapp.providers")

# How people read each provider's name: the one home of these names.
DISPLAY_NAMES = {"flutterwave": "Flutterwave", "vtpass": "VTpass", "paystack": "Paystack"}
POOL_SIZE = 32

_session: requests.Session | None = None
_session_pid: int | None = None
_session_lock = threading.Lock()


def shared_session() -> requests.Session:
    """The process-wide session (connection pool), rebuilt when the process has forked."""
    global _session, _session_pid
    pid = os.getpid()
    if _session is None or _session_pid != pid:
        with _session_lock:
            if _session is None or _session_pid != pid:
                session = requests.Session()
                # No automatic retries: resending a purchase is a business decision, not a transport one.
                adapter = HTTPAdapter(pool_connections=8, pool_maxsize=POOL_SIZE, max_retries=0)
                session.mount("https://", adapter)
                session.mount("http://", adapter)
                session.trust_env = False
                _session, _session_pid = session, pid
    return _session


@dataclass(frozen=True)
class Reply:
    """A provider answer with a JSON object body (raw for parsing, redacted for keeping)."""

    status: int
    body: dict[str, Any]
    redacted: Any
    headers: Mapping[str, str]


def _never_sent(exc: BaseException) -> bool:
    """True only when the connection was never established, so the provider saw nothing."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    seen: set[int] = set()
    stack: list[Any] = [exc]
    while stack:
        item = stack.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, NewConnectionError | ConnectTimeoutError | ConnectionRefusedError):
            return True
        stack.extend([getattr(item, "reason", None), getattr(item, "__cause__", None),
                      getattr(item, "__context__", None)])
        stack.extend(a for a in getattr(item, "args", ()) if isinstance(a, BaseException))
    return False


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


class ProviderHttp:
    """HTTP access to one provider's base URL with its credentials and timeouts."""

    def __init__(
        self,
        provider: str,
        base_url: str,
        *,
        connect_timeout: float,
        read_timeout: float,
        secrets: tuple[str, ...] = (),
        call_logger: CallLogger | None = None,
    ) -> None:
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.timeouts = (float(connect_timeout), float(read_timeout))
        self.redactor = Redactor(secrets)
        self.call_logger = call_logger
        self.name = DISPLAY_NAMES.get(provider, provider)

    def error(self, error_type: PaymentErrorType, error_class: ErrorClass, message: str, *,
              operation: str, http_status: int | None = None, raw: Any = None, detail: str = "",
              retry_after: float | None = None) -> ProviderError:
        """A ProviderError whose every text has been redacted."""
        return ProviderError(
            error_type, error_class, self.redactor.text(message), http_status=http_status,
            raw=self.redactor.body(raw), provider=self.provider, operation=operation,
            detail=self.redactor.text(detail), retry_after=retry_after,
        )

    def call(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        moves_money: bool = False,
    ) -> Reply:
        url = f"{self.base_url}/{path.lstrip('/')}"
        send_headers = {"Accept": "application/json", **(headers or {})}
        data = None
        if body is not None:
            data = dumps(body).encode()
            send_headers["Content-Type"] = "application/json"
        unclear = ErrorClass.OUTCOME_UNKNOWN if moves_money else ErrorClass.TRANSIENT
        started = time.perf_counter()
        response: requests.Response | None = None
        failure: ProviderError | None = None
        reply: Reply | None = None
        try:
            response = shared_session().request(
                method, url, headers=send_headers, params=params, data=data, timeout=self.timeouts,
                allow_redirects=False,
            )
            reply = self._interpret(operation, response, unclear)
        except ProviderError as exc:
            failure = exc
        except requests.exceptions.RequestException as exc:
            failure = self._transport_error(operation, exc, unclear)
        finally:
            latency_ms = int((time.perf_counter() - started) * 1000)
        self._report(operation, method, response.url if response is not None else url, body,
                     response, reply, failure, latency_ms)
        if failure is not None:
            raise failure
        assert reply is not None
        return reply

    def _transport_error(self, operation: str, exc: requests.exceptions.RequestException,
                         unclear: ErrorClass) -> ProviderError:
        detail = f"{type(exc).__name__}: {exc}"
        if _never_sent(exc):
            return self.error(PaymentErrorType.NETWORK_ERROR, ErrorClass.TRANSIENT,
                              f"We could not reach {self.name} just now. We'll try again shortly.",
                              operation=operation, detail=detail)
        if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema
                      | requests.exceptions.InvalidSchema):
            return self.error(PaymentErrorType.PROVIDER_ERROR, ErrorClass.PERMANENT,
                              f"The connection to {self.name} is not set up correctly.",
                              operation=operation, detail=detail)
        error_type = (PaymentErrorType.TIMEOUT_ERROR if isinstance(exc, requests.exceptions.Timeout)
                      else PaymentErrorType.NETWORK_ERROR)
        return self.error(error_type, unclear, self._unclear_message(unclear),
                          operation=operation, detail=detail)

    def _unclear_message(self, unclear: ErrorClass) -> str:
        if unclear is ErrorClass.OUTCOME_UNKNOWN:
            return (f"{self.name} did not confirm this payment yet. We are checking its status; "
                    "you will not be charged twice.")
        return f"{self.name} did not answer in time. Please try again shortly."

    def _interpret(self, operation: str, response: requests.Response, unclear: ErrorClass) -> Reply:
        status = response.status_code
        parsed = self._parse(response)
        redacted = self.redactor.body(parsed) if parsed is not None else self.redactor.text(response.text)
        if status == 429:
            raise self.error(PaymentErrorType.RATE_LIMITED, ErrorClass.TRANSIENT,
                             f"{self.name} is busy right now. We'll try again shortly.", operation=operation,
                             http_status=status, raw=redacted, detail="rate limited",
                             retry_after=_retry_after(response.headers))
        if status in (401, 403):
            raise self.error(PaymentErrorType.AUTHENTICATION_ERROR, ErrorClass.PERMANENT,
                             f"Payments through {self.name} are not set up correctly. Our team has been told.",
                             operation=operation, http_status=status, raw=redacted,
                             detail=_message_of(parsed) or "credentials refused")
        if status >= 500:
            raise self.error(PaymentErrorType.UTILITY_SERVICE_UNAVAILABLE, unclear,
                             self._unclear_message(unclear) if unclear is ErrorClass.OUTCOME_UNKNOWN
                             else f"{self.name} is having trouble right now. Please try again shortly.",
                             operation=operation, http_status=status, raw=redacted,
                             detail=_message_of(parsed) or f"HTTP {status}")
        if not isinstance(parsed, dict) or 300 <= status < 400:
            raise self.error(PaymentErrorType.MALFORMED_RESPONSE, unclear,
                             self._unclear_message(unclear) if unclear is ErrorClass.OUTCOME_UNKNOWN
                             else f"{self.name} sent an answer we could not read. Please try again shortly.",
                             operation=operation, http_status=status, raw=redacted,
                             detail=f"expected a JSON object, got {response.headers.get('Content-Type', '?')}")
        return Reply(status=status, body=parsed, redacted=redacted, headers=response.headers)

    @staticmethod
    def _parse(response: requests.Response) -> Any:
        if not response.content:
            return None
        try:
            return json.loads(response.content, parse_float=Decimal)
        except (ValueError, UnicodeDecodeError):
            return None

    def _report(self, operation: str, method: str, url: str, body: Any, response: requests.Response | None,
                reply: Reply | None, failure: ProviderError | None, latency_ms: int) -> None:
        status = response.status_code if response is not None else None
        safe_url = self.redactor.url(url)
        if reply is not None:
            response_body = reply.redacted
        elif failure is not None:
            response_body = failure.raw
        else:
            response_body = None
        error = f"{failure.error_type}/{failure.error_class}: {failure.detail}" if failure else None
        if failure is None:
            log.info("%s %s %s %s -> %s in %d ms", self.provider, operation, method, safe_url, status, latency_ms)
        else:
            log.warning("%s %s %s %s -> %s in %d ms failed: %s", self.provider, operation, method, safe_url,
                        status, latency_ms, error)
        call = ProviderCall(
            provider=self.provider, operation=operation, method=method, url=safe_url, http_status=status,
            latency_ms=latency_ms, request_body=self.redactor.body(body) if body is not None else None,
            response_body=response_body, error=error,
        )
        log.debug("%s %s request=%s response=%s", self.provider, operation, call.request_body, call.response_body)
        if self.call_logger is not None:
            try:
                self.call_logger(call)
            except Exception:  # a broken call log must not turn a paid purchase into an error
                log.exception("call logger failed for %s %s", self.provider, operation)


def _message_of(parsed: Any) -> str:
    if isinstance(parsed, dict):
        for key in ("message", "response_description", "error"):
            value = parsed.get(key)
            if isinstance(value, str) and value:
                return value
    return ""


def message_of(reply: Reply) -> str:
    return _message_of(reply.body)



def header_value(headers: Mapping[str, str] | Any, name: str) -> str:
    """A header from any mapping (Flask's, requests', a plain dict), ignoring case."""
    value = headers.get(name) if hasattr(headers, "get") else None
    if value is None and isinstance(headers, Mapping):
        wanted = name.lower()
        value = next((v for k, v in headers.items() if str(k).lower() == wanted), None)
    return str(value) if value is not None else ""


def first(source: Any, *keys: str) -> Any:
    """The first of ``keys`` that ``source`` (a JSON object, or anything else) has a non-empty value for."""
    if not isinstance(source, Mapping):
        return None
    for key in keys:
        value = source.get(key)
        if value not in (None, ""):
            return value
    return None
