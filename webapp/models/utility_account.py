"""A resident's linked utility account (meter, smart card, customer number)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.infra.crypto import mask
from webapp.models.base import EncryptedString, TimestampMixin, UTCDateTime


class UtilityAccount(TimestampMixin, db.Model):
    __tablename__ = "utility_accounts"
    __table_args__ = (
        # The same number twice is refused per resident, among accounts not removed.
        Index(
            "uq_utility_accounts_user_number_live",
            "user_id",
            "number_hash",
            unique=True,
            sqlite_where=text("removed_at IS NULL"),
            postgresql_where=text("removed_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True, nullable=False)
    provider_id: Mapped[int] = mapped_column(ForeignKey("utility_providers.id"), index=True, nullable=False)
    nickname: Mapped[str] = mapped_column(String(60), nullable=False)
    # Encrypted at rest; ``number_hash`` (keyed HMAC) is what lookups and uniqueness use.
    customer_number: Mapped[str] = mapped_column(EncryptedString(), nullable=False)
    number_hash: Mapped[str] = mapped_column(String(64), index=True, nullable=False)
    number_last4: Mapped[str] = mapped_column(String(4), nullable=False)
    customer_name: Mapped[str | None] = mapped_column(String(160))
    customer_address: Mapped[str | None] = mapped_column(String(255))
    meter_type: Mapped[str | None] = mapped_column(String(20))
    validated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    provider = relationship("UtilityProvider", lazy="joined")
    user = relationship("User")

    @property
    def masked_number(self) -> str:
        return mask("0000" + self.number_last4)

    @property
    def utility_type(self) -> str:
        return self.provider.provider_type

    @property
    def is_removed(self) -> bool:
        return self.removed_at is not None
