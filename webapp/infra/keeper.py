"""Doing something every few seconds while a block runs, from a thread of its own (renewing a
lease or a lock while a long step is busy)."""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def every(seconds: float, action: Callable[[], None], name: str) -> Iterator[None]:
    """Call ``action`` every ``seconds`` until the block ends (not at its start; the block's end
    stops the thread and waits for it). ``action`` handles its own errors: one that escapes ends
    the renewals."""
    done = threading.Event()

    def keep() -> None:
        while not done.wait(seconds):
            action()

    keeper = threading.Thread(target=keep, name=name, daemon=True)
    keeper.start()
    try:
        yield
    finally:
        done.set()
        keeper.join()
