"""`make run`'s supervisor: a child that dies is started again after a short backoff, with a line
saying so, instead of stopping the whole product."""
from __future__ import annotations

import sys

from webapp import devrun

DIES = [sys.executable, "-c", "raise SystemExit(3)"]


def test_a_child_that_dies_is_restarted_after_a_backoff_that_grows_and_is_said(capsys):
    child = devrun._spawn("worker", DIES, {})
    child.process.wait(10)
    now = child.started_at + 1  # died at once
    devrun._supervise(child, now)
    assert child.restart_at == now + devrun.RESTART_BACKOFF[0]
    assert "worker exited with code 3; restarting it in 1 s" in capsys.readouterr().out
    first_pid = child.process.pid
    devrun._supervise(child, now + 0.5)
    assert child.process.pid == first_pid, "not before its backoff"
    devrun._supervise(child, now + 1)
    assert child.process.pid != first_pid and child.restarts == 1
    assert "worker restarted" in capsys.readouterr().out
    child.process.wait(10)
    devrun._supervise(child, child.started_at + 1)
    assert child.restart_at == child.started_at + 1 + devrun.RESTART_BACKOFF[1], "the second restart waits longer"


def test_a_child_that_ran_steadily_before_it_died_starts_from_the_first_step():
    child = devrun._spawn("web", DIES, {})
    child.process.wait(10)
    child.restarts = 4
    died = child.started_at + devrun.STEADY_AFTER + 5
    devrun._supervise(child, died)
    assert child.restart_at == died + devrun.RESTART_BACKOFF[0]


def test_a_running_child_is_left_alone():
    child = devrun._spawn("cron", [sys.executable, "-c", "import time; time.sleep(30)"], {})
    try:
        devrun._supervise(child, child.started_at + 100)
        assert child.restart_at is None and child.process.poll() is None
    finally:
        child.process.kill()
        child.process.wait(10)
