"""The utility provider catalogue: entries per estate, kept in step with the providers' listings."""
from dataclasses import replace

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from webapp.extensions import db
from webapp.models import Estate, UtilityProvider
from webapp.models.base import utcnow
from webapp.providers.base import CatalogueItem
from webapp.services import access, catalogue

from . import factories

IKEJA_PREPAID = CatalogueItem(
    api_provider="vtpass", utility_type="electricity", provider_code="ikeja-electric", item_code="prepaid",
    name="Ikeja Electric Prepaid", biller_name="Ikeja Electric", label_name="Meter Number",
    min_amount_kobo=500_00, max_amount_kobo=500_000_00, meter_type="prepaid",
)
IKEJA_POSTPAID = replace(IKEJA_PREPAID, item_code="postpaid", name="Ikeja Electric Postpaid", meter_type="postpaid")
DSTV_COMPACT = CatalogueItem(
    api_provider="vtpass", utility_type="cable_tv", provider_code="dstv", item_code="dstv-compact",
    name="DStv Compact", biller_name="DStv", label_name="Smart Card Number", fixed_amount_kobo=15_700_00,
)
FLW_WATER = CatalogueItem(
    api_provider="flutterwave", utility_type="water", provider_code="BIL300", item_code="UB300",
    name="Lagos Water", biller_name="Lagos Water Corporation", label_name="Customer Number", fee_kobo=100_00,
)
VTPASS_LISTING = [IKEJA_PREPAID, IKEJA_POSTPAID, DSTV_COMPACT]


def sync(estate_id, items, api_provider=None):
    return catalogue.apply_sync(estate_id, catalogue.plan_sync(estate_id, items, api_provider))


def entry(estate_id, item_code, provider_code=None) -> UtilityProvider:
    query = select(UtilityProvider).where(UtilityProvider.estate_id == estate_id,
                                          UtilityProvider.item_code == item_code)
    if provider_code:
        query = query.where(UtilityProvider.provider_code == provider_code)
    return db.session.scalars(query).one()


def entry_count() -> int:
    return db.session.scalar(select(func.count(UtilityProvider.id)))


def snapshot(estate_id) -> list[tuple]:
    db.session.expire_all()
    rows = db.session.scalars(select(UtilityProvider).where(UtilityProvider.estate_id == estate_id)
                              .order_by(UtilityProvider.id))
    cols = [c.name for c in UtilityProvider.__table__.columns]
    return [tuple(getattr(r, c) for c in cols) for r in rows]


class ListingService:
    """A provider client stand-in that serves a fixed listing (the real clients are tested below)."""

    def __init__(self, items, api_provider="vtpass"):
        self.items, self.api_provider = items, api_provider

    def get_utility_providers(self):
        return list(self.items)


# --- planning and applying ------------------------------------------------------------------

def test_plan_on_an_empty_catalogue_adds_every_item_and_writes_nothing(estate):
    plan = catalogue.plan_sync(estate.id, VTPASS_LISTING)
    assert [a.key for a in plan.to_add] == [
        ("vtpass", "dstv", "dstv-compact"), ("vtpass", "ikeja-electric", "postpaid"),
        ("vtpass", "ikeja-electric", "prepaid"),
    ]
    assert plan.to_change == [] and plan.to_retire == [] and plan.unchanged == 0
    assert entry_count() == 0


def test_apply_creates_entries_with_the_listing_values(estate):
    sync(estate.id, VTPASS_LISTING)
    prepaid = entry(estate.id, "prepaid")
    assert (prepaid.name, prepaid.provider_type, prepaid.api_provider, prepaid.provider_code) == (
        "Ikeja Electric Prepaid", "electricity", "vtpass", "ikeja-electric")
    assert (prepaid.min_amount_kobo, prepaid.max_amount_kobo, prepaid.meter_type) == (500_00, 500_000_00, "prepaid")
    assert prepaid.is_active and prepaid.retired_at is None and prepaid.last_synced_at is not None
    assert entry(estate.id, "dstv-compact").fixed_amount_kobo == 15_700_00


def test_missing_bounds_and_fees_are_stored_as_zero_and_no_maximum(estate):
    sync(estate.id, [DSTV_COMPACT])
    compact = entry(estate.id, "dstv-compact")
    assert (compact.min_amount_kobo, compact.max_amount_kobo, compact.fee_kobo) == (0, None, 0)


def test_second_sync_of_the_same_listing_changes_nothing(estate):
    sync(estate.id, VTPASS_LISTING)
    before = snapshot(estate.id)
    plan = sync(estate.id, VTPASS_LISTING)
    assert plan.is_noop and plan.unchanged == 3
    assert snapshot(estate.id) == before


def test_a_changed_item_is_planned_field_by_field_and_applied(estate):
    sync(estate.id, VTPASS_LISTING)
    price_rise = replace(DSTV_COMPACT, fixed_amount_kobo=19_000_00, name="DStv Compact (new)")
    plan = catalogue.plan_sync(estate.id, [IKEJA_PREPAID, IKEJA_POSTPAID, price_rise])
    assert plan.unchanged == 2 and plan.to_add == [] and plan.to_retire == []
    [change] = plan.to_change
    assert set(change.changes) == {
        catalogue.FieldChange("name", "DStv Compact", "DStv Compact (new)"),
        catalogue.FieldChange("fixed_amount_kobo", 15_700_00, 19_000_00),
    }
    catalogue.apply_sync(estate.id, plan)
    compact = entry(estate.id, "dstv-compact")
    assert (compact.name, compact.fixed_amount_kobo, compact.label_name) == (
        "DStv Compact (new)", 19_000_00, "Smart Card Number")


def test_an_item_no_longer_listed_is_retired_not_deleted(estate):
    sync(estate.id, VTPASS_LISTING)
    plan = catalogue.plan_sync(estate.id, [IKEJA_PREPAID, IKEJA_POSTPAID])
    assert [r.key for r in plan.to_retire] == [("vtpass", "dstv", "dstv-compact")]
    catalogue.apply_sync(estate.id, plan)
    compact = entry(estate.id, "dstv-compact")
    assert not compact.is_active and compact.retired_at is not None
    assert entry_count() == 3


def test_retired_entries_are_not_retired_again(estate):
    sync(estate.id, VTPASS_LISTING)
    sync(estate.id, [IKEJA_PREPAID])
    plan = catalogue.plan_sync(estate.id, [IKEJA_PREPAID])
    assert plan.is_noop


def test_syncing_one_provider_never_retires_another_providers_entries(estate):
    sync(estate.id, [FLW_WATER])
    plan = catalogue.plan_sync(estate.id, VTPASS_LISTING)
    assert plan.to_retire == []
    catalogue.apply_sync(estate.id, plan)
    assert entry(estate.id, "UB300").is_active


def test_a_relisted_item_comes_back(estate):
    sync(estate.id, VTPASS_LISTING)
    sync(estate.id, [IKEJA_PREPAID, IKEJA_POSTPAID])
    plan = catalogue.plan_sync(estate.id, VTPASS_LISTING)
    [change] = plan.to_change
    assert change.revives
    catalogue.apply_sync(estate.id, plan)
    compact = entry(estate.id, "dstv-compact")
    assert compact.is_active and compact.retired_at is None


def test_sync_keeps_an_entry_the_admin_switched_off_switched_off(estate):
    sync(estate.id, VTPASS_LISTING)
    entry(estate.id, "postpaid").is_active = False
    db.session.commit()
    assert catalogue.plan_sync(estate.id, VTPASS_LISTING).is_noop
    assert not entry(estate.id, "postpaid").is_active


def test_entries_a_sync_adds_come_from_the_catalogue(estate):
    sync(estate.id, VTPASS_LISTING)
    assert {e.origin for e in catalogue.active_for_estate(estate.id)} == {"catalogue"}


def test_a_sync_never_retires_an_entry_an_admin_added_by_hand(estate):
    sync(estate.id, VTPASS_LISTING)
    by_hand = make_entry(estate, name="Estate water", provider_code="estate-water", item_code="flat",
                         provider_type="water", origin="admin")
    db.session.commit()
    plan = catalogue.plan_sync(estate.id, [IKEJA_PREPAID, IKEJA_POSTPAID], "vtpass")
    assert [r.key for r in plan.to_retire] == [("vtpass", "dstv", "dstv-compact")]
    catalogue.apply_sync(estate.id, plan)
    kept = entry(estate.id, "flat")
    assert kept.id == by_hand.id and kept.is_active and kept.retired_at is None


def test_a_listed_item_with_the_key_of_an_entry_added_by_hand_leaves_it_alone_and_says_so(estate):
    by_hand = make_entry(estate, name="Ikeja prepaid (our price)", min_amount_kobo=1_000_00, origin="admin")
    db.session.commit()
    before = snapshot(estate.id)
    plan = catalogue.plan_sync(estate.id, VTPASS_LISTING, "vtpass")
    assert plan.kept_by_admin == [catalogue.EntryKept(by_hand.id, ("vtpass", "ikeja-electric", "prepaid"),
                                                      "Ikeja prepaid (our price)")]
    assert [a.key for a in plan.to_add] == [("vtpass", "dstv", "dstv-compact"),
                                            ("vtpass", "ikeja-electric", "postpaid")]
    assert plan.to_change == [] and plan.to_retire == [] and plan.unchanged == 0
    assert "1 kept because added by hand" in plan.summary()
    catalogue.apply_sync(estate.id, plan)
    assert snapshot(estate.id)[0] == before[0]  # not one column of the admin's entry changed
    assert catalogue.plan_sync(estate.id, VTPASS_LISTING, "vtpass").is_noop


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (replace(IKEJA_PREPAID, min_amount_kobo=900_00, max_amount_kobo=100_00), "minimum amount is above"),
        (replace(IKEJA_PREPAID, utility_type="gas"), "unknown utility type"),
        (replace(IKEJA_PREPAID, meter_type="smart"), "unknown meter type"),
        (replace(IKEJA_PREPAID, fee_kobo=-1), "fee_kobo must be"),
        (replace(IKEJA_PREPAID, fixed_amount_kobo=100.5), "fixed_amount_kobo must be"),
        (replace(IKEJA_PREPAID, item_code=""), "provider_code and item_code"),
    ],
)
def test_items_that_cannot_be_stored_are_rejected_and_not_applied(estate, bad, reason):
    plan = catalogue.plan_sync(estate.id, [bad, DSTV_COMPACT])
    [rejected] = plan.rejected
    assert reason in rejected.reason
    catalogue.apply_sync(estate.id, plan)
    assert entry_count() == 1


def test_an_item_listed_twice_is_applied_once(estate):
    plan = catalogue.plan_sync(estate.id, [DSTV_COMPACT, replace(DSTV_COMPACT, name="Again")])
    assert len(plan.to_add) == 1 and plan.rejected[0].reason == "listed more than once"


def test_items_of_another_provider_are_rejected_when_the_provider_is_named(estate):
    plan = catalogue.plan_sync(estate.id, [FLW_WATER, DSTV_COMPACT], api_provider="vtpass")
    assert [a.key[0] for a in plan.to_add] == ["vtpass"]
    assert plan.rejected[0].reason == "not from vtpass"


def test_a_plan_gone_stale_is_refused_and_changes_nothing(estate):
    sync(estate.id, VTPASS_LISTING)
    plan = catalogue.plan_sync(estate.id, [IKEJA_PREPAID, IKEJA_POSTPAID, replace(DSTV_COMPACT, fee_kobo=50_00),
                                           FLW_WATER], api_provider=None)
    entry(estate.id, "dstv-compact").fee_kobo = 70_00  # someone else synced in between
    db.session.commit()
    before = snapshot(estate.id)
    with pytest.raises(catalogue.CatalogueSyncError, match="plan it again"):
        catalogue.apply_sync(estate.id, plan)
    assert snapshot(estate.id) == before


def test_a_plan_cannot_be_applied_to_another_estate(estate):
    other = factories.make_estate()
    plan = catalogue.plan_sync(estate.id, VTPASS_LISTING)
    with pytest.raises(catalogue.CatalogueSyncError, match="another estate"):
        catalogue.apply_sync(other.id, plan)
    assert entry_count() == 0


def test_sync_from_provider_plans_and_applies_the_clients_listing(estate):
    plan = catalogue.sync_from_provider(estate.id, ListingService(VTPASS_LISTING))
    assert len(plan.to_add) == 3 and entry_count() == 3
    assert catalogue.sync_from_provider(estate.id, ListingService(VTPASS_LISTING)).is_noop


def test_sync_from_provider_refuses_an_empty_listing_instead_of_retiring_everything(estate):
    sync(estate.id, VTPASS_LISTING)
    with pytest.raises(catalogue.CatalogueSyncError, match="empty catalogue"):
        catalogue.sync_from_provider(estate.id, ListingService([]))
    assert len(catalogue.active_for_estate(estate.id)) == 3


# --- estate scoping and reading -------------------------------------------------------------

def test_each_estate_has_its_own_catalogue(estate):
    other = factories.make_estate()
    sync(estate.id, VTPASS_LISTING)
    assert catalogue.plan_sync(other.id, VTPASS_LISTING).to_add  # the other estate has nothing yet
    sync(other.id, [IKEJA_PREPAID])
    assert len(catalogue.active_for_estate(estate.id)) == 3
    assert [e.item_code for e in catalogue.active_for_estate(other.id)] == ["prepaid"]


def test_get_for_estate_finds_only_the_estates_own_entries(estate):
    other = factories.make_estate()
    sync(other.id, [IKEJA_PREPAID])
    foreign = entry(other.id, "prepaid")
    assert access.estate_catalogue_entry(estate.id, foreign.id) is None
    assert access.estate_catalogue_entry(other.id, foreign.id) == foreign


def test_active_for_estate_filters_by_type_and_skips_inactive(estate):
    sync(estate.id, VTPASS_LISTING)
    sync(estate.id, [FLW_WATER])
    entry(estate.id, "postpaid").is_active = False
    db.session.commit()
    assert [e.item_code for e in catalogue.active_for_estate(estate.id, "electricity")] == ["prepaid"]
    assert [e.provider_type for e in catalogue.active_for_estate(estate.id)] == ["cable_tv", "electricity", "water"]


# --- the model ------------------------------------------------------------------------------

def make_entry(estate, **fields) -> UtilityProvider:
    values = {"name": "Ikeja Electric Prepaid", "provider_type": "electricity", "api_provider": "vtpass",
              "provider_code": "ikeja-electric", "item_code": "prepaid", "origin": "catalogue", **fields}
    entry = UtilityProvider(estate_id=estate.id, **values)
    db.session.add(entry)
    db.session.flush()
    return entry


@pytest.mark.parametrize(
    "fields",
    [
        {"min_amount_kobo": 900_00, "max_amount_kobo": 100_00},
        {"fee_kobo": -1},
        {"max_amount_kobo": -5},
        {"provider_type": "gas"},
        {"api_provider": "paystack"},
        {"meter_type": "smart"},
        {"retired_at": utcnow(), "is_active": True},
        {"origin": "imported"},
        {"origin": None},
    ],
)
def test_the_database_refuses_inconsistent_entries(estate, fields):
    with pytest.raises(IntegrityError):
        make_entry(estate, **fields)
    db.session.rollback()


def test_the_database_refuses_a_duplicate_entry_in_one_estate(estate):
    make_entry(estate)
    with pytest.raises(IntegrityError):
        make_entry(estate, name="Same item again")
    db.session.rollback()


def test_the_same_item_may_exist_in_two_estates(estate):
    make_entry(estate)
    make_entry(factories.make_estate())
    db.session.commit()
    assert entry_count() == 2


def test_min_equal_to_max_is_allowed(estate):
    assert make_entry(estate, min_amount_kobo=100_00, max_amount_kobo=100_00).id


@pytest.mark.parametrize(
    ("provider_type", "label_name", "shown"),
    [
        ("electricity", None, "Meter Number"),
        ("cable_tv", None, "Smart Card Number"),
        ("water", None, "Customer Number"),
        ("internet", None, "Account Number"),
        ("cable_tv", "IUC Number", "IUC Number"),
    ],
)
def test_customer_label_prefers_the_providers_label(estate, provider_type, label_name, shown):
    assert make_entry(estate, provider_type=provider_type, label_name=label_name).customer_label == shown


@pytest.mark.parametrize(
    ("fields", "amount", "problem"),
    [
        ({"min_amount_kobo": 500_00}, 499_99, "minimum for Ikeja Electric Prepaid is ₦500.00"),
        ({"max_amount_kobo": 1000_00}, 1000_01, "maximum for Ikeja Electric Prepaid is ₦1,000.00"),
        ({"fixed_amount_kobo": 15_700_00}, 15_000_00, "costs exactly ₦15,700.00"),
        ({}, 0, "above zero"),
        ({"min_amount_kobo": 500_00, "max_amount_kobo": 1000_00}, 1000_00, None),
        ({"fixed_amount_kobo": 15_700_00}, 15_700_00, None),
    ],
)
def test_amount_problem_explains_out_of_range_amounts(estate, fields, amount, problem):
    found = catalogue.amount_problem(make_entry(estate, **fields), amount)
    assert (found is None) if problem is None else (problem in found)


# --- demo seeding ---------------------------------------------------------------------------

def test_seed_demo_says_why_the_catalogue_was_not_synced_when_providers_are_unreachable(app, runner):
    app.config.update(FLUTTERWAVE_BASE_URL="http://127.0.0.1:9/flutterwave/v3", FLUTTERWAVE_SECRET_KEY="k",
                      VTPASS_BASE_URL="", VTPASS_API_KEY="")
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert "Catalogue from flutterwave: not synced (cannot reach 127.0.0.1:9" in result.output
    assert "Catalogue from vtpass: not synced (VTPASS_BASE_URL is not set)" in result.output
    assert entry_count() == 0


# --- syncing from the sandbox through the real clients ----------------------------------------

@pytest.fixture
def sandbox_app(app, sandbox_config):
    """The test app pointed at the sandbox (the sandbox starts only for tests that ask for it)."""
    app.config.update(sandbox_config)
    return app


def _client(app, api_provider):
    from webapp.providers.registry import utility_service

    return utility_service(api_provider, app.config)


def _applied_view(estate_id, api_provider) -> dict:
    """The estate's entries of one provider, as a sync would describe them."""
    entries = db.session.scalars(select(UtilityProvider).where(
        UtilityProvider.estate_id == estate_id, UtilityProvider.api_provider == api_provider))
    return {(e.api_provider, e.provider_code, e.item_code): {f: getattr(e, f) for f in catalogue.SYNCED_FIELDS}
            for e in entries}


@pytest.mark.parametrize("api_provider", ["flutterwave", "vtpass"])
def test_sync_from_the_sandbox_applies_exactly_the_preview_and_is_then_a_noop(sandbox_app, estate, api_provider):
    service = _client(sandbox_app, api_provider)
    preview = catalogue.plan_sync(estate.id, service.get_utility_providers(), api_provider)
    assert preview.rejected == [] and preview.to_change == [] and preview.to_retire == []
    assert {a.values["provider_type"] for a in preview.to_add} == {"electricity", "water", "internet", "cable_tv"}
    assert {a.values["meter_type"] for a in preview.to_add} >= {"prepaid", "postpaid"}
    assert entry_count() == 0  # previewing wrote nothing

    applied = catalogue.sync_from_provider(estate.id, service, api_provider)
    assert applied.to_add == preview.to_add
    assert _applied_view(estate.id, api_provider) == {a.key: a.values for a in preview.to_add}

    before = snapshot(estate.id)
    second = catalogue.sync_from_provider(estate.id, _client(sandbox_app, api_provider), api_provider)
    assert second.is_noop and second.unchanged == len(preview.to_add)
    assert snapshot(estate.id) == before


def test_seed_demo_fills_the_demo_catalogue_from_both_sandbox_providers(sandbox_app, runner):
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    assert "Catalogue from flutterwave: synced (" in first.output
    assert "Catalogue from vtpass: synced (" in first.output
    estate = db.session.scalars(select(Estate)).one()
    offered = catalogue.active_for_estate(estate.id)
    assert {e.api_provider for e in offered} == {"flutterwave", "vtpass"}
    assert {e.provider_type for e in offered} == {"electricity", "water", "internet", "cable_tv"}
    second = runner.invoke(args=["seed-demo"])
    assert "0 added, 0 updated, 0 retired" in second.output


# --- whose entries a sync may change --------------------------------------------------------

def test_a_sync_keeps_the_display_fields_an_admin_edited_and_updates_the_providers_facts(estate):
    sync(estate.id, VTPASS_LISTING)
    prepaid = entry(estate.id, "prepaid")
    prepaid.name, prepaid.label_name, prepaid.min_amount_kobo = "Ikeja prepaid (Block A)", "Meter no.", 1_00
    prepaid.admin_set_fields = ["name", "label_name"]
    db.session.commit()
    plan = catalogue.plan_sync(estate.id, VTPASS_LISTING, "vtpass")
    assert [(c.entry_id, [f.field for f in c.changes]) for c in plan.to_change] == [(prepaid.id, ["min_amount_kobo"])]
    catalogue.apply_sync(estate.id, plan)
    db.session.expire_all()
    kept = entry(estate.id, "prepaid")
    assert (kept.name, kept.label_name, kept.min_amount_kobo) == ("Ikeja prepaid (Block A)", "Meter no.", 500_00)
    assert catalogue.plan_sync(estate.id, VTPASS_LISTING, "vtpass").is_noop


def test_the_summary_counts_every_entry_kept_because_added_by_hand(estate):
    make_entry(estate, name="Estate water", provider_code="estate-water", item_code="flat", provider_type="water",
               origin="admin")
    make_entry(estate, name="Our Ikeja price", origin="admin")  # listed too
    make_entry(estate, name="Their water", api_provider="flutterwave", provider_code="BIL1", item_code="UB1",
               provider_type="water", origin="admin")  # another provider's: not this sync's to count
    db.session.commit()
    plan = catalogue.plan_sync(estate.id, VTPASS_LISTING, "vtpass")
    assert plan.summary() == "2 added, 0 updated, 0 retired, 2 kept because added by hand, 0 unchanged"


@pytest.fixture
def sandbox_synced_estate(sandbox_app, estate):
    """The estate after a Flutterwave sync from the sandbox, plus entries the sandbox does not list:
    one added by hand, one from Flutterwave's catalogue (since dropped), one from VTpass's."""
    catalogue.sync_from_provider(estate.id, _client(sandbox_app, "flutterwave"), "flutterwave")
    entries = {
        "by_hand": make_entry(estate, name="Estate borehole", api_provider="flutterwave", provider_code="BIL-EST",
                              item_code="UB-EST", provider_type="water", origin="admin"),
        "dropped": make_entry(estate, name="Discontinued water", api_provider="flutterwave",
                              provider_code="BIL-GONE", item_code="UB-GONE", provider_type="water",
                              origin="catalogue", last_synced_at=utcnow()),
        "other_provider": make_entry(estate, name="Old VTpass item", provider_code="vt-gone", item_code="x",
                                     origin="catalogue", last_synced_at=utcnow()),
    }
    db.session.commit()
    return entries


def test_a_sandbox_sync_retires_only_its_own_dropped_entry_and_keeps_the_one_added_by_hand(
        sandbox_app, estate, sandbox_synced_estate):
    by_hand, dropped, other = (sandbox_synced_estate[k] for k in ("by_hand", "dropped", "other_provider"))
    untouched = [row for row in snapshot(estate.id) if row[0] in (by_hand.id, other.id)]  # row[0] is the id

    plan = catalogue.sync_from_provider(estate.id, _client(sandbox_app, "flutterwave"), "flutterwave")

    assert [r.entry_id for r in plan.to_retire] == [dropped.id]
    assert plan.summary().startswith("0 added, 0 updated, 1 retired, 1 kept because added by hand, ")
    db.session.expire_all()
    gone = db.session.get(UtilityProvider, dropped.id)
    assert gone.retired_at is not None and not gone.is_active
    assert [row for row in snapshot(estate.id) if row[0] in (by_hand.id, other.id)] == untouched  # not one column
    assert db.session.get(UtilityProvider, by_hand.id).is_active


def test_a_sandbox_sync_keeps_a_name_an_admin_set_on_a_catalogue_entry(sandbox_app, estate, sandbox_synced_estate):
    listed = db.session.scalars(select(UtilityProvider).where(
        UtilityProvider.estate_id == estate.id, UtilityProvider.api_provider == "flutterwave",
        UtilityProvider.origin == "catalogue", UtilityProvider.retired_at.is_(None),
        UtilityProvider.provider_code != "BIL-GONE").order_by(UtilityProvider.id)).first()
    listed_name, listed_fee = listed.name, listed.fee_kobo
    listed.name, listed.fee_kobo, listed.admin_set_fields = "Our estate's power", listed_fee + 1_00, ["name"]
    db.session.commit()

    plan = catalogue.sync_from_provider(estate.id, _client(sandbox_app, "flutterwave"), "flutterwave")

    assert [(c.entry_id, [f.field for f in c.changes]) for c in plan.to_change] == [(listed.id, ["fee_kobo"])]
    db.session.expire_all()
    kept = db.session.get(UtilityProvider, listed.id)
    assert (kept.name, kept.fee_kobo) == ("Our estate's power", listed_fee) and kept.name != listed_name
