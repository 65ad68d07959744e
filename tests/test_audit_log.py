"""The audit log: append-only (the ORM refuses edits and deletes, and no route writes to it), newest
first, filterable by action, actor, object type and dates, scoped to the admin's estates, and
exportable as CSV with the same filters and no spreadsheet formulas.
"""
from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests import factories
from webapp.extensions import db
from webapp.models import AuditEntry
from webapp.models.audit import AuditLogIsAppendOnly
from webapp.services import audit

LAGOS_MIDNIGHT_MAR_2 = datetime(2026, 3, 1, 23, 0, tzinfo=UTC)  # 00:00 on 2 March in Lagos (UTC+1)


def entry(estate_id, action="payment.approve", actor="admin@example.com", object_type="payment", object_id=1,
          created_at=None, **fields) -> AuditEntry:
    row = AuditEntry(estate_id=estate_id, action=action, actor=actor, object_type=object_type, object_id=object_id,
                     created_at=created_at or datetime.now(UTC), **fields)
    db.session.add(row)
    db.session.commit()
    return row


@pytest.fixture
def other_estate():
    return factories.make_estate(name="Cedar Court")


def ids_on(client, query: str = "") -> list[int]:
    html = client.get(f"/admin/audit/{query}").get_data(as_text=True)
    return [int(x) for x in re.findall(r'<tr id="audit-(\d+)"', html)]


def csv_of(client, query: str = "") -> list[list[str]]:
    response = client.get(f"/admin/audit/export.csv{query}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


# --- append-only --------------------------------------------------------------------------------

def test_changing_an_entry_through_the_orm_raises_and_changes_nothing(estate):
    row = audit.record("payment.refund", "payment", 7, estate_id=estate.id, reason="Token did not load")
    db.session.commit()
    row.reason = "nothing happened"
    with pytest.raises(AuditLogIsAppendOnly):
        db.session.commit()
    db.session.rollback()
    assert db.session.get(AuditEntry, row.id).reason == "Token did not load"


def test_deleting_an_entry_through_the_orm_raises_and_keeps_it(estate):
    row = audit.record("payment.refund", "payment", 7, estate_id=estate.id)
    db.session.commit()
    db.session.delete(row)
    with pytest.raises(AuditLogIsAppendOnly):
        db.session.commit()
    db.session.rollback()
    assert db.session.get(AuditEntry, row.id) is not None


def test_no_admin_route_accepts_a_write_to_the_audit_log(app):
    audit_rules = [r for r in app.url_map.iter_rules() if r.rule.startswith("/admin/audit")]
    assert {r.endpoint for r in audit_rules} == {"admin.audit_index", "admin.audit_export"}
    for rule in audit_rules:
        assert rule.methods <= {"GET", "HEAD", "OPTIONS"}, rule
    writing = [r.rule for r in app.url_map.iter_rules()
               if r.rule.startswith("/admin") and "audit" in r.rule and r.methods - {"GET", "HEAD", "OPTIONS"}]
    assert writing == []


def test_posting_to_the_audit_pages_is_not_allowed_and_changes_nothing(client, auth, estate, estate_admin):
    row = entry(estate.id, reason="kept")
    auth.login(estate_admin.email)
    token = auth.csrf("/admin/audit/")
    for path in ["/admin/audit/", "/admin/audit/export.csv"]:
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            assert client.open(path, method=method, data={"csrf_token": token}).status_code == 405, (method, path)
    assert client.post(f"/admin/audit/{row.id}", data={"csrf_token": token}).status_code == 404
    db.session.rollback()
    assert db.session.scalars(select(AuditEntry.reason)).all() == ["kept"]


def test_a_resident_gets_404_on_the_audit_log_and_its_export(client, auth, resident, estate):
    entry(estate.id)
    auth.login(resident.email)
    assert client.get("/admin/audit/").status_code == 404
    assert client.get("/admin/audit/export.csv").status_code == 404


# --- reading ------------------------------------------------------------------------------------

def test_entries_are_newest_first_with_actor_action_object_reason_changes_and_ip(client, auth, estate,
                                                                                 estate_admin):
    old = entry(estate.id, created_at=datetime.now(UTC) - timedelta(days=2))
    new = entry(estate.id, action="payment.refund", reason="Token did not load", ip="203.0.113.9",
                before={"status": "succeeded"}, after={"status": "refunded"})
    auth.login(estate_admin.email)
    assert ids_on(client) == [new.id, old.id]
    html = client.get("/admin/audit/").get_data(as_text=True)
    assert "payment.refund" in html and "Token did not load" in html and "203.0.113.9" in html
    assert "refunded" in html and "admin@example.com" in html


def test_an_estate_admin_reads_only_their_estates_entries(client, auth, estate, estate_admin, other_estate):
    mine = entry(estate.id)
    entry(other_estate.id)
    entry(None, action="platform.setting")
    auth.login(estate_admin.email)
    assert ids_on(client) == [mine.id]
    rows = csv_of(client)
    assert len(rows) == 2 and rows[1][5] == str(estate.id)


def test_a_platform_admin_reads_every_entry_including_platform_wide_ones(client, auth, estate, other_estate):
    rows = [entry(estate.id), entry(other_estate.id), entry(None, action="platform.setting")]
    admin = factories.make_user(email="root@example.com", role="platform_admin")
    auth.login(admin.email)
    assert sorted(ids_on(client)) == sorted(r.id for r in rows)


def test_filters_by_action_actor_and_object_type(client, auth, estate, estate_admin):
    approve = entry(estate.id, action="payment.approve", actor="admin@example.com")
    entry(estate.id, action="payment.refund", actor="admin@example.com")
    worker = entry(estate.id, action="payment.debit", actor="worker")
    bill = entry(estate.id, action="bill.issue", object_type="bill")
    auth.login(estate_admin.email)
    assert ids_on(client, "?action=payment.approve") == [approve.id]
    assert ids_on(client, "?actor=WORK") == [worker.id]
    assert ids_on(client, "?object_type=bill") == [bill.id]
    assert ids_on(client, "?actor=%25") == []  # a wildcard is a literal character, not "anything"


def test_filters_by_local_calendar_days(client, auth, estate, estate_admin):
    before = entry(estate.id, created_at=LAGOS_MIDNIGHT_MAR_2 - timedelta(seconds=1))  # 23:59:59 on 1 March
    first = entry(estate.id, created_at=LAGOS_MIDNIGHT_MAR_2)
    last = entry(estate.id, created_at=LAGOS_MIDNIGHT_MAR_2 + timedelta(days=2) - timedelta(seconds=1))
    after = entry(estate.id, created_at=LAGOS_MIDNIGHT_MAR_2 + timedelta(days=2))
    auth.login(estate_admin.email)
    assert ids_on(client, "?from=2026-03-02&to=2026-03-03") == [last.id, first.id]
    assert ids_on(client, "?from=2026-03-04") == [after.id]
    assert ids_on(client, "?to=2026-03-01") == [before.id]


def test_a_bad_date_is_explained_and_ignored(client, auth, estate, estate_admin):
    row = entry(estate.id)
    auth.login(estate_admin.email)
    html = client.get("/admin/audit/?from=yesterday").get_data(as_text=True)
    assert "is not a date for “from”" in html
    assert ids_on(client, "?from=yesterday") == [row.id]
    swapped = client.get("/admin/audit/?from=2026-03-05&to=2026-03-01").get_data(as_text=True)
    assert "The “from” date is after the “to” date" in swapped
    assert 'value="2026-03-05"' in swapped  # kept as typed


def test_a_date_out_of_range_is_explained_and_ignored(client, auth, estate, estate_admin):
    row = entry(estate.id)
    auth.login(estate_admin.email)
    response = client.get("/admin/audit/?to=9999-12-31")
    assert response.status_code == 200
    assert "“9999-12-31” is out of range for “to”" in response.get_data(as_text=True)
    assert ids_on(client, "?to=9999-12-31") == [row.id]
    assert len(csv_of(client, "?to=9999-12-31")) == 2  # the header and the one entry


def test_the_log_is_paginated(client, auth, estate, estate_admin):
    start = datetime.now(UTC) - timedelta(hours=2)
    rows = [entry(estate.id, object_id=i, created_at=start + timedelta(minutes=i)) for i in range(52)]
    auth.login(estate_admin.email)
    assert ids_on(client) == [r.id for r in reversed(rows[2:])]
    assert ids_on(client, "?page=2") == [rows[1].id, rows[0].id]


# --- CSV ----------------------------------------------------------------------------------------

def test_the_csv_has_the_same_filters_and_order_as_the_page(client, auth, estate, estate_admin):
    entry(estate.id, action="payment.approve", created_at=datetime.now(UTC) - timedelta(hours=1))
    entry(estate.id, action="payment.refund", reason="Meter swapped", before={"status": "succeeded"})
    entry(estate.id, action="payment.refund", reason="Duplicate", created_at=datetime.now(UTC) - timedelta(hours=2))
    auth.login(estate_admin.email)
    rows = csv_of(client, "?action=payment.refund")
    assert rows[0] == ["Time", "Actor", "Action", "Object type", "Object id", "Estate id", "Reason", "Before",
                       "After", "IP", "Acted as"]
    assert [r[6] for r in rows[1:]] == ["Meter swapped", "Duplicate"]
    assert rows[1][7] == '{"status": "succeeded"}'
    page = client.get("/admin/audit/?action=payment.refund").get_data(as_text=True)
    assert "/admin/audit/export.csv?action=payment.refund" in page


def test_the_csv_neutralises_spreadsheet_formulas(client, auth, estate, estate_admin):
    entry(estate.id, actor="=cmd|' /C calc'!A0", reason='=HYPERLINK("http://evil.example","click")',
          action="+payment", object_type="-x", ip="@ip")
    auth.login(estate_admin.email)
    row = csv_of(client)[1]
    assert row[1] == "'=cmd|' /C calc'!A0"
    assert row[2] == "'+payment" and row[3] == "'-x"
    assert row[6] == "'=HYPERLINK(\"http://evil.example\",\"click\")"
    assert row[9] == "'@ip"
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in row)
