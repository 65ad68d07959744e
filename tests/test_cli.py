from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import Estate, User


def test_seed_demo_is_idempotent(runner):
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    assert "Palm Grove Estate" in first.output
    assert "ada@example.com" in first.output and "autopay-demo-1" in first.output
    second = runner.invoke(args=["seed-demo"])
    assert second.exit_code == 0
    assert db.session.scalar(select(func.count(Estate.id))) == 1
    assert db.session.scalar(select(func.count(User.id))) == 4
    admin = db.session.scalar(select(User).where(User.email == "admin@example.com"))
    assert admin.role == "estate_admin" and admin.admin_role == "manager" and admin.check_password("autopay-admin-1")
    # A second admin, so that a payout one of them asks for can be approved by the other.
    treasurer = db.session.scalar(select(User).where(User.email == "finance@example.com"))
    assert treasurer.admin_role == "finance" and treasurer.check_password("autopay-admin-2")


def test_create_admin(runner):
    runner.invoke(args=["seed-demo"])
    result = runner.invoke(args=["create-admin", "--email", "ops@example.com", "--name", "Ops Person",
                                 "--estate", "Palm Grove Estate", "--password", "ops-password-1"])
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.email == "ops@example.com"))
    assert user.role == "estate_admin"


def test_create_admin_refuses_weak_password(runner):
    result = runner.invoke(args=["create-admin", "--email", "ops@example.com", "--name", "Ops",
                                 "--password", "weak"])
    assert result.exit_code != 0
    assert db.session.scalar(select(func.count(User.id))) == 0


def test_the_payouts_janitor_command_runs_one_pass(runner):
    result = runner.invoke(args=["payments", "payouts"])
    assert result.exit_code == 0, result.output
    assert "payouts: 0 sent, 0 asked about, 0 requests expired, 0 alerts, 0 errors" in result.output
