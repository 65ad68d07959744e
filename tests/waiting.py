"""Waiting for something to happen, with a deadline, instead of sleeping for a guessed time.

A fixed sleep is either too short on a busy machine (the test fails) or longer than needed
everywhere else (the suite is slow). ``wait_until`` returns as soon as the condition holds and
fails loudly, saying what it waited for, when the deadline passes.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], timeout: float = 10.0, interval: float = 0.02,
               what: str = "the condition") -> T:
    """Call ``predicate`` until it returns something truthy, and return that.

    ``timeout`` is generous on purpose: it only matters when the test is going to fail anyway.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} did not happen within {timeout:g} s")
        time.sleep(interval)
