"""The wallet ledger: balanced, idempotent, never overdrawn, and able to prove it."""
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from webapp.extensions import db
from webapp.models import Account, JournalEntry, Posting
from webapp.services import ledger
from webapp.services.ledger import invariants


def counts() -> tuple[int, int, int]:
    return (
        db.session.scalar(select(func.count(JournalEntry.id))),
        db.session.scalar(select(func.count(Posting.id))),
        db.session.scalar(select(func.count(Account.id))),
    )


@pytest.fixture
def wallet(resident) -> Account:
    account = ledger.wallet_account(resident.id)
    db.session.commit()
    return account


@pytest.fixture
def funded_wallet(resident, wallet) -> Account:
    ledger.credit_funding(resident.id, 10_000, "paystack", "FUND-1")
    db.session.commit()
    return wallet


@pytest.fixture
def paystack() -> Account:
    account = ledger.system_account("funding:paystack")
    db.session.commit()
    return account


def test_funding_credit_then_debit_then_refund_leaves_the_right_balances(resident, wallet):
    ledger.credit_funding(resident.id, 10_000, "paystack", "FUND-1")
    db.session.commit()
    assert ledger.balance(wallet.id) == 10_000
    assert ledger.balance(ledger.system_account("funding:paystack").id) == -10_000

    ledger.debit_payment(resident.id, 4_000, 100, "vtpass", "PAY-1")
    db.session.commit()
    assert ledger.balance(wallet.id) == 5_900
    assert ledger.balance(ledger.system_account("clearing:vtpass").id) == 4_000
    assert ledger.balance(ledger.system_account("fees").id) == 100

    ledger.refund_payment("PAY-1")
    db.session.commit()
    assert ledger.balance(wallet.id) == 10_000
    assert ledger.balance(ledger.system_account("clearing:vtpass").id) == 0
    assert ledger.balance(ledger.system_account("fees").id) == 0
    assert ledger.check_invariants() == []


def test_replaying_a_funding_credit_five_times_posts_it_once(resident, wallet):
    entries = [ledger.credit_funding(resident.id, 2_500, "flutterwave", "FUND-9") for _ in range(5)]
    db.session.commit()
    assert len({entry.id for entry in entries}) == 1
    assert counts()[0] == 1
    assert ledger.balance(wallet.id) == 2_500


def test_a_key_reused_for_a_different_movement_raises(resident, funded_wallet, paystack):
    ledger.post_entry("adjust:1", [(funded_wallet, 500), (paystack, -500)], kind="adjustment")
    db.session.commit()
    with pytest.raises(ledger.IdempotencyConflict):
        ledger.post_entry("adjust:1", [(funded_wallet, 600), (paystack, -600)], kind="adjustment")
    assert ledger.balance(funded_wallet.id) == 10_500


@pytest.mark.parametrize(
    "amounts",
    [
        pytest.param((500, -400), id="unbalanced"),
        pytest.param((500,), id="one-posting"),
        pytest.param((5.0, -5.0), id="float"),
        pytest.param((Decimal(5), Decimal(-5)), id="decimal"),
        pytest.param((True, -1), id="bool"),
        pytest.param((0, 0), id="zero"),
    ],
)
def test_malformed_postings_are_refused_and_nothing_is_written(funded_wallet, paystack, amounts):
    before = counts()
    postings = list(zip([funded_wallet, paystack], amounts, strict=False))
    with pytest.raises(ledger.InvalidPostings):
        ledger.post_entry("bad:1", postings, kind="adjustment")
    db.session.commit()
    assert counts() == before
    assert ledger.balance(funded_wallet.id) == 10_000


def test_two_postings_to_the_same_account_are_refused(funded_wallet, paystack):
    with pytest.raises(ledger.InvalidPostings):
        ledger.post_entry("bad:2", [(funded_wallet, 5), (funded_wallet, -5)], kind="adjustment")


def test_a_debit_above_the_balance_raises_insufficient_funds_and_writes_nothing(resident, funded_wallet):
    before = counts()
    with pytest.raises(ledger.InsufficientFunds) as raised:
        ledger.debit_payment(resident.id, 9_950, 100, "flutterwave", "PAY-2")
    # The caller's transaction is still clean and usable: committing it moves no money (the empty
    # clearing and fee accounts may have been opened on first use; that is not a movement).
    db.session.commit()
    assert (raised.value.account_id, raised.value.available_kobo, raised.value.requested_kobo) == (
        funded_wallet.id, 10_000, 10_050)
    assert counts()[:2] == before[:2]
    assert ledger.check_invariants() == []
    assert ledger.balance(funded_wallet.id) == 10_000
    assert ledger.find_entry(ledger.payment_debit_key("PAY-2")) is None


def test_a_debit_of_the_whole_balance_is_allowed(resident, funded_wallet):
    ledger.debit_payment(resident.id, 9_900, 100, "flutterwave", "PAY-3")
    db.session.commit()
    assert ledger.balance(funded_wallet.id) == 0


def test_a_refund_is_the_exact_reverse_of_the_debit(resident, funded_wallet):
    debit = ledger.debit_payment(resident.id, 3_000, 150, "vtpass", "PAY-4")
    refund = ledger.refund_payment("PAY-4")
    db.session.commit()
    debit_postings = ledger.entry_postings(debit.id)
    assert len(debit_postings) == 3  # wallet, provider clearing, fees
    assert ledger.entry_postings(refund.id) == [(account, -amount) for account, amount in debit_postings]
    assert (refund.idempotency_key, refund.kind, refund.reference) == (
        "payment:PAY-4:refund", "payment_refund", "PAY-4")


def test_refunding_twice_refunds_once(resident, funded_wallet):
    ledger.debit_payment(resident.id, 3_000, 0, "vtpass", "PAY-5")
    first = ledger.refund_payment("PAY-5")
    second = ledger.refund_payment("PAY-5")
    db.session.commit()
    assert first.id == second.id
    assert ledger.balance(funded_wallet.id) == 10_000


def test_refunding_a_payment_that_was_never_debited_raises(funded_wallet):
    with pytest.raises(ledger.NothingToRefund):
        ledger.refund_payment("PAY-NEVER")


def test_paying_an_estate_moves_money_to_the_estate_wallet_and_refunds_back(resident, estate, funded_wallet):
    ledger.pay_estate(resident.id, estate.id, 7_000, "BILL-1")
    db.session.commit()
    estate_wallet = ledger.estate_account(estate.id)
    assert (ledger.balance(funded_wallet.id), ledger.balance(estate_wallet.id)) == (3_000, 7_000)
    ledger.refund_payment("BILL-1")
    db.session.commit()
    assert (ledger.balance(funded_wallet.id), ledger.balance(estate_wallet.id)) == (10_000, 0)


def test_the_caller_commits_so_its_rollback_undoes_the_movement(resident):
    ledger.credit_funding(resident.id, 1_000, "paystack", "FUND-2")
    db.session.rollback()
    assert counts() == (0, 0, 0)
    assert ledger.wallet_balance(resident.id) == 0


def test_a_wallet_is_opened_once_per_resident(resident):
    first = ledger.wallet_account(resident.id)
    second = ledger.wallet_account(resident.id)
    db.session.commit()
    assert first.id == second.id and first.kind == "resident_wallet" and not first.allow_negative
    assert counts()[2] == 1


def test_a_wallet_for_a_user_that_does_not_exist_is_refused(app):
    with pytest.raises(ledger.UnknownAccount):
        ledger.wallet_account(424242)


def test_unknown_system_account_codes_are_refused(app):
    with pytest.raises(ledger.UnknownAccount):
        ledger.system_account("petty-cash")


def test_the_database_refuses_a_negative_wallet_balance_even_without_the_service(funded_wallet):
    with pytest.raises(IntegrityError):
        db.session.execute(text("UPDATE accounts SET balance_kobo = -1 WHERE id = :id"), {"id": funded_wallet.id})
        db.session.flush()
    db.session.rollback()


def test_the_statement_pages_newest_first_with_a_running_balance(resident, funded_wallet):
    for n, amount in enumerate([1_000, 2_000, 500], start=1):
        ledger.debit_payment(resident.id, amount, 0, "vtpass", f"PAY-S{n}")
    ledger.refund_payment("PAY-S2")
    db.session.commit()
    # Oldest to newest: +10000, -1000, -2000, -500, +2000 -> balances 10000, 9000, 7000, 6500, 8500.
    first = ledger.statement(funded_wallet.id, page=1, per_page=2)
    second = ledger.statement(funded_wallet.id, page=2, per_page=2)
    third = ledger.statement(funded_wallet.id, page=3, per_page=2)
    lines = first.items + second.items + third.items
    assert [(line.amount_kobo, line.balance_after_kobo) for line in lines] == [
        (2_000, 8_500), (-500, 6_500), (-2_000, 7_000), (-1_000, 9_000), (10_000, 10_000)]
    assert (first.total, first.pages, first.has_next, third.has_next) == (5, 3, True, False)
    assert [line.kind for line in first.items] == ["payment_refund", "payment_debit"]
    assert first.items[0].reference == "PAY-S2"


def test_a_statement_page_past_the_end_is_empty(funded_wallet):
    assert ledger.statement(funded_wallet.id, page=9, per_page=10).items == []


def test_ledger_check_reports_ok_with_counts(runner, resident, funded_wallet):
    result = runner.invoke(args=["ledger", "check"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "ledger ok: 1 entries, 2 accounts, 1 system postings awaiting the roll-up"
    assert runner.invoke(args=["ledger", "roll-up"]).output.strip() == "rolled up 1 system account(s)"
    assert runner.invoke(args=["ledger", "check"]).output.strip() == \
        "ledger ok: 1 entries, 2 accounts, 0 system postings awaiting the roll-up"


def test_ledger_check_names_an_account_whose_cached_balance_was_corrupted(runner, resident, funded_wallet):
    db.session.execute(text("UPDATE accounts SET balance_kobo = 9999 WHERE id = :id"), {"id": funded_wallet.id})
    db.session.commit()
    result = runner.invoke(args=["ledger", "check"])
    assert result.exit_code == 1
    assert f"account {funded_wallet.id} (wallet of user {resident.id}): cached balance 9999 kobo" in result.output


def test_ledger_check_reports_an_unbalanced_entry(runner, funded_wallet):
    db.session.execute(text("UPDATE postings SET amount_kobo = 1 WHERE account_id = :id"), {"id": funded_wallet.id})
    db.session.commit()
    problems = ledger.check_invariants()
    assert any(p.startswith("all postings sum to") for p in problems)
    assert any("(funding:FUND-1:credit) has 2 posting(s) summing to -9999 kobo" in p for p in problems)


def test_registered_invariants_run_with_the_ledger_checks(runner, monkeypatch, funded_wallet):
    monkeypatch.setitem(invariants._registered, "payments", lambda: ["payment PAY-X debited twice"])
    result = runner.invoke(args=["ledger", "check"])
    assert result.exit_code == 1
    assert result.output.strip() == "payments: payment PAY-X debited twice"


def test_the_unique_key_is_the_final_guard_when_a_duplicate_slips_past_the_checks(
        resident, funded_wallet, monkeypatch):
    from webapp.services.ledger import entries

    first = ledger.find_entry(ledger.funding_credit_key("FUND-1"))
    real_replay = entries.replay
    calls = []

    def blind_until_the_insert_fails(*args):
        # Pretend a concurrent transaction committed the key after both of our look-ups.
        calls.append(args)
        return None if len(calls) <= 2 else real_replay(*args)

    monkeypatch.setattr(entries, "replay", blind_until_the_insert_fails)
    again = ledger.credit_funding(resident.id, 10_000, "paystack", "FUND-1")
    db.session.commit()
    assert len(calls) == 3
    assert again.id == first.id
    assert counts()[:2] == (1, 2)
    assert ledger.balance(funded_wallet.id) == 10_000


# --- many debits at once (the batch worker) ------------------------------------------------------

def _debits(resident, *amounts, provider="vtpass", fee=100, prefix="PAY-B"):
    ids = (ledger.wallet_account(resident.id).id, ledger.system_account(f"clearing:{provider}").id,
           ledger.system_account("fees").id)
    return [ledger.Debit(resident.id, amount, fee, provider, f"{prefix}{n}", ids) for n, amount in enumerate(amounts)]


def test_bulk_debits_are_taken_in_order_while_the_wallet_covers_them(resident, funded_wallet):
    refused = ledger.debit_payments(_debits(resident, 4_000, 7_000, 3_000))
    db.session.commit()
    assert refused["PAY-B0"] is None and refused["PAY-B2"] is None
    assert isinstance(refused["PAY-B1"], ledger.InsufficientFunds)  # 5,900 left when it came
    assert (refused["PAY-B1"].available_kobo, refused["PAY-B1"].requested_kobo) == (5_900, 7_100)
    assert ledger.balance(funded_wallet.id) == 10_000 - 4_100 - 3_100
    assert ledger.find_entry(ledger.payment_debit_key("PAY-B1")) is None
    assert ledger.balance(ledger.system_account("clearing:vtpass").id) == 7_000
    assert ledger.balance(ledger.system_account("fees").id) == 200
    assert ledger.check_invariants() == []


def test_bulk_debits_posted_before_are_not_posted_again(resident, funded_wallet):
    ledger.debit_payments(_debits(resident, 1_000, 2_000))
    db.session.commit()
    assert ledger.debit_payments(_debits(resident, 1_000, 2_000)) == {"PAY-B0": None, "PAY-B1": None}
    db.session.commit()
    assert ledger.balance(funded_wallet.id) == 10_000 - 1_100 - 2_100
    with pytest.raises(ledger.IdempotencyConflict):  # the same key for another amount
        ledger.debit_payments(_debits(resident, 1_500))
    db.session.rollback()
    assert ledger.check_invariants() == []


def test_bulk_debits_refuse_what_is_not_a_bill_payment(resident, funded_wallet):
    with pytest.raises(ledger.InvalidPostings, match="bills provider"):
        ledger.debit_payments(_debits(resident, 1_000, provider="paystack"))
    with pytest.raises(ledger.InvalidPostings, match="once"):
        ledger.debit_payments(_debits(resident, 1_000) + _debits(resident, 2_000))
    assert ledger.check_invariants() == []
