"""RQ entry points: tiny functions that load ids and call services inside an app context.

Jobs receive ids, never objects. The Flask app is built once per worker process; forked work
horses drop inherited database connections so no socket is shared across processes.
"""
from __future__ import annotations

import functools
import os

from flask import Flask

_app: Flask | None = None


def use_app(app: Flask) -> None:
    """Run jobs in this process against an already-built app (``flask worker`` does this)."""
    global _app
    _app = app


def get_app() -> Flask:
    global _app
    if _app is None:
        from webapp import create_app

        _app = create_app()
    return _app


def _after_fork_in_child() -> None:
    if _app is None:
        return
    from webapp.extensions import db

    with _app.app_context():
        for engine in db.engines.values():
            engine.dispose(close=False)


os.register_at_fork(after_in_child=_after_fork_in_child)


def app_job(func):
    """Run ``func`` inside the app context. Exceptions propagate so RQ and the janitor see them."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        app = get_app()
        with app.app_context():
            from webapp.extensions import db

            try:
                return func(*args, **kwargs)
            finally:
                db.session.remove()

    return wrapper
