"""Screenshots of the running product for the README (PNG, phone 390×844 and desktop 1280×800).

    .venv/bin/python scripts/screenshots.py                        # starts its own product, shoots, stops it
    .venv/bin/python scripts/screenshots.py --url http://127.0.0.1:5000   # a product already running
    .venv/bin/python scripts/screenshots.py --root ../an-older-checkout --prefix before- --sizes phone

Without ``--url`` the product is started the way `make run` starts it (``python -m webapp.devrun``:
migrations, demo data, gunicorn, workers, cron, provider sandbox) from the checkout ``--root``, on a
free port with a temporary SQLite database and a private Redis, and stopped at the end. The demo
resident (ada@example.com) gets something to show when she has no payments yet: linked meters, a
wallet top-up through the sandbox checkout, six payments (one failed and refunded, one held for the
admin's review) and a monthly automation, all made through the pages as a resident would. Then the
resident's and the estate admin's pages are shot in Chromium (Debian's, never a downloaded one): the
whole page, cut at ``--max-height`` pixels.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a file: the helpers come from this checkout
    sys.path.insert(0, str(REPO))

from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402

from webapp.cli import DEMO_USERS  # noqa: E402
from webapp.infra.local_services import free_port  # noqa: E402
from webapp.models import Role  # noqa: E402
from webapp.sandbox.runner import REAL_KEY_SETTINGS  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SIZES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}
TIMEOUT_MS = 30_000
START_TIMEOUT_S = 180  # migrations, seeding and the catalogue sync come before the web server

RESIDENT = next((email, password) for email, password, _n, role, _p in DEMO_USERS
                if role == Role.RESIDENT and email == "ada@example.com")
ADMIN = next((email, password) for email, password, _n, role, _p in DEMO_USERS if role == Role.ESTATE_ADMIN)


@dataclass(frozen=True)
class Shot:
    name: str
    who: str  # "resident" or "admin"
    path: str | None  # None: found on the page (the first payment on the history page)


SHOTS = [
    Shot("home", "resident", "/"),
    Shot("upcoming", "resident", "/automations/upcoming"),
    Shot("history", "resident", "/payments/"),
    Shot("payment", "resident", None),
    Shot("wallet", "resident", "/wallet/"),
    Shot("pay", "resident", "/pay/"),
    Shot("automations", "resident", "/automations/"),
    Shot("admin-overview", "admin", "/admin/"),
    Shot("admin-payments", "admin", "/admin/payments/"),
    Shot("admin-catalogue", "admin", "/admin/catalogue/"),
]

# The sandbox's test numbers (README): prepaid meters paid with a token, a postpaid meter with a bill
# outstanding, a blocked meter whose payment fails and is refunded, and "any other number" (succeeds).
DEMO_ACCOUNTS = [
    ("electricity", "IKEDC Prepaid", "VTpass", "1111111111111", "Home meter"),
    ("electricity", "IKEDC Postpaid", "VTpass", "1010101010101", "Shop meter"),
    ("electricity", "IKEDC Prepaid", "VTpass", "5000000000000", "Boys' quarters"),
    ("electricity", "EKEDC Prepaid", "Flutterwave", "7034567890123", "Mum's flat"),
]
FUNDING = "60,000"
# Oldest first. After three that succeeded, ₦25,000 is 5× the usual (FRAUD_AMOUNT_FACTOR) and is held for
# the admin's review. The newest pays with a token (the "payment" picture shows the newest payment). VTpass
# refuses a second purchase for one meter within 30 s (code 019, retried later): no meter twice through it.
DEMO_PAYMENTS = [("Boys' quarters", "2000"), ("Shop meter", "12500"), ("Home meter", "4000"),
                 ("Mum's flat", "4500"), ("Mum's flat", "25000"), ("Mum's flat", "5000")]
AUTOMATION = ("Home meter", "5000")
FIRST_PAYMENT_LINK = r"""() => {
  const link = [...document.querySelectorAll("main a[href]")].find(a => /^\/payments\/\d+$/.test(a.pathname));
  return link ? link.pathname : null;
}"""


# --- the product --------------------------------------------------------------------------------

class Product:
    """`make run` (``python -m webapp.devrun``) from ``root`` on a free port, a temporary SQLite file and a
    private Redis (devrun starts one when REDIS_URL is not set); ``stop()`` ends it like Ctrl-C does."""

    def __init__(self, root: Path):
        self.root = root
        self.workdir = Path(tempfile.mkdtemp(prefix="autopay-screenshots-"))
        self.log_path = self.workdir / "devrun.log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self._ready = threading.Event()

    def start(self) -> None:
        env = os.environ.copy()
        for name in ("REDIS_URL", "APP_ENV", "FLASK_APP", *REAL_KEY_SETTINGS):
            env.pop(name, None)  # a private Redis, development mode, the provider sandbox
        env.update(PORT=str(self.port), DATABASE_URL=f"sqlite:///{self.workdir / 'autopay.db'}",
                   PYTHONPATH=os.pathsep.join(filter(None, [str(self.root), env.get("PYTHONPATH")])))
        print(f"Starting the product from {self.root} on {self.url} (log: {self.log_path})", flush=True)
        # This venv's python and tools; PYTHONPATH and cwd make them run the code of --root.
        self.process = subprocess.Popen([sys.executable, "-m", "webapp.devrun"], cwd=self.root, env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                        start_new_session=True)
        threading.Thread(target=self._copy_log, daemon=True).start()
        if not self._ready.wait(START_TIMEOUT_S) or self.process.poll() is not None:
            self.stop()
            raise RuntimeError(f"the product did not start; the end of its log:\n{self.log_tail()}")

    def _copy_log(self) -> None:
        """Copy devrun's output to the log; its banner says the web server answers (or the pipe ends)."""
        banner = f"Utility Autopay is running at {self.url}"
        with open(self.log_path, "w", encoding="utf-8") as log:
            for line in self.process.stdout:
                log.write(line)
                log.flush()
                if banner in line:
                    self._ready.set()
        self._ready.set()  # devrun ended: start() sees it has exited

    def log_tail(self, chars: int = 3000) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]
        return ""

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)  # devrun stops its children and its Redis
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)


# --- in the browser -----------------------------------------------------------------------------

def sign_in(page: Page, email: str, password: str) -> None:
    page.goto("/auth/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    if "/auth/login" in page.url:
        raise RuntimeError(f"could not sign in as {email}")


def htmx_settled(page: Page) -> None:
    page.wait_for_function(
        "() => document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added') === null")


def first_payment_path(page: Page) -> str | None:
    page.goto("/payments/")
    page.wait_for_load_state("load")
    return page.evaluate(FIRST_PAYMENT_LINK)


def link_account(page: Page, utility: str, product: str, via: str, number: str, nickname: str) -> None:
    page.goto("/accounts/new")
    page.wait_for_load_state("load")  # htmx (a deferred script) listens once the page has loaded
    with page.expect_response(re.compile(r"/accounts/new/providers")):
        page.get_by_label("What do you want to pay for?").select_option(utility)
    htmx_settled(page)
    provider = page.get_by_label("Provider", exact=True)
    # "(via …)" follows a name only when two providers sell it
    label = provider.locator("option").filter(
        has_text=re.compile(rf"^{re.escape(product)}( \(via {re.escape(via)}\))?$")).first.inner_text()
    with page.expect_response(re.compile(r"/accounts/new/providers")):
        provider.select_option(label=label)
    htmx_settled(page)
    box = page.locator("input[name=customer_number], input[inputmode=numeric]").first
    box.fill(number)
    box.press("Tab")
    expect(page.locator("#customer-preview")).not_to_be_empty()
    page.get_by_label("Nickname (optional)").fill(nickname)
    page.get_by_role("button", name="Check and save").click()
    expect(page.get_by_role("heading", name=nickname)).to_be_visible()


def fund_wallet(page: Page, app_url: str, amount: str) -> None:
    """Wallet → Add money → the sandbox's hosted checkout (Paystack, which also saves the card) → back."""
    page.goto("/wallet/fund")
    page.get_by_label("Amount (₦)").fill(amount)
    page.get_by_label("Paystack (card, bank, USSD)").check()
    page.get_by_role("button", name="Continue to payment").click()
    page.wait_for_url(re.compile(r"/checkout/paystack/"))
    page.get_by_role("button", name=re.compile(r"^Pay ")).click()
    page.wait_for_url(re.compile("^" + re.escape(f"{app_url}/wallet/fund/")))
    expect(page.get_by_text(re.compile(r"has been added to your wallet"))).to_be_visible()


def pay(page: Page, nickname: str, amount: str) -> None:
    page.goto("/pay/")
    account = page.get_by_label("Account")
    account.select_option(label=account.locator("option", has_text=nickname).inner_text())
    page.get_by_label("Amount (₦)").fill(amount)
    page.get_by_role("button", name="Review payment").click()
    page.get_by_role("button", name=re.compile(r"^Confirm and pay ₦")).click()
    # The worker pays in the background; the status box polls until the payment is final (or held).
    status = page.locator("#payment-status")
    expect(status.locator("xpath=self::*[not(@hx-get)]").or_(status.filter(has_text="Held for review"))
           ).to_be_visible(timeout=60_000)


def add_automation(page: Page, nickname: str, amount: str) -> None:
    """A monthly ₦amount for the account, turned on (the upcoming page then lists its runs)."""
    page.goto("/automations/new")
    page.wait_for_load_state("load")
    target = page.get_by_label("Pay for")
    target.select_option(label=target.locator("option", has_text=nickname).first.inner_text())
    page.locator("input[name=amount_mode][value=fixed]").check()
    page.get_by_label("Fixed amount (₦)").fill(amount)
    page.get_by_label("Day of the month").fill(str((date.today() + timedelta(days=3)).day))
    page.get_by_role("button", name=re.compile(r"^Save")).click()
    page.wait_for_load_state("load")
    page.get_by_role("button", name=re.compile(r"^Turn on")).first.click()
    expect(page.get_by_text("On", exact=True).first).to_be_visible()


def ensure_demo_data(page: Page, app_url: str) -> None:
    """Give the resident payments and an automation to show, unless she has payments already."""
    if first_payment_path(page):
        print("The demo resident has payments already: none made", flush=True)
        return
    print("Making demo data as the resident: accounts, a top-up, payments, an automation", flush=True)
    page.goto("/accounts/")
    page.wait_for_load_state("load")
    linked = page.locator("main").inner_text()
    for *account, nickname in DEMO_ACCOUNTS:
        if nickname not in linked:
            link_account(page, *account, nickname)
    fund_wallet(page, app_url, FUNDING)
    for nickname, amount in DEMO_PAYMENTS:
        pay(page, nickname, amount)
    page.goto("/automations/")
    page.wait_for_load_state("load")
    if page.locator("main article.card").count() == 0:
        add_automation(page, *AUTOMATION)


def settle(page: Page) -> None:
    """Wait until the page has loaded, its scripts ran and its fonts and pictures are in."""
    page.wait_for_load_state("load")
    htmx_settled(page)
    page.evaluate("() => document.fonts.ready.then(() => true)")


def shoot(page: Page, path: Path, size: dict, max_height: int) -> None:
    """The whole page, at most ``max_height`` px. The window is made as tall as the page instead of
    stitching a full-page shot, so that bars fixed to the window's bottom are drawn at the bottom."""
    page.set_viewport_size(size)
    settle(page)
    height = page.evaluate("() => Math.ceil(document.documentElement.scrollHeight)")
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], min(height, max_height))})
    page.evaluate("() => new Promise(resolve => requestAnimationFrame(() => requestAnimationFrame(resolve)))")
    page.screenshot(path=str(path), animations="disabled", caret="hide")
    page.set_viewport_size(size)


# --- the whole run ------------------------------------------------------------------------------

def take(url: str, out: Path, prefix: str, sizes: list[str], shots: list[Shot], max_height: int,
         demo_data: bool) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)

        def context(size: str, storage_state=None):
            ctx = browser.new_context(base_url=url, viewport=SIZES[size], device_scale_factor=1, locale="en-NG",
                                      timezone_id="Africa/Lagos", storage_state=storage_state)
            ctx.set_default_timeout(TIMEOUT_MS)
            return ctx

        # One sign-in per person (the login form is rate limited); each size reuses its cookies.
        states = {}
        for who, (email, password) in (("resident", RESIDENT), ("admin", ADMIN)):
            if not any(shot.who == who for shot in shots) and not (who == "resident" and demo_data):
                continue
            ctx = context("desktop")
            page = ctx.new_page()
            sign_in(page, email, password)
            if who == "resident" and demo_data:
                ensure_demo_data(page, url)
            states[who] = ctx.storage_state()
            ctx.close()

        for size in sizes:
            for who in ("resident", "admin"):
                wanted = [shot for shot in shots if shot.who == who]
                if not wanted:
                    continue
                ctx = context(size, states[who])
                page = ctx.new_page()
                for shot in wanted:
                    target = shot.path or first_payment_path(page)
                    if target is None:
                        print(f"skipped {size}-{shot.name}: no payment on the history page", flush=True)
                        continue
                    page.goto(target)
                    if "/auth/login" in page.url:
                        raise RuntimeError(f"{target} sent {who} to the login page")
                    path = out / f"{prefix}{size}-{shot.name}.png"
                    shoot(page, path, SIZES[size], max_height)
                    written.append(path)
                    print(f"{path}  {path.stat().st_size / 1024:.0f} KB", flush=True)
                ctx.close()
        browser.close()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a product already running (default: start one from --root)")
    parser.add_argument("--root", type=Path, default=REPO,
                        help="the checkout whose product is started when --url is not given (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots", help="default: %(default)s")
    parser.add_argument("--prefix", default="", help="put before every file name, e.g. before-")
    parser.add_argument("--sizes", default="phone,desktop", help="comma-separated: phone, desktop")
    parser.add_argument("--pages", default="", help="comma-separated page names (default all): "
                        + ", ".join(shot.name for shot in SHOTS))
    parser.add_argument("--max-height", type=int, default=2400, help="cut full-page shots at this many px")
    parser.add_argument("--no-demo-data", action="store_true", help="never make payments for the resident")
    args = parser.parse_args(argv)

    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    names = [p.strip() for p in args.pages.split(",") if p.strip()]
    unknown = [s for s in sizes if s not in SIZES] + [n for n in names if n not in {s.name for s in SHOTS}]
    if unknown:
        parser.error(f"unknown size or page: {', '.join(unknown)}")
    shots = [shot for shot in SHOTS if not names or shot.name in names]
    if not os.access(CHROMIUM, os.X_OK):
        print(f"needs Debian's chromium at {CHROMIUM}", file=sys.stderr)
        return 2

    product = None
    url = args.url.rstrip("/") if args.url else None
    try:
        if url is None:
            product = Product(args.root.resolve())
            product.start()
            url = product.url
        written = take(url, args.out, args.prefix, sizes, shots, args.max_height, not args.no_demo_data)
    except Exception:
        if product:
            print(f"--- the end of the product's log ---\n{product.log_tail()}", file=sys.stderr)
        raise
    finally:
        if product:
            product.stop()
    total = sum(path.stat().st_size for path in written)
    print(f"{len(written)} files, {total / 1024:.0f} KB in all", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
