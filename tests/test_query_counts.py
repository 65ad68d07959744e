"""The dashboard and the history pages cost the same number of SQL statements at 10 and at 500 payments.

Statements are counted with a ``before_cursor_execute`` listener on the engine while one page is
requested. A page that loaded each payment's account or timeline one by one (N+1) would fail here.
"""
from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert

from webapp.extensions import db
from webapp.models import Payment

from .factories_payments import make_catalogue_entry, make_utility_account
from .sql_counting import counted_statements, fetch

PAGES = [
    "/",
    "/payments/",
    "/payments/?page=2",
    "/payments/?type=electricity&status=succeeded&from=2024-01-01&to=2030-12-31",
    "/payments/export.csv",
]
STATUSES = ["succeeded"] * 6 + ["failed", "unknown", "submitted", "cancelled"]
_seq = itertools.count(1)


def statements_for(client, path: str) -> list[str]:
    fetch(client, path)  # warm up: first-request work (connections, templates) is not per payment
    with counted_statements() as statements:
        response = fetch(client, path)
    assert response.status_code == 200
    return statements


@pytest.fixture
def accounts(resident, estate):
    power = make_catalogue_entry(estate)
    water = make_catalogue_entry(estate, name="Lagos Water", provider_type="water", provider_code="lagos-water",
                                 item_code="water", meter_type=None)
    tv = make_catalogue_entry(estate, name="DStv Compact", provider_type="cable_tv", provider_code="dstv",
                              item_code="dstv-compact", meter_type=None)
    return [make_utility_account(resident, entry, f"4501234{n:04d}", nickname=f"Account {n}")
            for n, entry in enumerate([power, power, water, tv, tv, power])]


def add_payments(user, accounts, count: int) -> None:
    """Bulk-insert ``count`` payments spread over 14 months, several accounts, types and statuses."""
    start = datetime.now(UTC) - timedelta(days=420)
    rows = []
    for i in range(count):
        n = next(_seq)
        account = accounts[n % len(accounts)]
        status = STATUSES[n % len(STATUSES)]
        when = start + timedelta(hours=n * 7 % (420 * 24))
        rows.append({
            "reference": f"QC{n:010d}", "user_id": user.id, "estate_id": user.estate_id, "kind": "utility",
            "utility_account_id": account.id, "provider_id": account.provider_id, "api_provider": "vtpass",
            "utility_type": account.provider.provider_type, "amount_kobo": 1_000_00 + n, "fee_kobo": 100_00,
            "status": status, "token": f"{n:020d}" if status == "succeeded" else None,
            "status_reason": "The provider refused." if status == "failed" else None,
            "source": "one_time", "details": {}, "created_at": when, "updated_at": when,
            "completed_at": when if status in ("succeeded", "failed", "cancelled") else None,
        })
    db.session.execute(insert(Payment), rows)
    db.session.commit()


@pytest.mark.parametrize("path", PAGES)
def test_statements_do_not_grow_with_the_number_of_payments(auth, resident, accounts, path):
    auth.login("ada@example.com")
    # The later, newer payments also spread over more accounts, so loading accounts one by one shows.
    add_payments(resident, accounts[:2], 10)
    at_10 = statements_for(auth.client, path)
    add_payments(resident, accounts, 490)
    at_500 = statements_for(auth.client, path)
    print(f"{path}: {len(at_10)} statements at 10 payments, {len(at_500)} at 500")
    assert len(at_500) == len(at_10), "\n".join(at_500)


# The user (sign-in) and, on SQLite, the BEGIN, then the page's own: the dashboard reads
# everything it and the layout show in two statements; the history page also needs the layout's
# estate and unread count.
@pytest.mark.parametrize(("path", "budget"), [("/", 4), ("/payments/", 10)])
def test_pages_need_only_a_handful_of_statements(auth, resident, accounts, path, budget):
    auth.login("ada@example.com")
    add_payments(resident, accounts, 50)
    statements = statements_for(auth.client, path)
    assert len(statements) <= budget, "\n".join(statements)
