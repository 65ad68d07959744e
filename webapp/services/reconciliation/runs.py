"""Daily reconciliation of our bill purchases with each provider's record (``flask payments reconcile``).

Why: a purchase we refunded may have gone through at the provider (money lost), one we count as
paid may never have reached it, or the two sides may disagree on the amount. Once a day, for the
previous Lagos day, each provider's record is compared with ours both ways; each disagreement is
one ``ReconciliationMismatch`` and one ``AdminAlert``.

How each provider is asked:
- Flutterwave: its bill listing ``GET /bills?from=&to=`` (Node-v3 SDK Bills.fetch_bills), one day
  either side because its day boundary is not documented, matched by our reference
  (``customer_reference``) and its tx_ref/flw_ref. A listed bill that is none of ours is
  ``unknown_to_us``: it has no estate, so no alert; platform admins see it on the page. A listing
  with only its summary (the published sample's shape) makes us ask per purchase
  (``query_status``), and then bills unknown to us cannot be found.
- VTpass documents no listing by date, only the requery by request_id (015 "not used on our
  platform", vtpass.com/documentation/response-codes), so each of our purchases is requeried and a
  VTpass record unknown to us cannot be found.

A provider answer that is not final (pending, unconfirmed, or a listing younger than Flutterwave's
record lag) and a payment of ours still unknown are "unsettled", not mismatches: the janitor is
still settling them. A provider error aborts the run with nothing written, so the day can be run
again; a written run is final and rerunning its day returns it unchanged. Ours are read and that
transaction ended before any HTTP call; everything is written in one transaction at the end.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import lazyload

from webapp.extensions import db
from webapp.infra.bulk_writes import insert_once
from webapp.models.base import utcnow
from webapp.models.payment import (
    AdminAlert,
    Payment,
    PaymentKind,
    PaymentStatus,
    ReconciliationMismatch,
    ReconciliationRun,
)
from webapp.money import naira
from webapp.providers import registry
from webapp.providers.base import ProviderConfigError, ProviderError, PurchaseKeys, PurchaseResult
from webapp.providers.vtpass_codes import LAGOS, lagos_now
from webapp.services.payments import calls, references
from webapp.services.reconciliation import flutterwave_listing as listing

S = PaymentStatus
PROVIDERS = tuple(sorted(registry.UTILITY_SERVICES))
# Our side of a purchase that reached the provider: refunded by an admin still bought the bill; failed
# was refunded to the resident; unknown, and submitted or debited (in flight or stale), are not final.
OUR_SIDE = {S.SUCCEEDED.value: "succeeded", S.REFUNDED.value: "succeeded", S.FAILED.value: "refunded",
            S.UNKNOWN.value: "unknown", S.SUBMITTED.value: "unknown", S.DEBITED.value: "unknown"}
LOST, MISSING, AMOUNT = "provider_succeeded_we_refunded", "no_provider_record", "amount_differs"
UNKNOWN_TO_US = listing.UNKNOWN_TO_US
UNSETTLED = "unsettled"
_FINAL_ANSWERS = ("succeeded", "failed", "not_found")


class ReconciliationError(RuntimeError):
    """A provider could not be asked; nothing was written for that provider and day."""

    def __init__(self, message: str, runs: list[ReconciliationRun] | None = None) -> None:
        super().__init__(message)
        self.runs = runs or []


@dataclass(frozen=True)
class Ours:
    """A detached copy of one of our purchases (nothing lazy-loads during HTTP)."""

    payment_id: int
    estate_id: int
    reference: str
    status: str
    amount_kobo: int
    submitted_at: datetime
    keys: PurchaseKeys

    @property
    def side(self) -> str:
        return OUR_SIDE[self.status]


def previous_lagos_day(now: datetime | None = None) -> date:
    return lagos_now(now or utcnow()).date() - timedelta(days=1)


def lagos_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(), tzinfo=LAGOS).astimezone(UTC)
    return start, start + timedelta(days=1)


def find_run(api_provider: str, day: date) -> ReconciliationRun | None:
    return db.session.scalar(select(ReconciliationRun).where(ReconciliationRun.api_provider == api_provider,
                                                             ReconciliationRun.day == day))


def unsettled(run: ReconciliationRun) -> int:
    return sum(int(e.get(UNSETTLED, 0)) for e in (run.by_estate or {}).values())


def summary(run: ReconciliationRun) -> str:
    return (f"{run.api_provider} {run.day.isoformat()}: ours {run.ours_count} ({naira(run.ours_kobo)}), "
            f"theirs {run.theirs_count} ({naira(run.theirs_kobo)}), {run.mismatch_count} mismatches, "
            f"{unsettled(run)} unsettled (reconciled {run.created_at:%Y-%m-%d %H:%M} UTC)")


def reconcile_all(day: date, providers: tuple[str, ...] | None = None) -> list[ReconciliationRun]:
    """Every provider that is configured or has purchases that day; the runs made, or
    ``ReconciliationError`` (carrying them) once all were tried when any provider failed."""
    wanted = providers or tuple(p for p in PROVIDERS if _configured(p) or _ours(p, day))
    runs, errors = [], []
    for api_provider in wanted:
        try:
            runs.append(reconcile(api_provider, day))
        except (ReconciliationError, ProviderConfigError) as exc:
            errors.append(f"{api_provider}: {exc}")
    if errors:
        raise ReconciliationError("; ".join(errors), runs)
    return runs


def reconcile(api_provider: str, day: date) -> ReconciliationRun:
    """The run for this provider and Lagos day: the existing one, or a new one after asking the provider."""
    existing = find_run(api_provider, day)
    if existing is not None:
        return existing
    ours = _ours(api_provider, day)
    db.session.rollback()  # no transaction stays open across the provider calls below
    log_calls: list = []
    logs: dict[int, list] = {}  # payment id (0: none) -> the provider calls made about it
    service = calls.service_for(api_provider, log_calls)
    try:
        answers, listed = _ask(api_provider, service, day, ours, log_calls, logs)
    except ProviderError as exc:
        db.session.rollback()
        for payment_id, made in [*logs.items(), (0, log_calls)]:  # the calls made are still evidence
            calls.persist(_PaymentId(payment_id) if payment_id else None, made)
        db.session.commit()
        raise ReconciliationError(f"{api_provider} could not be asked about {day}: {exc}") from exc
    return _write(api_provider, day, ours, answers, logs, listed)


def _configured(api_provider: str) -> bool:
    try:
        registry.utility_service(api_provider, current_app.config)
    except ProviderConfigError:
        return False
    return True


def _ours(api_provider: str, day: date) -> list[Ours]:
    start, end = lagos_bounds(day)
    rows = db.session.scalars(
        select(Payment).where(Payment.kind == PaymentKind.UTILITY.value, Payment.api_provider == api_provider,
                              Payment.submitted_at >= start, Payment.submitted_at < end,
                              Payment.purchase_attempts > 0, Payment.status.in_(list(OUR_SIDE)))
        .options(lazyload(Payment.events)).order_by(Payment.id)).all()
    return [Ours(p.id, p.estate_id, p.reference, p.status, p.amount_kobo, p.submitted_at, references.keys_for(p))
            for p in rows]


def _ask(api_provider: str, service, day: date, ours: list[Ours], log_calls: list, logs: dict[int, list]):
    """Each purchase's answer and (Flutterwave) the listed bills; the calls made go into ``logs``."""
    answers: dict[int, PurchaseResult] = {}
    listed = None
    if api_provider == "flutterwave":
        listed = service.list_bills(day - timedelta(days=1), day + timedelta(days=1))
        if listed is not None:
            lag = timedelta(seconds=float(current_app.config.get("FLUTTERWAVE_RECORD_LAG_SECONDS", 600.0)))
            answers = listing.match(ours, listed, utcnow() - lag)
    for o in ours:
        if o.payment_id not in answers:
            answers[o.payment_id] = service.query_status(o.keys)
            logs[o.payment_id] = log_calls[:]
            log_calls.clear()
    logs[0] = log_calls[:]  # the listing's calls belong to no one payment
    log_calls.clear()
    return answers, listed


def classify(o: Ours, theirs: PurchaseResult) -> str | None:
    """The mismatch kind, ``UNSETTLED``, or None when both sides agree. An answer that states no
    amount cannot disagree on it (and adds nothing to the provider's total)."""
    if o.side == "unknown" or theirs.status not in _FINAL_ANSWERS:
        return UNSETTLED
    if o.side == "refunded":
        return LOST if theirs.status == "succeeded" else None
    if theirs.status != "succeeded":
        return MISSING
    if theirs.amount_kobo is not None and theirs.amount_kobo != o.amount_kobo:
        return AMOUNT
    return None


def refs_text(keys: PurchaseKeys | None, answer: PurchaseResult | None) -> str:
    """Every provider reference of a purchase as one cell: "request_id=...; tx_ref=...; flw_ref=..."."""
    pairs: dict[tuple[str, str], None] = {}
    if keys is not None:
        pairs.update({("request_id", r): None for r in keys.all_request_ids[1:]})
        pairs.update({(k, v): None for k, v in keys.refs.items()})
    if answer is not None:
        pairs.update({(k, str(v)): None for k, v in answer.refs.items() if v})
    return "; ".join(f"{k}={v}" for k, v in pairs)[:500]


def _write(api_provider, day, ours, answers, logs, listed) -> ReconciliationRun:
    run = ReconciliationRun(api_provider=api_provider, day=day, by_estate={})
    db.session.add(run)
    try:
        db.session.flush()
    except IntegrityError:  # another run of this day finished first: theirs stands
        db.session.rollback()
        return find_run(api_provider, day)
    by_estate: dict[str, dict] = {}
    for o in ours:
        theirs = answers[o.payment_id]
        tally = by_estate.setdefault(str(o.estate_id), {"ours_count": 0, "ours_kobo": 0, "theirs_count": 0,
                                                       "theirs_kobo": 0, "mismatches": 0, UNSETTLED: 0})
        if o.side == "succeeded":
            tally["ours_count"] += 1
            tally["ours_kobo"] += o.amount_kobo
        if theirs.status == "succeeded":
            tally["theirs_count"] += 1
            tally["theirs_kobo"] += theirs.amount_kobo or 0
        kind = classify(o, theirs)
        if kind == UNSETTLED:
            tally[UNSETTLED] += 1
        elif kind is not None:
            tally["mismatches"] += 1
            _mismatch(run, kind, o, theirs)
        calls.persist(_PaymentId(o.payment_id), logs.get(o.payment_id, []))
    calls.persist(None, logs.get(0, []))
    run.by_estate = by_estate
    for key in ("ours_count", "ours_kobo", "theirs_count", "theirs_kobo"):
        setattr(run, key, sum(t[key] for t in by_estate.values()))
    run.mismatch_count = sum(t["mismatches"] for t in by_estate.values())
    for bill in listing.unknown_to_us(ours, listed or []):
        run.mismatch_count += 1
        if bill.status == "succeeded":
            run.theirs_count += 1
            run.theirs_kobo += bill.amount_kobo or 0
        db.session.add(ReconciliationMismatch(
            run_id=run.id, kind=UNKNOWN_TO_US, reference=bill.reference[:120], provider_refs=refs_text(None, bill),
            provider_amount_kobo=bill.amount_kobo, provider_status=bill.status))
    db.session.commit()
    return run


@dataclass(frozen=True)
class _PaymentId:
    id: int  # all ``calls.persist`` needs of a payment


def _mismatch(run: ReconciliationRun, kind: str, o: Ours, theirs: PurchaseResult) -> None:
    row = ReconciliationMismatch(
        run_id=run.id, estate_id=o.estate_id, payment_id=o.payment_id, kind=kind, reference=o.reference,
        provider_refs=refs_text(o.keys, theirs), our_amount_kobo=o.amount_kobo,
        provider_amount_kobo=theirs.amount_kobo, our_status=o.status, provider_status=theirs.status)
    db.session.add(row)
    words = {LOST: f"says it succeeded but we refunded it: {naira(theirs.amount_kobo or o.amount_kobo)} may be lost",
             MISSING: f"has no successful record of it ({theirs.status}); we count {naira(o.amount_kobo)} as paid",
             AMOUNT: f"records {naira(theirs.amount_kobo)}; we recorded {naira(o.amount_kobo)}"}[kind]
    insert_once(AdminAlert, {
        "estate_id": o.estate_id, "kind": "reconciliation", "payment_id": o.payment_id,
        "message": f"Reconciliation {run.day.isoformat()}: {run.api_provider} {words} (payment {o.reference})."[:255],
        "dedup_key": f"recon:{run.api_provider}:{run.day.isoformat()}:{kind}:{o.reference}"[:120],
        "details": {"mismatch": kind, "day": run.day.isoformat(), "provider": run.api_provider,
                    "reference": o.reference, "provider_refs": row.provider_refs,
                    "our_amount_kobo": o.amount_kobo, "provider_amount_kobo": theirs.amount_kobo,
                    "our_status": o.status, "provider_status": theirs.status},
        "created_at": utcnow(),
    })
