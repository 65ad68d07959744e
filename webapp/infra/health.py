"""Liveness of the parts the app needs: the database and Redis."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from flask import current_app
from sqlalchemy import text

from webapp.extensions import db
from webapp.infra import redis_client


@dataclass
class HealthReport:
    checks: dict[str, dict] = field(default_factory=dict)
    info: dict[str, object] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(c["ok"] for c in self.checks.values())

    def as_dict(self) -> dict:
        return {"status": "ok" if self.ok else "degraded", "checks": self.checks, **self.info}


def check() -> HealthReport:
    report = HealthReport()
    try:
        db.session.execute(text("SELECT 1"))
        report.checks["database"] = {"ok": True}
    except Exception as exc:  # any driver error means "down"; the message says which
        db.session.rollback()
        report.checks["database"] = {"ok": False, "error": type(exc).__name__}
    if not current_app.config.get("REDIS_URL"):
        report.checks["redis"] = {"ok": False, "error": "REDIS_URL is not set"}
        return report
    try:
        conn = redis_client.redis_connection()
        conn.ping()
        report.checks["redis"] = {"ok": True}
    except Exception as exc:  # connection refused, timeout, auth: all mean "down"
        report.checks["redis"] = {"ok": False, "error": type(exc).__name__}
        return report
    last = conn.get(CRON_HEARTBEAT_KEY)
    # Informational only: the web tier is healthy without a scheduler (tests run without one).
    report.info["cron_last_seen"] = last.decode() if last else None
    return report


CRON_HEARTBEAT_KEY = "autopay:cron:last-seen"


def record_cron_heartbeat() -> str:
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    redis_client.redis_connection().set(CRON_HEARTBEAT_KEY, stamp, ex=3600)
    return stamp
