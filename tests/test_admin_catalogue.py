"""Admin provider catalogue: who may see what, add/edit validation, switching off, sync with a preview."""
from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import AuditEntry, Automation, Notification, UtilityProvider
from webapp.services import payments

from . import factories
from .factories_automations import make_automation
from .factories_payments import make_catalogue_entry, make_utility_account

FIRST_RUN = datetime(2031, 1, 15, 8, 0, tzinfo=UTC)  # 09:00 Lagos
GOOD_ENTRY = {
    "name": "Eko Electric Prepaid", "provider_type": "electricity", "api_provider": "vtpass",
    "provider_code": "eko-electric", "item_code": "prepaid", "biller_name": "Eko Electric", "meter_type": "prepaid",
    "label_name": "Meter Number", "fixed_amount": "", "min_amount": "500", "max_amount": "500,000", "fee": "100",
    "supports_validation": "y", "active": "y",
}


@pytest.fixture
def config_overrides(sandbox_config):
    return sandbox_config


@pytest.fixture
def entry(estate):
    return make_catalogue_entry(estate)


@pytest.fixture
def foreign_entry(other_estate):
    return make_catalogue_entry(other_estate, name="Banana Electric")


def audit_rows(action: str | None = None) -> list[AuditEntry]:
    db.session.rollback()
    query = select(AuditEntry).order_by(AuditEntry.id)
    if action:
        query = query.where(AuditEntry.action == action)
    return list(db.session.scalars(query))


def entries_snapshot() -> list[tuple]:
    db.session.rollback()
    cols = [c.name for c in UtilityProvider.__table__.columns]
    rows = db.session.scalars(select(UtilityProvider).order_by(UtilityProvider.id))
    return [tuple(getattr(r, c) for c in cols) for r in rows]


def text(response) -> str:
    return response.get_data(as_text=True)


# --- authorization --------------------------------------------------------------------------------

ADMIN_GETS = ["/admin/catalogue/", "/admin/catalogue/new", "/admin/catalogue/{id}/edit", "/admin/catalogue/sync"]
ADMIN_POSTS = ["/admin/catalogue/new", "/admin/catalogue/{id}/edit", "/admin/catalogue/{id}/deactivate",
               "/admin/catalogue/{id}/activate", "/admin/catalogue/sync"]


@pytest.mark.parametrize("path", ADMIN_GETS)
def test_a_resident_gets_404_on_every_catalogue_get(auth, resident, entry, path):
    auth.login(resident.email)
    assert auth.client.get(path.format(id=entry.id)).status_code == 404


@pytest.mark.parametrize("path", ADMIN_POSTS)
def test_a_resident_gets_404_on_every_catalogue_post_and_nothing_changes(auth, resident, entry, path):
    auth.login(resident.email)
    before = entries_snapshot()
    response = auth.post(path.format(id=entry.id), dict(GOOD_ENTRY, api_provider="vtpass"), page="/auth/password")
    assert response.status_code == 404
    assert entries_snapshot() == before and audit_rows() == []


def test_the_list_shows_only_the_admins_own_estate(as_admin, entry, foreign_entry):
    html = text(as_admin.client.get("/admin/catalogue/"))
    assert f'id="entry-{entry.id}"' in html and f'id="entry-{foreign_entry.id}"' not in html


@pytest.mark.parametrize("path", ["/admin/catalogue/?estate={estate}", "/admin/catalogue/sync?estate={estate}",
                                  "/admin/catalogue/new?estate={estate}", "/admin/catalogue/{id}/edit"])
def test_another_estates_catalogue_is_404_on_get(as_admin, foreign_entry, path):
    url = path.format(estate=foreign_entry.estate_id, id=foreign_entry.id)
    assert as_admin.client.get(url).status_code == 404


@pytest.mark.parametrize(("path", "data"), [
    ("/admin/catalogue/{id}/edit", dict(GOOD_ENTRY, name="Hijacked")),
    ("/admin/catalogue/{id}/deactivate", {}),
    ("/admin/catalogue/{id}/activate", {}),
    ("/admin/catalogue/new?estate={estate}", GOOD_ENTRY),
    ("/admin/catalogue/sync", {"estate": "{estate}", "api_provider": "vtpass", "digest": "x"}),
])
def test_another_estates_catalogue_is_404_on_post_and_nothing_changes(as_admin, foreign_entry, path, data):
    url = path.format(estate=foreign_entry.estate_id, id=foreign_entry.id)
    data = {k: v.format(estate=foreign_entry.estate_id) for k, v in data.items()}
    before = entries_snapshot()
    assert as_admin.post(url, data, page="/admin/catalogue/").status_code == 404
    assert entries_snapshot() == before and audit_rows() == []


def test_a_platform_admin_sees_every_estate_and_picks_one_to_sync(auth, entry, foreign_entry):
    boss = factories.make_user(email="platform@example.com", role="platform_admin")
    auth.login(boss.email)
    html = text(auth.client.get("/admin/catalogue/"))
    assert f'id="entry-{entry.id}"' in html and f'id="entry-{foreign_entry.id}"' in html
    assert "Choose an estate" in text(auth.client.get("/admin/catalogue/sync"))
    page = text(auth.client.get(f"/admin/catalogue/sync?estate={foreign_entry.estate_id}"))
    assert "Banana Island" in page and 'name="digest"' in page


# --- list, search, filters ------------------------------------------------------------------------

@pytest.fixture
def three_entries(estate):
    return {
        "ikeja": make_catalogue_entry(estate),
        "dstv": make_catalogue_entry(estate, name="DStv Compact", provider_type="cable_tv", provider_code="dstv",
                                     item_code="dstv-compact", meter_type=None, fixed_amount_kobo=15_700_00),
        "water": make_catalogue_entry(estate, name="Lagos Water", provider_type="water", api_provider="flutterwave",
                                      provider_code="BIL300", item_code="UB300", meter_type=None, is_active=False),
    }


def shown(html: str, entries: dict) -> set[str]:
    return {name for name, e in entries.items() if f'id="entry-{e.id}"' in html}


@pytest.mark.parametrize(("query", "expected"), [
    ("", {"ikeja", "dstv", "water"}),
    ("q=dstv", {"dstv"}),  # by name
    ("q=UB300", {"water"}),  # by item code
    ("q=ikeja-elec", {"ikeja"}),  # by provider code
    ("type=cable_tv", {"dstv"}),
    ("provider=flutterwave", {"water"}),
    ("active=no", {"water"}),
    ("active=yes&type=electricity", {"ikeja"}),
])
def test_the_list_searches_and_filters(as_admin, three_entries, query, expected):
    assert shown(text(as_admin.client.get(f"/admin/catalogue/?{query}")), three_entries) == expected


# --- add and edit ---------------------------------------------------------------------------------

def test_adding_an_entry_stores_kobo_and_writes_one_audit_row(as_admin, estate):
    response = as_admin.post("/admin/catalogue/new", GOOD_ENTRY)
    assert response.status_code == 302
    entry = db.session.scalars(select(UtilityProvider)).one()
    assert (entry.estate_id, entry.provider_code, entry.item_code) == (estate.id, "eko-electric", "prepaid")
    assert (entry.min_amount_kobo, entry.max_amount_kobo, entry.fee_kobo, entry.fixed_amount_kobo) == (
        500_00, 500_000_00, 100_00, 0)
    assert entry.is_active
    [row] = audit_rows()
    assert (row.action, row.object_id, row.estate_id) == ("catalogue.create", entry.id, estate.id)


def test_an_entry_added_by_hand_is_marked_so_and_the_list_says_where_each_came_from(as_admin, estate, entry):
    as_admin.post("/admin/catalogue/new", GOOD_ENTRY)
    by_hand = db.session.scalars(select(UtilityProvider).where(UtilityProvider.provider_code == "eko-electric")).one()
    assert (by_hand.origin, entry.origin) == ("admin", "catalogue")
    assert audit_rows("catalogue.create")[0].after["origin"] == "admin"
    html = text(as_admin.client.get("/admin/catalogue/"))
    row = lambda e: html.split(f'id="entry-{e.id}"')[1].split("</tr>")[0]  # noqa: E731
    assert "Added by hand" in row(by_hand) and "From VTpass" not in row(by_hand)
    assert "From VTpass catalogue" in row(entry) and "Added by hand" not in row(entry)



def test_editing_a_catalogue_entrys_name_keeps_it_on_sync_and_the_pages_say_so(as_admin, entry):
    html = text(as_admin.client.get(f"/admin/catalogue/{entry.id}/edit"))
    assert "From VTpass catalogue" in html and "stays as you set it" in html and "Kept as you set them" not in html
    data = {**GOOD_ENTRY, "name": "Ikeja (Block A)", "biller_name": entry.biller_name,
            "provider_code": entry.provider_code, "item_code": entry.item_code, "min_amount": "1,000"}
    assert as_admin.post(f"/admin/catalogue/{entry.id}/edit", data).status_code == 302
    db.session.rollback()
    edited = db.session.get(UtilityProvider, entry.id)
    assert (edited.origin, edited.admin_set_fields) == ("catalogue", ["name"])  # amounts stay the provider's
    assert "Kept as you set them now: name." in text(as_admin.client.get(f"/admin/catalogue/{entry.id}/edit"))
    row = text(as_admin.client.get("/admin/catalogue/")).split(f'id="entry-{entry.id}"')[1].split("</tr>")[0]
    assert "From VTpass catalogue" in row and "Your name kept on sync" in row


def test_new_codes_on_a_catalogue_entry_make_it_one_added_by_hand(as_admin, entry):
    data = {**GOOD_ENTRY, "name": entry.name, "biller_name": entry.biller_name}  # Eko's codes, not Ikeja's
    assert as_admin.post(f"/admin/catalogue/{entry.id}/edit", data).status_code == 302
    db.session.rollback()
    assert db.session.get(UtilityProvider, entry.id).origin == "admin"
    [row] = audit_rows("catalogue.update")
    assert (row.before["origin"], row.after["origin"]) == ("catalogue", "admin")


def test_an_entry_added_by_hand_says_so_on_its_edit_page(as_admin, estate):
    by_hand = make_catalogue_entry(estate, origin="admin")
    html = text(as_admin.client.get(f"/admin/catalogue/{by_hand.id}/edit"))
    assert "Added by hand: syncs never change or retire it." in html and "From VTpass" not in html


@pytest.mark.parametrize(("change", "message"), [
    ({"provider_code": ""}, "Enter the provider code."),
    ({"item_code": "  "}, "Enter the item code."),
    ({"min_amount": "5000", "max_amount": "100"}, "The minimum must not be above the maximum."),
    ({"provider_type": "gas"}, "Not a valid choice"),
    ({"api_provider": "paystack"}, "Not a valid choice"),
    ({"min_amount": "five hundred"}, "numbers only"),
    ({"fee": "-1"}, "greater than ₦0"),
    ({"fixed_amount": "600000"}, "A fixed price must lie between the minimum and the maximum."),
])
def test_an_invalid_entry_is_refused_with_a_message_and_changes_nothing(as_admin, entry, change, message):
    before = entries_snapshot()
    response = as_admin.post("/admin/catalogue/new", {**GOOD_ENTRY, **change})
    assert response.status_code == 422
    assert message in text(response)
    assert entries_snapshot() == before and audit_rows() == []


def test_an_entry_with_codes_already_in_the_estate_is_refused(as_admin, entry):
    before = entries_snapshot()
    response = as_admin.post("/admin/catalogue/new", {**GOOD_ENTRY, "provider_code": entry.provider_code,
                                                      "item_code": entry.item_code})
    assert response.status_code == 422 and "already has an entry" in text(response)
    assert entries_snapshot() == before and audit_rows() == []


def test_an_invalid_edit_changes_nothing(as_admin, entry):
    before = entries_snapshot()
    response = as_admin.post(f"/admin/catalogue/{entry.id}/edit", {**GOOD_ENTRY, "min_amount": "9000",
                                                                   "max_amount": "10"})
    assert response.status_code == 422
    assert entries_snapshot() == before and audit_rows() == []


def test_the_edit_form_shows_amounts_in_naira(as_admin, entry):
    html = text(as_admin.client.get(f"/admin/catalogue/{entry.id}/edit"))
    assert 'name="min_amount" type="text" value="500"' in html and 'value="500000"' in html


def test_an_edit_records_before_and_after_of_the_changed_fields_only(as_admin, entry):
    data = {**GOOD_ENTRY, "name": "Ikeja Prepaid (new)", "provider_code": entry.provider_code,
            "item_code": entry.item_code, "min_amount": "1,000"}
    assert as_admin.post(f"/admin/catalogue/{entry.id}/edit", data).status_code == 302
    [row] = audit_rows()
    assert row.action == "catalogue.update"
    assert row.before == {"name": "Ikeja Electric Prepaid", "min_amount_kobo": 500_00, "biller_name": "Ikeja Electric",
                          "admin_set_fields": []}
    assert row.after == {"name": "Ikeja Prepaid (new)", "min_amount_kobo": 1_000_00, "biller_name": "Eko Electric",
                         "admin_set_fields": ["biller_name", "name"]}


def test_codes_of_an_entry_with_linked_accounts_cannot_change(as_admin, entry, resident):
    make_utility_account(resident, entry)
    before = entries_snapshot()
    response = as_admin.post(f"/admin/catalogue/{entry.id}/edit", GOOD_ENTRY)
    assert response.status_code == 422 and "cannot change" in text(response)
    assert entries_snapshot() == before and audit_rows() == []


# --- switching off and on -------------------------------------------------------------------------

@pytest.fixture
def automations(estate, entry, resident, other_resident):
    """Two running automations on the entry, plus ones that must be left alone."""
    other_entry = make_catalogue_entry(estate, name="Eko", provider_code="eko-electric")
    running = make_automation(resident, make_utility_account(resident, entry), first_run=FIRST_RUN)
    running_too = make_automation(other_resident, make_utility_account(other_resident, entry), first_run=FIRST_RUN)
    switched_off = make_automation(resident, make_utility_account(resident, entry, number="2222222222222"),
                                   first_run=FIRST_RUN, enabled=False)
    elsewhere = make_automation(resident, make_utility_account(resident, other_entry, number="3333333333333"),
                                first_run=FIRST_RUN)
    return {"running": [running.id, running_too.id], "untouched": [switched_off.id, elsewhere.id]}


def test_switching_off_pauses_running_automations_and_tells_their_residents(as_admin, entry, automations):
    response = as_admin.post(f"/admin/catalogue/{entry.id}/deactivate", {"reason": "Biller down"},
                             page="/admin/catalogue/")
    assert response.status_code == 302
    db.session.rollback()
    assert not db.session.get(UtilityProvider, entry.id).is_active
    paused = {a.id for a in db.session.scalars(select(Automation).where(Automation.paused_at.is_not(None)))}
    assert paused == set(automations["running"])
    told = db.session.scalars(select(Notification).where(Notification.event == "automation_paused")).all()
    assert sorted(n.user_id for n in told) == sorted(
        db.session.get(Automation, a).user_id for a in automations["running"])
    assert all("no longer offered" in n.body for n in told)
    [row] = audit_rows()
    assert (row.action, row.object_id, row.reason) == ("catalogue.deactivate", entry.id, "Biller down")
    assert sorted(row.after["paused_automation_ids"]) == sorted(automations["running"])


def test_a_switched_off_entry_can_no_longer_be_chosen(as_admin, entry, resident):
    account = make_utility_account(resident, entry)
    as_admin.post(f"/admin/catalogue/{entry.id}/deactivate", {}, page="/admin/catalogue/")
    db.session.rollback()
    with pytest.raises(payments.PaymentRequestError, match="no longer offered"):
        payments.quote(resident, account.id, 5_000_00)


def test_switching_off_twice_writes_one_audit_row(as_admin, entry):
    for _ in range(2):
        as_admin.post(f"/admin/catalogue/{entry.id}/deactivate", {}, page="/admin/catalogue/")
    assert [r.action for r in audit_rows()] == ["catalogue.deactivate"]


def test_switching_back_on_offers_it_again_with_one_audit_row(as_admin, estate):
    entry = make_catalogue_entry(estate, is_active=False)
    assert as_admin.post(f"/admin/catalogue/{entry.id}/activate", {}, page="/admin/catalogue/").status_code == 302
    db.session.rollback()
    assert db.session.get(UtilityProvider, entry.id).is_active
    assert [(r.action, r.object_id) for r in audit_rows()] == [("catalogue.activate", entry.id)]


def test_a_retired_entry_cannot_be_switched_back_on(as_admin, estate):
    entry = make_catalogue_entry(estate, is_active=False, retired_at=FIRST_RUN)
    response = as_admin.post(f"/admin/catalogue/{entry.id}/activate", {}, page="/admin/catalogue/",
                             follow_redirects=True)
    assert "no longer lists" in text(response)
    db.session.rollback()
    assert not db.session.get(UtilityProvider, entry.id).is_active and audit_rows() == []


# --- sync against the sandbox ---------------------------------------------------------------------

DIGEST = re.compile(r'name="api_provider" value="(\w+)">\s*<input type="hidden" name="digest" value="([0-9a-f]+)"')


def preview(client, estate_id: int | None = None) -> tuple[str, dict[str, str]]:
    html = text(client.get("/admin/catalogue/sync" + (f"?estate={estate_id}" if estate_id else "")))
    return html, dict(DIGEST.findall(html))


def apply(auth, provider: str, digest: str, estate_id: int):
    return auth.post("/admin/catalogue/sync", {"estate": str(estate_id), "api_provider": provider, "digest": digest},
                     page="/admin/catalogue/")


def keys(estate_id: int, provider: str) -> set[tuple]:
    db.session.rollback()
    rows = db.session.scalars(select(UtilityProvider).where(UtilityProvider.estate_id == estate_id,
                                                            UtilityProvider.api_provider == provider))
    return {(e.provider_code, e.item_code) for e in rows}


def test_sync_applies_exactly_what_the_preview_showed(as_admin, estate):
    html, digests = preview(as_admin.client)
    assert set(digests) == {"flutterwave", "vtpass"}
    section = html.split('id="sync-vtpass"')[1].split("</section>")[0]
    previewed = set(re.findall(r"<code>([^<]+)</code> / <code>([^<]+)</code>", section))
    assert previewed and keys(estate.id, "vtpass") == set()
    assert apply(as_admin, "vtpass", digests["vtpass"], estate.id).status_code == 302
    assert keys(estate.id, "vtpass") == previewed
    assert keys(estate.id, "flutterwave") == set()  # one provider at a time
    [row] = audit_rows()
    assert (row.action, row.estate_id, row.after["api_provider"]) == ("catalogue.sync", estate.id, "vtpass")
    assert len(row.after["added"]) == len(previewed)


def test_a_second_sync_changes_nothing(as_admin, estate):
    _, digests = preview(as_admin.client)
    apply(as_admin, "flutterwave", digests["flutterwave"], estate.id)
    before, audit_before = entries_snapshot(), len(audit_rows())
    html, again = preview(as_admin.client)
    assert "flutterwave" not in again and "already matches Flutterwave" in html
    response = apply(as_admin, "flutterwave", digests["flutterwave"], estate.id)  # the old, applied plan
    assert response.status_code == 409
    assert entries_snapshot() == before and len(audit_rows()) == audit_before


def test_the_preview_shows_changes_and_retirements_and_applies_them(as_admin, estate, resident):
    _, digests = preview(as_admin.client)
    apply(as_admin, "vtpass", digests["vtpass"], estate.id)
    prepaid = db.session.scalars(select(UtilityProvider).where(
        UtilityProvider.estate_id == estate.id, UtilityProvider.api_provider == "vtpass",
        UtilityProvider.item_code == "prepaid")).first()
    listed_min = prepaid.min_amount_kobo
    prepaid.min_amount_kobo = listed_min + 1_00
    db.session.commit()
    gone = make_catalogue_entry(estate, name="Old Biller", provider_code="old-biller", item_code="x")
    automation = make_automation(resident, make_utility_account(resident, gone), first_run=FIRST_RUN)

    html, digests = preview(as_admin.client)
    section = html.split('id="sync-vtpass"')[1].split("</section>")[0]
    assert "0 added, 1 updated, 1 retired, 0 kept because added by hand" in section
    assert "Old Biller" in section and "min amount" in section
    assert apply(as_admin, "vtpass", digests["vtpass"], estate.id).status_code == 302
    db.session.rollback()
    assert db.session.get(UtilityProvider, prepaid.id).min_amount_kobo == listed_min
    retired = db.session.get(UtilityProvider, gone.id)
    assert retired.retired_at is not None and not retired.is_active
    assert db.session.get(Automation, automation.id).paused_at is not None
    assert audit_rows()[-1].after["paused_automation_ids"] == [automation.id]


def test_a_sync_leaves_entries_added_by_hand_alone_and_the_preview_names_the_listed_one(as_admin, estate, resident):
    as_admin.post("/admin/catalogue/new", {**GOOD_ENTRY, "name": "Eko prepaid (estate rate)", "min_amount": "2,000"})
    as_admin.post("/admin/catalogue/new", {**GOOD_ENTRY, "name": "Estate generator", "provider_code": "estate-gen",
                                           "item_code": "diesel", "meter_type": ""})
    listed, unlisted = db.session.scalars(select(UtilityProvider).order_by(UtilityProvider.id)).all()
    automation = make_automation(resident, make_utility_account(resident, unlisted), first_run=FIRST_RUN)
    before = entries_snapshot()

    html, digests = preview(as_admin.client)
    section = html.split('id="sync-vtpass"')[1].split("</section>")[0]
    assert "0 retired" in section and "Will be retired" not in section
    kept = section.split("Added by hand, left as they are (1)")[1].split("</ul>")[0]
    assert "Eko prepaid (estate rate)" in kept and "Estate generator" not in kept
    assert apply(as_admin, "vtpass", digests["vtpass"], estate.id).status_code == 302
    db.session.rollback()
    assert [row for row in entries_snapshot() if row[0] in (listed.id, unlisted.id)] == before
    assert db.session.get(Automation, automation.id).paused_at is None
    assert audit_rows("catalogue.sync")[-1].after["retired_entry_ids"] == []


def test_the_sync_message_counts_added_updated_retired_and_kept_by_hand(as_admin, estate):
    _, digests = preview(as_admin.client)
    apply(as_admin, "vtpass", digests["vtpass"], estate.id)
    make_catalogue_entry(estate, name="Old Biller", provider_code="old-biller", item_code="x")
    make_catalogue_entry(estate, name="Estate generator", provider_code="estate-gen", item_code="diesel",
                         origin="admin")
    make_catalogue_entry(estate, name="Flutterwave leftover", api_provider="flutterwave", provider_code="BIL-OLD",
                         item_code="UB-OLD")
    _, digests = preview(as_admin.client)
    response = apply(as_admin, "vtpass", digests["vtpass"], estate.id)
    assert response.status_code == 302
    page = text(as_admin.client.get(response.headers["Location"]))
    assert "Synced from VTpass: 0 added, 0 updated, 1 retired, 1 kept because added by hand, " in page
    db.session.rollback()
    leftover = db.session.scalars(select(UtilityProvider).where(UtilityProvider.provider_code == "BIL-OLD")).one()
    assert leftover.is_active and leftover.retired_at is None  # another provider's entry


def test_a_plan_gone_stale_is_not_applied_and_the_new_preview_is_shown(as_admin, estate):
    _, digests = preview(as_admin.client)
    make_catalogue_entry(estate, name="Added meanwhile", provider_code="meanwhile", item_code="x")
    before = entries_snapshot()
    response = apply(as_admin, "vtpass", digests["vtpass"], estate.id)
    assert response.status_code == 409
    html = text(response)
    assert "changed since the preview" in html and "Added meanwhile" in html  # now listed to be retired
    assert entries_snapshot() == before and audit_rows() == []


def test_each_sync_apply_writes_one_audit_row(as_admin, estate):
    _, digests = preview(as_admin.client)
    for provider in ("flutterwave", "vtpass"):
        apply(as_admin, provider, digests[provider], estate.id)
    assert [r.after["api_provider"] for r in audit_rows("catalogue.sync")] == ["flutterwave", "vtpass"]
    assert db.session.scalar(select(func.count(AuditEntry.id))) == 2
