"""Driving one payment through DESIGN §4: debit, submit, learn the outcome, refund on failure.

Rules kept here, in one place:
- ``submitted`` is committed before the HTTP call, so a crash leaves evidence.
- No HTTP call while any row lock is held: every step is lock → decide → commit, then talk.
- Timeouts, 5xx and ambiguous answers after sending mean ``unknown``; unknowns are requeried by
  every reference the purchase is known by (``references.keys_for``) and sent again only on an
  authoritative "no record" (below).
- A failure after debit posts the refund in the same transaction as the ``failed`` state.
- A prepaid purchase that succeeds without its token is ``succeeded`` with the token outstanding;
  ``fetch_token`` keeps asking for it on ``policy.TOKEN_BACKOFF``.

What counts as "this purchase was never processed" (the only answer that allows a resend):
- VTpass: ``POST requery`` answering code 015 "INVALID REQUEST ID" ("This RequestID was not used on
  our platform", vtpass.com/documentation/response-codes) for every request_id the purchase went
  out under. Any other code, a timeout, a 5xx or an unreadable answer is not.
- Flutterwave: its status endpoint is keyed by its own tx_ref (developer.flutterwave.com/v3.0.0/
  reference/get-status-of-a-bill-payment), which a purchase that timed out never received, and a
  404 from it proves nothing (it may be the wrong key). So: the bill listing (``GET /bills?from=&to=``,
  Node-v3 Bills.fetch_bills), fetched page by page over the days around the purchase, listing
  per-bill rows, none with our reference as ``customer_reference``, and fetched at least
  ``FLUTTERWAVE_RECORD_LAG_SECONDS`` after the purchase was last sent. Once Flutterwave has given us
  a tx_ref or flw_ref for the bill, nothing ever counts as "no record". A listing with only a
  summary (the shape Flutterwave's published sample shows) never does either.
Anything weaker leaves the payment ``unknown``: it is asked again on ``policy.REQUERY_BACKOFF`` and, past
``PAYMENT_ALERT_AFTER_SECONDS``, the estate's admins get one alert with what they need to resolve
it by hand (the janitor).

VTpass across midnight: VTpass refuses a request_id not dated today in Lagos (code 085), including
a resend of the same one after midnight. After the authoritative 015 for every request_id so far,
the resend goes out under a new one (``references.add_request_id``: today's date, our suffix and
the attempt number), kept on the payment; every earlier request_id is still asked about until the
payment is final, and a success on any of them settles it. This cannot buy twice: VTpass has said
it never saw the old ones, it refuses them from now on because of their date, and the new one is
made once per attempt, recorded before it is sent, and unique per payment.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from webapp.extensions import db
from webapp.infra import provider_slots
from webapp.models.base import utcnow
from webapp.models.bill import Bill, BillStatus
from webapp.models.payment import Payment, PaymentKind, PaymentStatus
from webapp.money import naira
from webapp.providers.base import ErrorClass, PaymentErrorType, ProviderError, PurchaseResult
from webapp.services import audit, ledger, notify, policy
from webapp.services.households import limits
from webapp.services.payments import calls, card, leases, outcomes, references, state
from webapp.services.payments.wording import describe_error

log = logging.getLogger(__name__)
S = PaymentStatus
PROVABLE_MARGIN = timedelta(seconds=5)



class TransientPaymentError(RuntimeError):
    """Raised from the job after a transient provider error so RQ's Retry schedules the next try."""


# --- steps -------------------------------------------------------------------------------------

def process(payment_id: int) -> str:
    """The worker's job: move a payment as far as it can go now. Safe to run twice.

    A utility payment paid from the wallet is debited and marked ``submitted`` in one
    transaction (both transitions are on the timeline; the money and the state commit together),
    then the purchase is sent. An estate bill completes at its debit.
    """
    payment = state.load(payment_id)
    if payment is None:
        raise LookupError(f"payment {payment_id} does not exist")
    status, by_card, kind = payment.status, bool(payment.details.get("card_id")), payment.kind
    db.session.rollback()
    if status == S.CREATED and by_card:
        card.fund_from_card(payment_id)
    if kind == PaymentKind.ESTATE_BILL:
        if status == S.CREATED:
            debit(payment_id)
    elif status in (S.CREATED, S.DEBITED):
        submit(payment_id, debit_first=True)
    status = state.load(payment_id).status
    db.session.rollback()
    return status


def debit(payment_id: int) -> None:
    """created → debited, or cancelled when the wallet cannot cover it (nothing moves).

    An estate bill is an internal transfer (wallet → estate wallet): it completes at the debit.
    """
    payment = state.lock(payment_id)
    if payment.status != S.CREATED:
        db.session.rollback()
        return
    estate_bill = payment.kind == PaymentKind.ESTATE_BILL
    bill = None
    if estate_bill:
        # The bill and the money move together, under the bill's lock: never pay more than is owed.
        bill = db.session.execute(select(Bill).where(Bill.id == payment.bill_id).with_for_update()).scalar_one()
        if bill.status in (BillStatus.PAID, BillStatus.CANCELLED) or payment.amount_kobo > bill.outstanding_kobo:
            state.transition(payment, S.CANCELLED, f"{bill.title} no longer owes {naira(payment.amount_kobo)} "
                                                   f"({naira(bill.outstanding_kobo)} outstanding). Nothing was taken.")
            outcomes.cancelled(payment)
            db.session.commit()
            return
    if not debit_locked(payment):
        db.session.commit()  # cancelled: nothing was taken
        return
    if estate_bill:
        bill.apply_payment(payment.amount_kobo)
        state.transition(payment, S.SUCCEEDED, "Paid into the estate's wallet")
        _after_success(payment)
    db.session.commit()


def debit_locked(payment: Payment, account_ids: tuple[int, int, int] | None = None) -> bool:
    """created → debited on the locked payment, posting the debit in the caller's transaction.

    When the wallet cannot cover it the payment is cancelled instead and False returned: the
    ledger refuses before it writes anything, so nothing moves. The caller commits either way.
    """
    key = limits.cap_key(payment)
    if key is not None:
        # A household member's payment: their allowance is read under the owner's wallet lock, the
        # lock this debit takes anyway (taken first here), so no other debit can use it meanwhile.
        ledger.lock_wallets([payment.user_id])
        reason = limits.allowances([key])[key].refusal(payment.total_kobo)
        if reason is not None:
            fail_over_limit(payment, reason)
            return False
    try:
        if payment.kind == PaymentKind.ESTATE_BILL:
            ledger.pay_estate(payment.user_id, payment.estate_id, payment.amount_kobo, payment.reference)
        else:
            ledger.debit_payment(payment.user_id, payment.amount_kobo, payment.fee_kobo,
                                 payment.api_provider, payment.reference, account_ids=account_ids)
    except ledger.InsufficientFunds as exc:
        cancel_for_funds(payment, exc)
        return False
    record_debit(payment)
    return True


def fail_over_limit(payment: Payment, reason: str) -> None:
    """created → failed before any debit: over the household payer's monthly limit (or no longer
    theirs to make). Nothing was taken."""
    state.transition(payment, S.FAILED, reason)
    audit.record("payment.over_household_limit", "payment", payment.id, estate_id=payment.estate_id,
                 actor="worker", after={"reference": payment.reference, "made_by_id": payment.made_by_id})
    outcomes.failed(payment, refunded=False)


def record_debit(payment: Payment) -> None:
    """created → debited once its debit is posted (in the same transaction)."""
    payment.next_check_at = utcnow() + policy.payment_stale_after()
    state.transition(payment, S.DEBITED, f"Wallet debited {naira(payment.total_kobo)}")
    audit.record("payment.debit", "payment", payment.id, estate_id=payment.estate_id, actor="worker",
                 after={"reference": payment.reference, "debited_kobo": payment.total_kobo})


def cancel_for_funds(payment: Payment, exc: ledger.InsufficientFunds) -> None:
    """created → cancelled: the wallet could not cover it and nothing was taken."""
    state.transition(payment, S.CANCELLED,
                     f"Not enough money in your wallet: {naira(exc.available_kobo)} available, "
                     f"{naira(payment.total_kobo)} needed. Nothing was taken.")
    outcomes.cancelled(payment)


def submit(payment_id: int, *, resend: bool = False, debit_first: bool = False) -> None:
    """(created →) debited → submitted (committed), then the purchase call, then its outcome.

    With ``debit_first`` a ``created`` payment is debited in the same transaction that marks it
    ``submitted``: a crash before that commit leaves it ``created`` with nothing taken, after it
    ``submitted`` with exactly one debit (the janitor asks the provider). With ``resend`` the
    payment is ``unknown`` and the provider has confirmed it has no record of the reference; the
    same reference is sent again.
    """
    # What the call and the outcome need, read before the lock (never changes for a payment), so
    # the locked transaction is short.
    context = calls.purchase_context(payment_id)
    if context is None:
        db.session.rollback()
        return
    db.session.rollback()
    payment = state.lock(payment_id)
    if debit_first and payment.status == S.CREATED:
        if not debit_locked(payment, context.account_ids):
            db.session.commit()  # cancelled: nothing was taken
            return
        pause_at("after_debit")  # inside the transaction: a crash here commits nothing
    expected = S.UNKNOWN if resend else S.DEBITED
    if payment.status != expected:
        db.session.rollback()
        return
    mark_submitted(payment, context.request["reference"], resend=resend)
    db.session.commit()
    pause_at("after_submit")

    db.session.rollback()  # nothing pending; hold no transaction open across the HTTP call
    with leases.held([payment_id]):
        result, err, log_calls = send_purchase(context)
    pause_at("before_result")
    if err is not None:
        _after_purchase_error(payment_id, err, log_calls, context)
    else:
        apply_result(payment_id, result, log_calls, source="purchase", context=context)


def mark_submitted(payment: Payment, request_id: str, *, resend: bool = False) -> None:
    """debited (or unknown, for a resend) → submitted, in the caller's transaction, which must
    commit before the purchase is sent."""
    payment.purchase_attempts += 1
    payment.submitted_at = utcnow()
    payment.next_check_at = payment.submitted_at + policy.submission_lease()  # renewed while the call is out
    if not resend:
        what = "Sent to provider"
    elif request_id == payment.reference:
        what = "Resent under the same reference (provider had no record)"
    else:
        what = f"Resent under request_id {request_id} (provider had no record of the earlier one)"
    state.transition(payment, S.SUBMITTED, f"{what}, attempt {payment.purchase_attempts}")


def send_purchase(context: calls.PurchaseContext, shared_slots: provider_slots.SharedSlots | None = None
                  ) -> tuple[PurchaseResult | None, ProviderError | None, list]:
    """The purchase call (no transaction open, no lock held): its result or its error, and the
    calls made (in one of ``shared_slots``, its batch's, when given). Thread-safe: it touches no
    database session."""
    log_calls: list = []
    try:
        service = calls.service_for(context.api_provider, log_calls, shared_slots)
        return service.purchase_utility(**context.request), None, log_calls
    except ProviderError as err:
        return None, err, log_calls


def _after_purchase_error(payment_id: int, err: ProviderError, log_calls: list,
                          context: calls.PurchaseContext | None = None) -> None:
    payment = state.lock(payment_id)
    retry = record_error(payment, err, log_calls, context)
    db.session.commit()
    if retry:
        raise TransientPaymentError(f"{payment.reference}: {err.error_type}")


def record_error(payment: Payment, err: ProviderError, log_calls: list,
                 context: calls.PurchaseContext | None = None) -> bool:
    """Record a purchase that raised, on the locked payment, in the caller's transaction. True
    when it went back to ``debited`` to be sent again after a delay (the caller has the job retried)."""
    calls.persist(payment, log_calls)
    payment.error_type = err.error_type.value
    if payment.status not in (S.SUBMITTED, S.UNKNOWN):
        note_late(payment, f"purchase error after the payment moved on: {err.error_type}")
        return False
    if err.error_class == ErrorClass.PERMANENT:
        _fail_and_refund(payment, describe_error(err), context)
    elif err.error_class == ErrorClass.TRANSIENT and payment.status == S.SUBMITTED:
        # The provider never accepted it: safe to send the same reference again later.
        if isinstance(err, provider_slots.ProviderBusy):
            payment.purchase_attempts -= 1  # waited for a free slot; nothing was sent
        if payment.purchase_attempts >= current_app.config["PAYMENT_MAX_PURCHASE_ATTEMPTS"]:
            _fail_and_refund(payment, "The provider could not be reached after several tries. "
                                      "Your money has been returned to your wallet.", context)
        else:
            delay = policy.purchase_retry_delay(payment.purchase_attempts)
            payment.next_check_at = utcnow() + delay
            state.transition(payment, S.DEBITED,
                             f"Provider unavailable ({err.error_type}); retrying in {int(delay.total_seconds())} s")
            return True
    else:
        _mark_unknown(payment, f"Outcome not known yet ({err.error_type}); checking with the provider",
                      answered=False)
    return False


def apply_result(payment_id: int, result: PurchaseResult, log_calls: list, source: str,
                 context: calls.PurchaseContext | None = None) -> None:
    """Record what the provider said. Final truths win over ``submitted``/``unknown``."""
    payment = state.lock(payment_id)
    record_result(payment, result, log_calls, source, context)
    db.session.commit()


def record_result(payment: Payment, result: PurchaseResult, log_calls: list, source: str,
                  context: calls.PurchaseContext | None = None, known: references.Owners | None = None) -> None:
    """``apply_result`` on the locked payment, in the caller's transaction (``known``: the owners
    of the answer's references, read once for a batch)."""
    calls.persist(payment, log_calls)
    if payment.status not in (S.SUBMITTED, S.UNKNOWN):
        note_late(payment, f"{source} answered '{result.status}' after the payment was {payment.status}")
        return
    if result.provider_reference:
        payment.provider_reference = result.provider_reference
    references.record(payment, result.refs, known)
    if result.status == "succeeded":
        payment.token = result.token or payment.token
        payment.units = result.units or payment.units
        if result.key_change_tokens:
            payment.key_change_tokens = result.key_change_tokens
        payment.error_type = None
        token_owed = not payment.token and (context.expects_token if context else calls.expects_token(payment))
        via = f" (request_id {result.request_id})" if result.request_id and result.request_id != payment.reference \
            else ""
        state.transition(payment, S.SUCCEEDED, "Provider confirmed the purchase" + via
                         + (" with a token" if payment.token else "")
                         + ("; the token has not come yet, we keep asking for it" if token_owed else ""))
        if token_owed:
            payment.token_next_check_at = utcnow() + policy.token_check_delay(0)
        _after_success(payment, context)
    elif result.status == "failed":
        _fail_and_refund(payment, result.message or "The provider declined this payment.", context)
    else:  # pending, or not_found right after a purchase: ask again later
        _mark_unknown(payment, f"Provider says {result.status}; checking again later", answered=True)


def requery(payment_id: int, now: datetime | None = None, *, due_only: bool = True) -> datetime | None:
    """Ask the provider for the truth about an unknown payment (the janitor's main step).

    Only when its check is due (``due_only``; a bill webhook asks at once). Returns when to ask
    again if the status call got no answer at all (timeout, 5xx, unreadable): such a call says
    nothing about the purchase, so it does not count as a check and the next one comes within
    seconds (``policy.no_answer_retry_delay``); only an answer, such as "pending", moves the
    payment along ``policy.REQUERY_BACKOFF``.
    """
    now = now or utcnow()
    payment = state.lock(payment_id)
    if payment.status != S.UNKNOWN or (due_only and payment.next_check_at is not None
                                       and payment.next_check_at > now):
        db.session.rollback()
        return None
    # Claim: push the next check out so a second janitor does not requery it concurrently.
    payment.status_checks += 1
    payment.next_check_at = now + policy.requery_delay(payment.status_checks - 1)
    api_provider, keys = payment.api_provider, references.keys_for(payment)
    db.session.commit()
    result, failure, log_calls = _ask_status(api_provider, keys)
    payment = state.lock(payment_id)
    calls.persist(payment, log_calls)
    if payment.status != S.UNKNOWN:  # settled meanwhile (a webhook's check, an admin)
        db.session.commit()
        return None
    if failure is not None:
        payment.status_checks -= 1  # no answer: not a check
        retry_at = _no_answer(payment, now)
        state.note(payment, f"Status check got no answer ({failure.error_type}); asking again at "
                            f"{retry_at:%Y-%m-%d %H:%M:%S} UTC")
        db.session.commit()
        return retry_at
    _answered(payment)
    if result.status == "unconfirmed":  # a lookup that cannot prove anything: ask again later
        if result.provable_at is not None and result.provable_at < payment.next_check_at:
            # Only the provider's record lag stood in the way: ask once it has passed (a little
            # after, so the listing has settled), not at the next step of the backoff.
            payment.next_check_at = max(now, result.provable_at) + PROVABLE_MARGIN
        state.note(payment, f"Provider could not confirm yet ({result.message or 'no answer'}); "
                            f"next check at {payment.next_check_at:%Y-%m-%d %H:%M} UTC")
        db.session.commit()
        return None
    if result.status == "not_found":  # authoritative (see the module docstring)
        if references.needs_new_request_id(payment, now):
            new_id = references.add_request_id(payment, now)
            state.note(payment, f"Provider has no record of this purchase; its request_id is from an earlier "
                                f"Lagos day, so it goes out as {new_id}")
        else:
            state.note(payment, "Provider has no record of this reference")
        db.session.commit()
        submit(payment_id, resend=True)
        return None
    record_result(payment, result, [], source="status check")
    db.session.commit()
    return None


def take_over(payment_id: int, now: datetime | None = None) -> bool:
    """``submitted`` past its lease (the worker that sent it is gone, ``leases``) → ``unknown``,
    committed, so the caller asks the provider; never resent blindly. False when the payment moved
    on or its lease still runs (a live worker renewed it meanwhile)."""
    now = now or utcnow()
    payment = state.lock(payment_id)
    if payment.status != S.SUBMITTED or payment.next_check_at is None or payment.next_check_at > now:
        db.session.rollback()
        return False
    payment.next_check_at = now
    state.transition(payment, S.UNKNOWN, "No answer recorded from the provider call (worker stopped); "
                                         "checking with the provider")
    db.session.commit()
    return True


def fetch_token(payment_id: int, now: datetime | None = None, *, due_only: bool = False) -> bool:
    """Ask the provider for a token that did not come with a successful purchase (the janitor's
    step, the relay's job when it is ``due_only``, and the bill webhook's). True when the token
    arrived now; it is stored once and the resident told once."""
    now = now or utcnow()
    payment = state.lock(payment_id)
    if not payment.token_on_its_way or (due_only and payment.token_next_check_at is not None
                                        and payment.token_next_check_at > now):
        db.session.rollback()
        return False
    payment.token_checks += 1
    payment.token_next_check_at = now + policy.token_check_delay(payment.token_checks)
    api_provider, keys = payment.api_provider, references.keys_for(payment)
    db.session.commit()
    result, failure, log_calls = _ask_status(api_provider, keys)
    payment = state.lock(payment_id)
    calls.persist(payment, log_calls)
    if not payment.token_on_its_way:  # it came through another path meanwhile
        db.session.commit()
        return False
    if result is None or not result.token:
        said = f"failed ({failure.error_type})" if result is None else f"answered {result.status} without it"
        waited = now - (payment.completed_at or now)
        if waited > timedelta(seconds=current_app.config["TOKEN_GIVE_UP_SECONDS"]):
            payment.token_next_check_at = None
            state.note(payment, f"Still no token from the provider (status check {said}); no longer asking. "
                                "An estate admin will resolve it with the provider.")
        else:
            state.note(payment, f"Token not received yet (status check {said}); next check at "
                                f"{payment.token_next_check_at:%Y-%m-%d %H:%M} UTC")
        db.session.commit()
        return False
    references.record(payment, result.refs)
    payment.token = result.token
    payment.units = result.units or payment.units
    if result.key_change_tokens:
        payment.key_change_tokens = result.key_change_tokens
    payment.token_next_check_at = None
    payment.token_received_at = now
    state.note(payment, "Token received from the provider")
    outcomes.token_arrived(payment)
    db.session.commit()
    return True


def check_now(payment_id: int) -> str:
    """A provider told us something about this payment (a webhook): ask it now, through the same
    steps as the janitor. The event itself is never trusted."""
    now = utcnow()
    payment = state.load(payment_id)
    if payment is None:
        return "missing"
    status, owed = payment.status, payment.token_on_its_way
    db.session.rollback()
    if status == S.UNKNOWN or status == S.SUBMITTED:
        if status == S.SUBMITTED:
            return "in flight"  # the worker that sent it records the answer
        requery(payment_id, now, due_only=False)
        return "requeried"
    if owed:
        fetch_token(payment_id, now)
        return "token checked"
    return "nothing to do"


# --- helpers -------------------------------------------------------------------------------

def _ask_status(api_provider: str, keys) -> tuple[PurchaseResult | None, ProviderError | None, list]:
    """The provider's answer about a purchase (no lock held, no transaction open), or why it gave none."""
    log_calls: list = []
    try:
        return calls.service_for(api_provider, log_calls).query_status(keys), None, log_calls
    except ProviderError as err:
        return None, err, log_calls


def _mark_unknown(payment: Payment, reason: str, *, answered: bool) -> None:
    """submitted → unknown (or a note on one already unknown). ``answered``: the provider said
    something (pending); else the call got no answer, which starts the no-answer clock."""
    if answered:
        _answered(payment)
    elif payment.no_answer_since is None:
        payment.no_answer_since = utcnow()
    if payment.status == S.SUBMITTED:
        # The first check after a send comes at the first step, also after a resend: that
        # purchase is as new to the provider as the first was (its earlier checks were about the
        # attempt that the provider had no record of).
        payment.next_check_at = utcnow() + policy.requery_delay(0)
        state.transition(payment, S.UNKNOWN, reason)
    else:
        state.note(payment, reason)


def _no_answer(payment: Payment, now: datetime) -> datetime:
    """A status call got no answer: count it, and ask again within seconds. When to ask."""
    payment.status_call_failures += 1
    payment.no_answer_since = payment.no_answer_since or now
    payment.next_check_at = now + policy.no_answer_retry_delay(payment.status_call_failures)
    return payment.next_check_at


def _answered(payment: Payment) -> None:
    payment.status_call_failures = 0
    payment.no_answer_since = None


def _fail_and_refund(payment: Payment, reason: str, context: calls.PurchaseContext | None = None) -> None:
    """failed, and the refund posted in the same transaction."""
    state.transition(payment, S.FAILED, reason)
    ledger.refund_payment(payment.reference)
    audit.record("payment.refund", "payment", payment.id, estate_id=payment.estate_id, actor="worker",
                 after={"reference": payment.reference, "refunded_kobo": payment.total_kobo}, reason=reason)
    state.note(payment, f"Refunded {naira(payment.total_kobo)} to your wallet")
    if context is None:
        outcomes.failed(payment, refunded=True)
    else:
        outcomes.failed(payment, refunded=True, what=context.what,
                        to=context.recipients.get(notify.NotificationEvent.PAYMENT_FAILED))


def _after_success(payment: Payment, context: calls.PurchaseContext | None = None) -> None:
    if context is None:
        outcomes.succeeded(payment)
    else:
        outcomes.succeeded(payment, what=context.what, automation_id=context.automation_id,
                           to=context.recipients.get(notify.NotificationEvent.PAYMENT_SUCCEEDED))


def note_late(payment: Payment, reason: str) -> None:
    log.warning("payment %s: %s", payment.reference, reason)
    state.note(payment, reason)


def pause_at(point: str) -> None:
    """A test seam: crash-safety tests pause the worker here and kill it with SIGKILL."""
    seconds = current_app.config.get("PAYMENT_PAUSE_POINTS", {}).get(point)
    if seconds:
        import time

        log.info("pausing %s s at %s", seconds, point)
        time.sleep(seconds)


__all__ = ["PaymentErrorType", "TransientPaymentError", "process", "requery", "submit", "debit"]
