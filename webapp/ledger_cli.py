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
    click.echo(f"ledger ok: {entries} entries, {accounts} accounts")
