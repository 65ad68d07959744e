"""Operator commands: ``flask seed-demo``, ``flask create-admin``, ``flask payments ...``."""
from __future__ import annotations

import contextlib
import gc

import click
from flask import Flask, current_app
from redis.exceptions import RedisError
from sqlalchemy import select

from webapp.extensions import db
from webapp.jobs import QUEUES, use_app
from webapp.models import Estate, Role, User
from webapp.services.identity import credentials

DEMO_ESTATE = "Palm Grove Estate"
DEMO_INVITE_CODE = "PALMGROVE"
DEMO_USERS = [
    ("admin@example.com", "autopay-admin-1", "Estate Admin", Role.ESTATE_ADMIN, "+2348030000001"),
    # A second admin (finance), so a payout one asks for can be approved by the other.
    ("finance@example.com", "autopay-admin-2", "Funke Treasurer", Role.ESTATE_ADMIN, "+2348030000002"),
    ("ada@example.com", "autopay-demo-1", "Ada Okafor", Role.RESIDENT, "+2348031234567"),
    ("bola@example.com", "autopay-demo-2", "Bola Adeyemi", Role.RESIDENT, "+2348057654321"),
]


class DemoDataRefused(click.ClickException):
    """Demo data has published passwords: never in a production database."""

    def __init__(self) -> None:
        super().__init__("APP_ENV is production: the demo estate and its logins (whose passwords are in the "
                         "README) are never created there. Create real admins with `flask create-admin`.")


def seed_demo() -> tuple[Estate, list[tuple[str, str, str]]]:
    """Create the demo estate and people, or leave them as they are when they exist."""
    if current_app.config.get("APP_ENV") == "production":
        raise DemoDataRefused()
    estate = db.session.scalar(select(Estate).where(Estate.name == DEMO_ESTATE))
    if estate is None:
        estate = Estate(name=DEMO_ESTATE, invite_code=DEMO_INVITE_CODE)
        db.session.add(estate)
        db.session.flush()
    created = []
    for email, password, name, role, phone in DEMO_USERS:
        user = credentials.find_user_by_email(email)
        if user is None:
            extra = {"admin_role": "finance"} if email.startswith("finance@") else {}
            user = User(email=email, full_name=name, role=role.value, estate=estate, phone=phone, **extra)
            user.set_password(password)
            db.session.add(user)
        created.append((role.value, email, password))
    db.session.commit()
    return estate, created


payments_cli = click.Group("payments", help="Operate on payments.")


@payments_cli.command("janitor")
def payments_janitor():
    """Run one janitor pass: requery unknowns, drive stale payments forward, alert on old ones."""
    from webapp.services import payments

    try:
        report = payments.run_janitor()
    except payments.JanitorErrors as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(report.summary())


@payments_cli.command("payouts")
def payments_payouts():
    """Run one payouts janitor pass: send lost approvals, ask about stale and unknown transfers."""
    from webapp.services.payouts import janitor

    report = janitor.run_pass()
    for error in report.errors:
        click.echo(error, err=True)
    click.echo(report.summary())


@payments_cli.command("sweep")
def payments_sweep():
    """Run one automation sweep now: due occurrences become payments (safe to run twice)."""
    from webapp.services import automations

    click.echo(automations.run_sweep().summary())


@payments_cli.command("reminders")
def payments_reminders():
    """Send reminders for automatic payments due within each resident's lead time."""
    from webapp.services import automations

    click.echo(f"{automations.send_reminders()} reminders sent")


@payments_cli.command("reconcile")
@click.option("--date", "day", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="The Lagos day to reconcile, YYYY-MM-DD (default: yesterday in Lagos).")
@click.option("--provider", type=click.Choice(["flutterwave", "vtpass"]), default=None,
              help="One bills provider (default: every provider configured or used that day).")
def payments_reconcile(day, provider: str | None):
    """Compare a Lagos day's purchases with each provider's record; rerunning a day changes nothing."""
    from webapp.services import reconciliation

    chosen = day.date() if day else reconciliation.previous_lagos_day()
    try:
        runs = reconciliation.reconcile_all(chosen, (provider,) if provider else None)
    except reconciliation.ReconciliationError as exc:
        for run in exc.runs:
            click.echo(reconciliation.summary(run))
        raise click.ClickException(str(exc)) from exc
    if not runs:
        click.echo(f"{chosen.isoformat()}: no bills provider is configured or was used that day")
    for run in runs:
        click.echo(reconciliation.summary(run))


def register(app: Flask) -> None:
    app.cli.add_command(payments_cli)
    from webapp.ledger_cli import ledger

    app.cli.add_command(ledger)

    @app.cli.command("worker")
    @click.option("--queues", default=",".join(QUEUES), show_default=True,
                  help="Comma-separated queue names, served in this order.")
    @click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
    @click.option("--name", default=None, help="Worker name (defaults to host:pid).")
    def worker_command(queues: str, burst: bool, name: str | None):
        """Run an RQ worker that shares this app's configuration."""
        from flask import current_app

        from webapp.infra import resilient_worker
        from webapp.infra.redis_client import redis_connection

        use_app(current_app._get_current_object())
        connection = redis_connection()
        # RQ forks a work horse per job: with the app's objects frozen out of the collector's reach
        # the horses keep sharing their pages instead of copying them (Python's gc.freeze advice).
        gc.collect()
        gc.freeze()

        if name:  # a unit restarted after a kill -9 would find its old registration still there
            with contextlib.suppress(RedisError):
                resilient_worker.release_stale_name(connection, name)

        maintenance = current_app.config["WORKER_MAINTENANCE_SECONDS"]

        def make_worker(restarts: int) -> resilient_worker.StoppableWorker:
            return resilient_worker.StoppableWorker(
                queues.split(","), connection=connection,
                name=None if name is None else (name if restarts == 0 else f"{name}-{restarts}"),
                # An idle worker waits on its queues for worker_ttl - 15 s before it can run its
                # maintenance (RQ's Worker.dequeue_timeout), so both come from the one setting.
                maintenance_interval=maintenance, worker_ttl=maintenance + 15)

        # A Redis outage mid-job ends RQ's loop; this waits for Redis and works on (infra/resilient_worker.py).
        resilient_worker.work(make_worker, connection, burst=burst)

    @app.cli.command("cron")
    def cron_command():
        """Run the single `rq cron` scheduler with the jobs declared in workers/schedule.py."""
        from rq.cron import CronScheduler

        from webapp.infra import resilient_worker
        from webapp.infra.redis_client import redis_connection

        connection = redis_connection()

        def make_scheduler() -> CronScheduler:
            scheduler = CronScheduler(connection=connection)
            scheduler.load_config_from_file("workers.cron")
            return scheduler

        # A Redis outage ends rq cron's loop; this waits for Redis and schedules on (infra/resilient_worker.py).
        resilient_worker.run_cron(make_scheduler, connection)

    @app.cli.command("seed-demo")
    def seed_demo_command():
        """Create the demo estate, admin and residents (safe to run again)."""
        estate, people = seed_demo()
        click.echo(f"Estate: {estate.name} (invite code {estate.invite_code})")
        for role, email, password in people:
            click.echo(f"  {role:<14} {email:<22} {password}")
        from webapp.services.catalogue.sync import seed_catalogue

        # Syncs only from providers that are configured and reachable; says why for the others.
        for report in seed_catalogue(estate):
            click.echo(f"Catalogue from {report}")

    @app.cli.command("create-admin")
    @click.option("--email", prompt=True)
    @click.option("--name", "full_name", prompt="Full name")
    @click.option("--estate", "estate_name", default="", help="Estate name; omit for a platform admin.")
    @click.password_option()
    def create_admin(email: str, full_name: str, estate_name: str, password: str):
        """Create an estate admin (with --estate) or a platform admin."""
        try:
            email = credentials.normalise_email(email)
        except credentials.AccountError as exc:
            raise click.BadParameter(str(exc), param_hint="--email") from exc
        if credentials.find_user_by_email(email):
            raise click.ClickException(f"{email} already has an account.")
        problem = credentials.password_problem(password, email)
        if problem:
            raise click.BadParameter(problem, param_hint="--password")
        estate = None
        if estate_name:
            estate = db.session.scalar(select(Estate).where(Estate.name == estate_name))
            if estate is None:
                raise click.ClickException(f"No estate named {estate_name!r}.")
        role = Role.ESTATE_ADMIN if estate else Role.PLATFORM_ADMIN
        user = User(email=email, full_name=full_name.strip(), role=role.value, estate=estate)
        user.set_password(password)
        db.session.add(user)
        db.session.commit()
        click.echo(f"Created {role.value} {email}.")
