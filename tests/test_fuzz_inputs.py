"""Fuzzing every form field and query parameter of the main pages: never a 500, and a POST that is
refused (4xx) creates nothing.

The forms are not listed by hand: each page is fetched as its user would see it and every
``<form>`` in it is read (fields, method, action, and the ``hx-post``/``formaction`` targets of its
buttons), so a field added to a template is fuzzed the day it is added. Each field first gets
every value of ``NASTY`` with the rest of the form left as the page filled it in (so the bad value
reaches the code behind the first check), then Hypothesis mixes bad values across fields.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import (
    AuditEntry,
    Automation,
    AutomationSettings,
    Bill,
    BillPlan,
    FundingIntent,
    JournalEntry,
    Payment,
    UtilityAccount,
    UtilityProvider,
    VirtualAccount,
)

from .factories_world import World, build_world
from .payments.helpers import fund

NASTY = ["²", "٣", "9" * 5000, "99999999999999999999", "-1", "1e309", "0", "a\x00b", "x" * 10_000, "😀💸",
         "<script>alert(1)</script>", "' OR 1=1 --", "1,000,000,000", "NaN", " "]
# Query arguments get the kinds of number that broke pages (the sweep would otherwise be most of the run).
NASTY_IN_QUERIES = ["²", "٣", "9" * 5000, "99999999999999999999", "-1", "a\x00b"]
# Query arguments the views read besides those of their GET forms.
QUERY_ARGUMENTS = ["page", "estate", "account", "amount", "target", "provider_id", "type", "utility_type", "status",
                   "from", "to", "month", "q", "queue", "active", "provider", "part", "resident", "min_days"]
# Created rows a refused POST must not leave behind.
COUNTED = (Payment, Automation, UtilityAccount, Bill, BillPlan, UtilityProvider, FundingIntent, AutomationSettings,
           JournalEntry, AuditEntry, VirtualAccount)
# Forms that would end the session under test (another team owns sign-in), never fuzzed.
NOT_FUZZED = ("/auth/",)


@dataclass(frozen=True)
class Target:
    method: str
    action: str
    fields: tuple[tuple[str, str], ...]  # (name, the value the page put there)

    @property
    def names(self) -> list[str]:
        return list(dict.fromkeys(name for name, _ in self.fields))


@dataclass
class _Form:
    method: str
    action: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    extra_targets: list[tuple[str, str]] = field(default_factory=list)


class FormReader(HTMLParser):
    """The forms of a page: their fields with the values the page filled in, and where they go."""

    def __init__(self, page_path: str):
        super().__init__(convert_charrefs=True)
        self.page_path = page_path
        self.forms: list[_Form] = []
        self._open: _Form | None = None
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        if tag == "form":
            self._open = _Form(a.get("method", "get").upper(), a.get("action") or self.page_path)
            self.forms.append(self._open)
            return
        if self._open is None:
            return
        for attribute, method in (("hx-post", "POST"), ("hx-get", "GET"), ("formaction", None)):
            if a.get(attribute):
                self._open.extra_targets.append((method or self._open.method, a[attribute]))
        name = a.get("name")
        if tag == "input" and name and a.get("type") not in ("submit", "button", "image", "reset", "file"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                self._open.fields.append((name, ""))
            else:
                self._open.fields.append((name, a.get("value", "")))
        elif tag == "select" and name:
            self._select = name
            self._open.fields.append((name, ""))
        elif tag == "option" and self._select and ("selected" in a or self._last_value(self._select) == ""):
            self._set_last(self._select, a.get("value", ""))
        elif tag == "textarea" and name:
            self._textarea = name
            self._open.fields.append((name, ""))

    def handle_data(self, data):
        if self._open is not None and self._textarea:
            self._set_last(self._textarea, data)

    def handle_endtag(self, tag):
        if tag == "form":
            self._open = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def _last_value(self, name: str) -> str:
        return next((v for n, v in reversed(self._open.fields) if n == name), "")

    def _set_last(self, name: str, value: str) -> None:
        for i in range(len(self._open.fields) - 1, -1, -1):
            if self._open.fields[i][0] == name:
                self._open.fields[i] = (name, value)
                return

    def targets(self) -> list[Target]:
        found = []
        for form in self.forms:
            fields = tuple((n, v) for n, v in form.fields if n != "csrf_token")
            for method, action in [(form.method, form.action), *form.extra_targets]:
                path = urlsplit(action).path or self.page_path
                if fields and not path.startswith(NOT_FUZZED):
                    found.append(Target(method, path, fields))
        return found


def targets_of(client, pages: list[str]) -> list[Target]:
    """Every distinct form target on ``pages``, read from the pages themselves."""
    seen: dict[tuple, Target] = {}
    for page in pages:
        response = client.get(page)
        assert response.status_code == 200, page
        reader = FormReader(page)
        reader.feed(response.get_data(as_text=True))
        for target in reader.targets():
            seen.setdefault((target.method, target.action, tuple(target.names)), target)
    return list(seen.values())


def counts() -> dict[str, int]:
    """Rows of every counted table, in one statement."""
    db.session.rollback()
    row = db.session.execute(select(*(select(func.count()).select_from(m).scalar_subquery() for m in COUNTED))).one()
    return dict(zip((m.__tablename__ for m in COUNTED), row, strict=True))


class Sender:
    """Sends one filled form (or query string) and checks the two rules.

    The row counts are read once after each POST: a refused one must have left them as the last
    read found them. A GET never writes, so one that did would make the next refused POST's check
    fail rather than pass.
    """

    def __init__(self, client, csrf_token: str):
        self.client, self.token = client, csrf_token
        self.sent = 0
        self.rows = counts()

    def send(self, target: Target, values: dict[str, object]) -> None:
        self.sent += 1
        if target.method == "POST":
            response = self.client.post(target.action, data={**values, "csrf_token": self.token})
            label = f"POST {target.action} {_short(values)}"
            assert response.status_code < 500, label
            after = counts()
            if 400 <= response.status_code < 500:
                assert after == self.rows, f"{label} was refused with {response.status_code} but created rows"
            self.rows = after
        else:
            response = self.client.get(target.action, query_string=values)
            assert response.status_code < 500, f"GET {target.action} {_short(values)}"


def _short(values: dict) -> str:
    return repr({k: (v[:30] if isinstance(v, str) else v) for k, v in values.items()})[:300]


def base_values(target: Target) -> dict[str, object]:
    values: dict[str, object] = {}
    for name, value in target.fields:
        if name in values:  # checkboxes of one name: a list, as the browser sends them
            values[name] = [*([values[name]] if isinstance(values[name], str) else values[name]), value]
        else:
            values[name] = value
    return {k: ([x for x in v if x] if isinstance(v, list) else v) for k, v in values.items()}


def sweep(sender: Sender, targets: list[Target], values: list[str] = NASTY) -> None:
    """Every field of every target gets every bad value once, the rest of the form as the page had it."""
    for target in targets:
        for name in target.names:
            for bad in values:
                sender.send(target, {**base_values(target), name: bad})


def query_targets(pages: list[str]) -> list[Target]:
    return [Target("GET", urlsplit(page).path, tuple((name, "") for name in QUERY_ARGUMENTS)) for page in pages]


nasty_text = st.one_of(
    st.sampled_from(NASTY),
    st.from_regex(r"-?[0-9]{1,40}(\.[0-9]{0,5})?", fullmatch=True),
    st.text(st.characters(exclude_categories=("Cs",)), max_size=40),
    st.integers().map(str),
)


def fuzz(sender: Sender, targets: list[Target], examples: int) -> None:
    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(data=st.data())
    def one_request(data):
        target = data.draw(st.sampled_from(targets), label="target")
        values = base_values(target)
        changed = data.draw(st.lists(st.sampled_from(target.names), min_size=1, max_size=4, unique=True),
                            label="fields")
        for name in changed:
            values[name] = data.draw(nasty_text, label=name)
        sender.send(target, values)

    one_request()


# --- the people and their pages --------------------------------------------------------------------

@pytest.fixture
def config_overrides(sandbox_config):
    # Rate limits would answer 429 before the code under test runs.
    return {**sandbox_config, "RATELIMIT_ENABLED": False}


@pytest.fixture
def world(app) -> World:
    built = build_world()
    fund(built.owner, 50_000_00)
    return built


def resident_pages(w: World) -> list[str]:
    return ["/", "/accounts/new", f"/accounts/{w.account.id}/rename", f"/accounts/{w.account.id}/remove", "/pay/",
            "/automations/new", f"/automations/{w.automation.id}/edit", f"/automations/{w.automation.id}",
            "/automations/settings", f"/bills/{w.bill.id}/pay", "/wallet/fund", "/payments/",
            f"/payments/{w.payment.id}", "/notifications/", "/notifications/preferences", "/wallet/statement",
            "/wallet/"]


# The automation form shows one schedule kind's fields at a time (HTMX swaps the others in).
SCHEDULE_KINDS = {
    "interval": (("interval_unit", "week"), ("interval_count", "2")),
    "nth_weekday": (("nth", "2"), ("weekday", "1")),
    "weekly": (("weekdays", "1"), ("weekdays", "4")),
}


def resident_extra_targets(w: World, targets: list[Target]) -> list[Target]:
    # The confirm step's form only exists after a review: its fields as the review page writes them.
    extra = [Target("POST", "/pay/confirm", (("account", str(w.account.id)), ("amount_kobo", "500000"),
                                             ("submit_key", "fuzz-key")))]
    for target in targets:
        if target.method == "POST" and target.action == "/automations/new":  # the same reader serves edit, preview
            for kind, fields in SCHEDULE_KINDS.items():
                kept = tuple((n, v) for n, v in target.fields if n != "schedule_kind")
                extra.append(Target("POST", target.action, (*kept, ("schedule_kind", kind), *fields)))
    return extra


def admin_pages(w: World) -> list[str]:
    return ["/admin/", "/admin/catalogue/", "/admin/catalogue/new", f"/admin/catalogue/{w.entry.id}/edit",
            "/admin/catalogue/sync", "/admin/bills/", "/admin/bills/new", "/admin/bills/statement",
            "/admin/payments/", f"/admin/payments/{w.payment.id}", "/admin/audit/", "/admin/metrics/",
            "/admin/reconciliation/", f"/admin/reconciliation/{w.run.id}", "/admin/bills/plans/",
            "/admin/bills/plans/new", f"/admin/bills/plans/{w.plan.id}", f"/admin/bills/plans/{w.plan.id}/edit",
            "/admin/bills/collections", f"/admin/bills/statement?resident={w.owner.id}"]


def test_the_form_reader_finds_the_fields_people_type_in(client, auth, world):
    auth.login(world.owner.email)
    found = {(t.method, t.action): set(t.names) for t in targets_of(client, resident_pages(world))}
    assert {"amount", "account"} <= found[("POST", "/pay/review")]
    assert {"amount", "max_per_payment", "day_of_month", "target"} <= found[("POST", "/automations/new")]
    assert ("POST", "/automations/preview") in found
    assert {"min_balance", "monthly_cap", "grace_hours"} <= found[("POST", "/automations/settings")]
    assert {"provider_id", "customer_number"} <= found[("POST", "/accounts/new/validate")]
    assert {"account", "status", "from", "to"} <= found[("GET", "/payments/")]


def test_no_resident_form_or_query_answers_500_or_leaves_rows_behind_a_refusal(client, auth, world):
    auth.login(world.owner.email)
    pages = resident_pages(world)
    targets = targets_of(client, pages)
    targets += resident_extra_targets(world, targets)
    sender = Sender(client, auth.csrf("/auth/password"))
    sweep(sender, targets)
    sweep(sender, query_targets(pages), NASTY_IN_QUERIES)
    fuzz(sender, targets + query_targets(pages), examples=300)
    assert sender.sent > 2000


def test_no_admin_form_or_query_answers_500_or_leaves_rows_behind_a_refusal(client, auth, world):
    auth.login(world.admin.email)
    pages = admin_pages(world)
    targets = targets_of(client, pages)
    assert {"/admin/catalogue/new", "/admin/bills/new", "/admin/bills/plans/new",
            "/admin/bills/statement/send"} <= {t.action for t in targets}
    sender = Sender(client, auth.csrf("/auth/password"))
    sweep(sender, targets)
    sweep(sender, query_targets(pages), NASTY_IN_QUERIES)
    fuzz(sender, targets + query_targets(pages), examples=200)
    assert sender.sent > 1000
