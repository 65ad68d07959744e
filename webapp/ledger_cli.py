"""``flask ledger check``: prove the books balance (exit 1 with each violation when they do not)."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from webapp.services import ledger as ledger_service

ledger = AppGroup("ledger", help="Inspect the wallet ledger.")


@ledger.command("check")
def check_command() -> None:
    """Check every ledger invariant; print `ledger ok` or one line per violation."""
    problems = ledger_service.check_invariants()
    if problems:
        for problem in problems:
            click.echo(problem)
        raise SystemExit(1)
    entries, accounts = ledger_service.ledger_counts()
    click.echo(f"ledger ok: {entries} entries, {accounts} accounts, "
               f"{ledger_service.pending_postings()} system postings awaiting the roll-up")


@ledger.command("roll-up")
def roll_up_command() -> None:
    """Add the system accounts' pending postings to their balances (the worker does it every minute)."""
    click.echo(f"rolled up {ledger_service.roll_up()} system account(s)")
