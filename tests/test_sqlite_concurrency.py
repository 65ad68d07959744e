"""SQLite, the embedded default, never answers "database is locked" (DESIGN §8).

Transactions that may write take the write lock at BEGIN (``infra/sqlite_files.tune``): first the
rule itself, then two connections reading and writing at once, then the whole product. The live
stack (gunicorn: 2 processes x 4 threads, RQ workers, the sandbox) on its own SQLite file takes pay
confirmations (each submitted twice at once, like a double click), admin actions, sign-ups and
janitor runs all at once while the workers buy and mail: no response is a server error, every
confirmation made exactly one payment, and the ledger balances.
"""
from __future__ import annotations

import re
import signal
import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta

import click
import pytest
import requests
from requests.adapters import HTTPAdapter
from sqlalchemy import create_engine, event, select, text

from webapp.cli import DEMO_ESTATE, DEMO_INVITE_CODE, DEMO_USERS
from webapp.extensions import db
from webapp.infra import sqlite_files
from webapp.infra.sqlite_files import ReadOnlyTransactionWrote, takes_write_lock
from webapp.jobs import PERIODIC, job, use_app
from webapp.models import Estate

from .conftest import csrf_token_from
from .waiting import wait_until

RESIDENTS = 12  # 24 confirmations (48 POSTs): more than gunicorn's 8 threads can take at once
BYSTANDERS = 3  # residents the admin signs out everywhere
SIGN_UPS = 6
ROUNDS = 2  # pay confirmations per resident
AMOUNT_KOBO = 5_000_00
PASSWORD = "sqlite-crowd-lantern-harbour"
ADMIN_EMAIL, ADMIN_PASSWORD = next((e, p) for e, p, *_ in DEMO_USERS if e == "admin@example.com")
LINK_RE = re.compile(r"https?://[^/\s]+(/auth/register/confirm/\S+)")
TIMEOUT = 60  # per HTTP request: generous, only reached when something hangs


@pytest.fixture(autouse=True)
def _sqlite_only(database_url):
    if database_url.startswith("postgresql"):
        pytest.skip("SQLite's single write lock; PostgreSQL locks rows instead (tests/payments/test_concurrency_pg.py)")


# --- the rule --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("method", "path", "writes"), [
    ("GET", "/pay/", False), ("HEAD", "/pay/", False), ("OPTIONS", "/pay/", False),
    ("POST", "/pay/confirm", True), ("PUT", "/pay/confirm", True), ("PATCH", "/pay/", True),
    ("DELETE", "/pay/", True),
    ("GET", "/wallet/fund/return/paystack", True),  # the one GET that writes, marked writes_on_get
])
def test_requests_that_may_write_take_the_write_lock_at_begin(app, method, path, writes):
    with app.test_request_context(path, method=method):
        assert takes_write_lock() is writes


def test_jobs_and_commands_take_the_write_lock_and_the_rest_reads_without_it(app):
    @job(PERIODIC)
    def probe() -> bool:
        return takes_write_lock()

    use_app(app)
    assert probe() is True  # every RQ job, however a worker runs it
    with click.Context(click.Command("check")):
        assert takes_write_lock() is True  # `flask ledger check`, `flask payments janitor`, ...
    with click.Context(click.Command("shell")):
        assert takes_write_lock() is False  # an idle shell must not hold up the workers
    assert takes_write_lock() is False  # tests' and scripts' own sessions
    with app.test_request_context("/pay/confirm", method="POST"), sqlite_files.reading():
        assert takes_write_lock() is False
    with app.test_request_context("/pay/"), sqlite_files.writing():
        assert takes_write_lock() is True


@pytest.fixture
def statements(app):
    """The transaction-control statements the app's engine sends, in order."""
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        if statement.split(None, 1)[0].upper() in ("BEGIN", "SAVEPOINT", "RELEASE", "ROLLBACK", "COMMIT"):
            seen.append(statement.split(" sa_")[0])

    event.listen(db.engine, "before_cursor_execute", record)
    yield seen
    event.remove(db.engine, "before_cursor_execute", record)


def test_savepoints_nest_inside_a_write_locked_transaction(app, statements):
    db.session.rollback()
    with sqlite_files.writing():
        db.session.add(Estate(name="Kept"))
        try:
            with db.session.begin_nested():
                db.session.add(Estate(name="Undone"))
                db.session.flush()
                raise RuntimeError("undo the savepoint")
        except RuntimeError:
            pass
        db.session.commit()
    assert statements[:3] == ["BEGIN IMMEDIATE", "SAVEPOINT", "ROLLBACK TO SAVEPOINT"]
    assert set(db.session.scalars(select(Estate.name))) == {"Kept"}


def test_a_page_view_that_reads_then_writes_fails_every_time(app):
    db.session.rollback()
    with app.test_request_context("/pay/"):
        db.session.execute(select(Estate.id))
        with pytest.raises(ReadOnlyTransactionWrote, match="GET /pay/ wrote after reading"):
            db.session.execute(text("UPDATE estates SET name = name"))
    db.session.rollback()
    with app.test_request_context("/wallet/fund/return/paystack"):  # marked: it holds the lock
        db.session.execute(select(Estate.id))
        db.session.execute(text("UPDATE estates SET name = name"))
    db.session.rollback()


def test_a_read_only_block_may_write_first_but_not_after_reading(app):
    db.session.rollback()
    with sqlite_files.reading():
        db.session.execute(text("UPDATE estates SET name = name"))  # takes the lock, fresh snapshot
        db.session.execute(select(Estate.id))
        db.session.commit()
        db.session.execute(select(Estate.id))
        with pytest.raises(ReadOnlyTransactionWrote, match="reading()"):
            db.session.execute(text("UPDATE estates SET name = name"))
    db.session.rollback()


def test_two_connections_reading_then_writing_at_once_both_succeed(tmp_path):
    """Each transaction reads a counter and writes it back plus one. With a deferred BEGIN the
    second writer fails at once ("database is locked") whenever the other committed after its
    read; with the write lock taken at BEGIN each waits its turn and no increment is lost."""
    engine = create_engine(f"sqlite:///{tmp_path / 'counter.db'}")
    sqlite_files.tune(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE counter (n INTEGER NOT NULL)")
        conn.exec_driver_sql("INSERT INTO counter VALUES (0)")
    rounds, together = 100, threading.Barrier(2)

    def count_up() -> None:
        together.wait(timeout=10)
        with sqlite_files.writing():
            for _ in range(rounds):
                with engine.begin() as conn:
                    n = conn.exec_driver_sql("SELECT n FROM counter").scalar_one()
                    conn.exec_driver_sql("UPDATE counter SET n = ?", (n + 1,))

    with ThreadPoolExecutor(max_workers=2) as pool:
        errors = [task.exception(timeout=120) for task in [pool.submit(count_up) for _ in range(2)]]
    assert errors == [None, None]
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT n FROM counter").scalar_one() == 2 * rounds
    engine.dispose()


# --- the whole product ------------------------------------------------------------------------------

class FromAddress(HTTPAdapter):
    """Connects from one loopback address of its own, so the server sees (and rate-limits) a client
    of its own, as it would see many residents' phones."""

    def __init__(self, address: str):
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


@dataclass
class Responses:
    """Every response any client got, for the final "no 5xx" check."""

    seen: list[tuple[str, str, int, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, response: requests.Response) -> requests.Response:
        with self.lock:
            body = response.text[:300] if response.status_code >= 500 else ""
            self.seen.append((response.request.method, response.request.path_url, response.status_code, body))
        return response

    def server_errors(self) -> list[tuple[str, str, int, str]]:
        return [r for r in self.seen if r[2] >= 500]


class Client:
    """One browser: its own cookies, its own address."""

    def __init__(self, base_url: str, address: str, responses: Responses):
        self.base_url, self.responses = base_url, responses
        self.http = requests.Session()
        self.http.mount("http://", FromAddress(address))
        # A connection per request: reusing one the server is just closing (its 2 s keep-alive ran
        # out while this client waited) resets it, which is the client's problem, not the database's.
        self.http.headers["Connection"] = "close"

    def get(self, path: str) -> requests.Response:
        return self.responses.note(self.http.get(self.base_url + path, allow_redirects=False, timeout=TIMEOUT))

    def token(self, page: str) -> str:
        response = self.get(page)
        assert response.status_code == 200, f"GET {page}: {response.status_code}"
        return csrf_token_from(response.text)

    def post(self, path: str, data: dict | list, token: str) -> requests.Response:
        fields = [*(data.items() if isinstance(data, dict) else data), ("csrf_token", token)]
        return self.responses.note(self.http.post(self.base_url + path, data=fields, allow_redirects=False,
                                                  timeout=TIMEOUT))

    def sign_in(self, email: str, password: str) -> requests.Response:
        return self.post("/auth/login", {"email": email, "password": password}, self.token("/auth/login"))


@dataclass
class Crowd:
    estate_id: int
    residents: list[tuple[int, str, int]]  # user id, email, utility account id
    bystanders: list[int]  # user ids
    sign_ups: list[str]  # emails not yet registered
    run: str


@pytest.fixture
def crowd(live_stack) -> Crowd:
    """Residents with funded wallets and a meter each (every meter its own, so no fraud rule holds
    a payment), bystanders for the admin to sign out, and addresses for new sign-ups."""
    from webapp.extensions import db
    from webapp.infra import crypto
    from webapp.models import Estate, User, UtilityAccount
    from webapp.services import catalogue, ledger

    run = uuid.uuid4().hex[:8]
    app = live_stack.app()
    with app.app_context():
        estate = db.session.scalar(select(Estate).where(Estate.name == DEMO_ESTATE))
        entry = next(e for e in catalogue.active_for_estate(estate.id, "electricity")
                     if e.api_provider == "flutterwave" and e.meter_type == "prepaid")
        people = []
        for i in range(RESIDENTS + BYSTANDERS):
            user = User(email=f"crowd-{run}-{i}@example.com", full_name=f"Crowd Resident {i}", role="resident",
                        estate_id=estate.id)
            user.set_password(PASSWORD)
            db.session.add(user)
            people.append(user)
        db.session.flush()
        residents = []
        for i, user in enumerate(people[:RESIDENTS]):
            number = f"70{int(run, 16) % 10**7:07d}{i:04d}"  # 13 digits: any such number buys at once
            account = UtilityAccount(user_id=user.id, provider_id=entry.id, nickname="Crowd meter",
                                     customer_number=number, number_hash=crypto.lookup_hash(number),
                                     number_last4=number[-4:])
            db.session.add(account)
            db.session.flush()
            ledger.credit_funding(user.id, 100_000_00, "paystack", f"crowd-{run}-{i}")
            residents.append((user.id, user.email, account.id))
        db.session.commit()
        result = Crowd(estate_id=estate.id, residents=residents, bystanders=[u.id for u in people[RESIDENTS:]],
                       sign_ups=[f"newcomer-{run}-{i}@example.com" for i in range(SIGN_UPS)], run=run)
        db.session.remove()
    return result


@pytest.fixture
def second_worker(live_stack):
    """A second `flask worker`, so two processes commit payments and emails while the web serves."""
    process = live_stack.start_worker(name=f"sqlite-crowd-{uuid.uuid4().hex[:6]}")
    yield process
    # A warm shutdown lets the job in progress (a batch, say) finish first: on a busy machine that
    # can take longer than the stack's usual stop timeout.
    live_stack.kill_worker(signal.SIGTERM, process=process, timeout=60)


def _address(n: int) -> str:
    return f"127.0.{10 + n // 200}.{1 + n % 200}"


def _confirmation_path(app, email: str) -> str:
    from webapp.extensions import db
    from webapp.models import EmailMessage

    with app.app_context():
        body = db.session.scalar(select(EmailMessage.body_text).where(EmailMessage.to_address == email)
                                 .order_by(EmailMessage.id.desc()).limit(1))
        db.session.remove()
    match = LINK_RE.search(body or "")
    assert match, f"no confirmation link mailed to {email}"
    return match.group(1)


def _payments_for(app, keys: list[str]) -> dict[str, list[tuple[int, str]]]:
    from webapp.extensions import db
    from webapp.models import Payment

    with app.app_context():
        rows = db.session.execute(select(Payment.submit_key, Payment.id, Payment.status)
                                  .where(Payment.submit_key.in_(keys))).all()
        db.session.remove()
    found: dict[str, list[tuple[int, str]]] = {key: [] for key in keys}
    for key, payment_id, status in rows:
        found[key].append((payment_id, status))
    return found


@pytest.mark.slow
def test_concurrent_confirmations_admin_actions_and_sign_ups_get_no_server_error(live_stack, crowd, second_worker):
    app = live_stack.app()
    responses = Responses()
    addresses = iter(range(10_000))
    residents = [(Client(live_stack.url, _address(next(addresses)), responses), email, account_id)
                 for _user_id, email, account_id in crowd.residents]
    admin = Client(live_stack.url, _address(next(addresses)), responses)
    newcomers = [(Client(live_stack.url, _address(next(addresses)), responses), email) for email in crowd.sign_ups]
    keys = [f"crowd-{crowd.run}-{i}-{r}" for i in range(RESIDENTS) for r in range(ROUNDS)]
    confirmations: dict[str, list[requests.Response]] = {key: [] for key in keys}
    workers = len(residents) * 2 + len(newcomers) + 4
    start = threading.Barrier(len(residents) + 2 + len(newcomers))

    def sign_in_everyone() -> None:
        people = [(client, email, PASSWORD) for client, email, _account in residents]
        people.append((admin, ADMIN_EMAIL, ADMIN_PASSWORD))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            signed_in = list(pool.map(lambda person: person[0].sign_in(*person[1:]), people))
        for person, response in zip(people, signed_in, strict=True):
            if response.status_code >= 500:  # counted below; one by one so that the rest can go on
                response = person[0].sign_in(*person[1:])
            assert response.status_code == 302, f"signing in {person[1]}: {response.status_code}"

    def pay(index: int) -> None:
        client, _email, account_id = residents[index]
        start.wait(timeout=120)
        for round_ in range(ROUNDS):
            key = f"crowd-{crowd.run}-{index}-{round_}"
            token = client.token("/pay/")
            form = {"account": str(account_id), "amount_kobo": str(AMOUNT_KOBO), "submit_key": key}
            with ThreadPoolExecutor(max_workers=2) as double_click:
                confirmations[key] = list(double_click.map(lambda _: client.post("/pay/confirm", form, token),
                                                           range(2)))
            client.get(confirmations[key][0].headers.get("Location", "/pay/").removeprefix(live_stack.url))

    def administer() -> None:
        start.wait(timeout=120)
        due = (date.today() + timedelta(days=14)).isoformat()
        for round_ in range(3):
            token = admin.token("/admin/bills/new")
            form = [("title", f"Crowd levy {crowd.run} {round_}"), ("bill_type", "security"), ("amount", "2500"),
                    ("due_date", due), ("recipients", "chosen"),
                    *(("residents", str(user_id)) for user_id, _email, _account in crowd.residents)]
            issued = admin.post("/admin/bills/new", form, token)
            assert issued.status_code == 302, f"issuing bills: {issued.status_code}"
            bystander = crowd.bystanders[round_ % len(crowd.bystanders)]
            signed_out = admin.post(f"/admin/residents/{bystander}/sign-out", {}, admin.token("/admin/"))
            assert signed_out.status_code == 302, f"signing out: {signed_out.status_code}"
            admin.get("/admin/payments/")

    def sign_up(index: int) -> None:
        client, email = newcomers[index]
        token = client.token("/auth/register")
        start.wait(timeout=120)
        registered = client.post("/auth/register", {
            "full_name": f"Newcomer Number{index}", "email": email, "phone": "", "invite_code": DEMO_INVITE_CODE,
            "password": PASSWORD, "confirm": PASSWORD}, token)
        assert registered.status_code == 302, f"sign-up of {email}: {registered.status_code}"
        path = _confirmation_path(app, email)
        confirmed = client.post(path, {"password": PASSWORD}, client.token(path))
        assert confirmed.status_code == 302, f"confirming {email}: {confirmed.status_code}"

    def janitor() -> None:
        start.wait(timeout=120)
        for _ in range(2):  # the CLI path, beside the workers' own janitor jobs
            live_stack.run_cli("payments", "janitor")

    sign_in_everyone()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        tasks = [pool.submit(pay, i) for i in range(len(residents))]
        tasks += [pool.submit(administer), pool.submit(janitor)]
        tasks += [pool.submit(sign_up, i) for i in range(len(newcomers))]
        failures = [task.exception(timeout=300) for task in tasks]

    errors = responses.server_errors()
    kinds = Counter((method, re.sub(r"/\d+", "/<id>", path)) for method, path, _status, _body in errors)
    assert not errors, (f"{len(errors)} server errors of {len(responses.seen)} responses: {kinds}\n"
                        f"first: {errors[0]}\n{live_stack.log_tail('web', 60)}")
    assert failures == [None] * len(tasks), [repr(f) for f in failures if f]

    # Each confirmation (both clicks) led to one payment, and every payment was bought.
    for key, answers in confirmations.items():
        locations = {r.headers.get("Location", "") for r in answers}
        assert [r.status_code for r in answers] == [302, 302] and len(locations) == 1, (key, locations)

    def all_bought():
        found = _payments_for(app, keys)
        return found if all(len(rows) == 1 and rows[0][1] == "succeeded" for rows in found.values()) else None

    found = wait_until(all_bought, timeout=120, interval=0.2, what="every confirmed payment succeeding")
    for key, [(payment_id, _status)] in found.items():
        assert confirmations[key][0].headers["Location"].endswith(f"/pay/{payment_id}")
    live_stack.run_cli("ledger", "check")
