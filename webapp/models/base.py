"""Shared column types and mixins."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import DateTime, Text, TypeDecorator
from sqlalchemy.orm import Mapped, mapped_column

from webapp.infra.crypto import decrypt, encrypt


def one_of(column: str, values: Iterable) -> str:
    """The SQL of a check that ``column`` holds one of ``values`` (enum members or strings)."""
    return f"{column} IN ({', '.join(repr(str(getattr(v, 'value', v))) for v in values)})"


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC datetime on every backend.

    SQLite drops tzinfo; this type stores naive UTC there and hands back aware UTC values, so code
    compares and subtracts datetimes the same way on SQLite and PostgreSQL.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class EncryptedString(TypeDecorator):
    """A text column stored encrypted (Fernet token) and read back as plain text.

    Needs an app context (the keys live in app config). The stored value is randomised, so never
    filter or join on this column: keep a ``lookup_hash`` column beside it for that.
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return encrypt(str(value))

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return decrypt(value)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow, nullable=False
    )


def render_alembic_item(type_, obj, autogen_context):
    """Write project column types into migrations as the plain SQLAlchemy types they store as."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if type_ == "type" and isinstance(obj, EncryptedString):
        return "sa.Text()"
    return False
