"""What we tell people about, and on which channels by default.

Defaults (a person's saved choice overrides them; a channel missing from a row is off by default,
so SMS, in no row, is off for every event until a person turns it on, and needs a phone number):

| event               | in_app | email | why email                                     |
|---------------------|--------|-------|-----------------------------------------------|
| payment_upcoming    | on     | off   | frequent; the inbox is enough                 |
| payment_succeeded   | on     | on    | carries the token/units the resident needs    |
| payment_failed      | on     | on    | money needs attention                         |
| payment_delayed     | on     | on    | outcome unknown for long; reassure and inform |
| low_balance         | on     | on    | an automation will not pay without funds      |
| limit_reached       | on     | off   | the resident set the limit themselves         |
| automation_paused   | on     | on    | nothing will be paid until they act           |
| wallet_funded       | on     | off   | they just did it themselves                   |
| estate_bill_issued  | on     | on    | a new bill from the estate                    |
| estate_bill_overdue | on     | on    | a bill past its due date                      |
| payment_held        | on     | off   | held for review; the admin resolves it        |
| payment_refunded    | on     | off   | shown next to the failure they already got    |
| monthly_summary     | on     | on    | once a month: what autopay did, at a glance   |
| payout_approval     | on     | on    | (admins) a payout needs a second admin        |
| payout_outcome      | on     | on    | (admins) estate money reached the bank, or not |

The payout events go to estate admins only (``ADMIN_EVENTS``): a resident's preferences page does
not list them.
"""
from __future__ import annotations

import enum


class NotificationEvent(enum.StrEnum):
    PAYMENT_UPCOMING = "payment_upcoming"
    PAYMENT_SUCCEEDED = "payment_succeeded"
    PAYMENT_FAILED = "payment_failed"
    PAYMENT_DELAYED = "payment_delayed"
    LOW_BALANCE = "low_balance"
    LIMIT_REACHED = "limit_reached"
    AUTOMATION_PAUSED = "automation_paused"
    WALLET_FUNDED = "wallet_funded"
    ESTATE_BILL_ISSUED = "estate_bill_issued"
    ESTATE_BILL_OVERDUE = "estate_bill_overdue"
    PAYMENT_HELD = "payment_held"
    PAYMENT_REFUNDED = "payment_refunded"
    MONTHLY_SUMMARY = "monthly_summary"
    PAYOUT_APPROVAL = "payout_approval"
    PAYOUT_OUTCOME = "payout_outcome"


E = NotificationEvent
_IN_APP_ONLY = frozenset({"in_app"})
_BOTH = frozenset({"in_app", "email"})

DEFAULT_CHANNELS: dict[NotificationEvent, frozenset[str]] = {
    E.PAYMENT_UPCOMING: _IN_APP_ONLY,
    E.PAYMENT_SUCCEEDED: _BOTH,
    E.PAYMENT_FAILED: _BOTH,
    E.PAYMENT_DELAYED: _BOTH,
    E.LOW_BALANCE: _BOTH,
    E.LIMIT_REACHED: _IN_APP_ONLY,
    E.AUTOMATION_PAUSED: _BOTH,
    E.WALLET_FUNDED: _IN_APP_ONLY,
    E.ESTATE_BILL_ISSUED: _BOTH,
    E.ESTATE_BILL_OVERDUE: _BOTH,
    E.PAYMENT_HELD: _IN_APP_ONLY,
    E.PAYMENT_REFUNDED: _IN_APP_ONLY,
    E.MONTHLY_SUMMARY: _BOTH,
    E.PAYOUT_APPROVAL: _BOTH,
    E.PAYOUT_OUTCOME: _BOTH,
}
ADMIN_EVENTS = frozenset({E.PAYOUT_APPROVAL, E.PAYOUT_OUTCOME})

# The preferences page, in the resident's words.
EVENT_LABELS: dict[NotificationEvent, tuple[str, str]] = {
    E.PAYMENT_UPCOMING: ("Upcoming payment", "A reminder before an automatic payment runs."),
    E.PAYMENT_SUCCEEDED: ("Payment succeeded", "With the token or units when there is one."),
    E.PAYMENT_FAILED: ("Payment failed", "Why it failed; any money taken is refunded."),
    E.PAYMENT_DELAYED: ("Payment delayed", "The provider has not confirmed a payment for a long time."),
    E.LOW_BALANCE: ("Low wallet balance", "Your wallet cannot cover a payment that is due."),
    E.LIMIT_REACHED: ("Limit reached", "A spending limit or monthly cap stopped a payment."),
    E.AUTOMATION_PAUSED: ("Automation paused", "An automatic payment stopped after repeated failures."),
    E.WALLET_FUNDED: ("Wallet funded", "Money you added reached your wallet."),
    E.ESTATE_BILL_ISSUED: ("Estate bill issued", "Your estate sent you a new bill."),
    E.ESTATE_BILL_OVERDUE: ("Estate bill overdue", "An estate bill is past its due date."),
    E.PAYMENT_HELD: ("Payment held for review", "A payment waits for an estate admin to check it."),
    E.PAYMENT_REFUNDED: ("Payment refunded", "Money for a payment went back to your wallet."),
    E.MONTHLY_SUMMARY: ("Monthly summary", "On the 1st: what autopay paid, held and skipped last month."),
    E.PAYOUT_APPROVAL: ("Payout awaiting approval", "Another admin asked to send estate money to the bank."),
    E.PAYOUT_OUTCOME: ("Payout result", "A payout you asked for or approved was paid, failed or reversed."),
}

assert set(DEFAULT_CHANNELS) == set(NotificationEvent) == set(EVENT_LABELS), "every event needs defaults and words"


def default_enabled(event: NotificationEvent, channel: str) -> bool:
    return channel in DEFAULT_CHANNELS[event]
