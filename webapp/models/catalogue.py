"""The utility provider catalogue: what residents of an estate can buy, and through which adapter.

One row ("catalogue entry") per purchasable item of a bills provider, per estate: e.g. Ikeja
Electric prepaid through VTpass, or DStv Compact through Flutterwave. Each estate has its own copy
so its admin can switch entries on and off without touching other estates.

Who owns which columns: a catalogue sync owns everything the provider describes (name, amounts,
labels, ...) and ``retired_at``; the estate admin owns ``is_active``. A sync never re-enables an
entry an admin switched off, it only revives entries it retired itself.

``origin`` says where an entry came from: a sync of the provider's listing ("catalogue") or an admin
typing it in ("admin"). A sync changes and retires only entries of its provider's catalogue; an
entry added by hand stays as the admin left it until the admin edits or switches it off.

An admin may also edit an entry from the catalogue. What residents read (``ADMIN_KEEPS``: its name,
biller name and number label) then stays as the admin set it (``admin_set_fields``); the provider's
facts (type, meter type, amounts, fee, validation) still follow the provider, which refuses payments
that break them.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db
from webapp.models.base import TimestampMixin, UTCDateTime, one_of
from webapp.providers.http import DISPLAY_NAMES

UTILITY_TYPES = ("electricity", "water", "internet", "cable_tv")
API_PROVIDERS = ("flutterwave", "vtpass")
# How people see each key: on pages (the ``utility_label`` filter), in forms, emails and CSV files.
UTILITY_LABELS = {"electricity": "Electricity", "water": "Water", "internet": "Internet", "cable_tv": "Cable TV"}
API_PROVIDER_LABELS = {p: DISPLAY_NAMES[p] for p in API_PROVIDERS}
METER_TYPES = ("prepaid", "postpaid")
ORIGIN_CATALOGUE, ORIGIN_ADMIN = "catalogue", "admin"
ORIGINS = (ORIGIN_CATALOGUE, ORIGIN_ADMIN)
# Display fields an admin's edit of a catalogue entry takes over from the sync.
ADMIN_KEEPS = ("name", "biller_name", "label_name")

# What the customer number is called when the provider does not say.
DEFAULT_LABELS = {
    "electricity": "Meter Number",
    "water": "Customer Number",
    "internet": "Account Number",
    "cable_tv": "Smart Card Number",
}


def utility_label(utility_type: str | None) -> str:
    """"Cable TV" for ``cable_tv``; a type without a label reads as its key in words."""
    return UTILITY_LABELS.get(utility_type or "", (utility_type or "").replace("_", " ").capitalize())


def api_provider_label(api_provider: str | None) -> str:
    """How a bills provider spells its own name ("VTpass")."""
    return API_PROVIDER_LABELS.get(api_provider or "", (api_provider or "").capitalize())



class UtilityProvider(TimestampMixin, db.Model):
    """A catalogue entry: one purchasable item of a bills provider, offered in one estate."""

    __tablename__ = "utility_providers"
    __table_args__ = (
        UniqueConstraint("estate_id", "api_provider", "provider_code", "item_code",
                         name="uq_utility_providers_entry"),
        CheckConstraint(one_of("provider_type", UTILITY_TYPES), name="provider_type_known"),
        CheckConstraint(one_of("api_provider", API_PROVIDERS), name="api_provider_known"),
        CheckConstraint(f"meter_type IS NULL OR {one_of('meter_type', METER_TYPES)}", name="meter_type_known"),
        CheckConstraint(one_of("origin", ORIGINS), name="origin_known"),
        CheckConstraint(
            "fixed_amount_kobo >= 0 AND min_amount_kobo >= 0 AND fee_kobo >= 0 "
            "AND (max_amount_kobo IS NULL OR max_amount_kobo >= 0)",
            name="amounts_non_negative",
        ),
        CheckConstraint("max_amount_kobo IS NULL OR min_amount_kobo <= max_amount_kobo", name="min_not_above_max"),
        # Retired means the provider stopped listing it; such an entry cannot be on offer.
        CheckConstraint("retired_at IS NULL OR NOT is_active", name="retired_is_inactive"),
        # "What can a resident of estate E buy (of type T)?" is the hot query.
        Index("ix_utility_providers_estate_active_type", "estate_id", "is_active", "provider_type"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    estate_id: Mapped[int] = mapped_column(ForeignKey("estates.id"), nullable=False)
    name: Mapped[str] = mapped_column(String(160), nullable=False)
    provider_type: Mapped[str] = mapped_column(String(20), nullable=False)
    api_provider: Mapped[str] = mapped_column(String(20), nullable=False)
    # Flutterwave biller_code / VTpass serviceID.
    provider_code: Mapped[str] = mapped_column(String(64), nullable=False)
    # Flutterwave item_code / VTpass variation_code, or "prepaid"/"postpaid" for VTpass electricity.
    item_code: Mapped[str] = mapped_column(String(64), nullable=False)
    biller_name: Mapped[str] = mapped_column(String(160), nullable=False, default="")
    meter_type: Mapped[str | None] = mapped_column(String(10))
    label_name: Mapped[str | None] = mapped_column(String(60))
    fixed_amount_kobo: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)  # 0 = customer chooses
    min_amount_kobo: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    max_amount_kobo: Mapped[int | None] = mapped_column(BigInteger)  # None = no upper bound
    fee_kobo: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    supports_validation: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    # "catalogue" (a sync added it) or "admin" (typed in by an estate admin). No default on purpose:
    # an entry that forgot to say would be retired by the next sync, or never retired at all.
    origin: Mapped[str] = mapped_column(String(10), nullable=False)
    # Of ``ADMIN_KEEPS``, those an admin edited on a catalogue entry: a sync no longer changes them.
    admin_set_fields: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    # When a catalogue sync last wrote this entry (added, changed or revived it).
    last_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    estate = db.relationship("Estate")

    @property
    def customer_label(self) -> str:
        """What to call the number a resident types: the provider's label, else one by utility type."""
        return self.label_name or DEFAULT_LABELS.get(self.provider_type, "Customer Number")

    @property
    def is_fixed_amount(self) -> bool:
        return self.fixed_amount_kobo > 0

    @property
    def takes_kobo(self) -> bool:
        """Whether the provider accepts amounts with kobo: Flutterwave's bill payment amount is an
        integer of naira (its OpenAPI), VTpass takes a number of naira."""
        return self.api_provider != "flutterwave"

    @property
    def is_retired(self) -> bool:
        return self.retired_at is not None

    @property
    def is_from_catalogue(self) -> bool:
        return self.origin == ORIGIN_CATALOGUE

    @property
    def origin_label(self) -> str:
        """Where the entry came from, in an admin's words: "From VTpass catalogue" or "Added by hand"."""
        return f"From {api_provider_label(self.api_provider)} catalogue" if self.is_from_catalogue else "Added by hand"

    def __repr__(self) -> str:
        return f"<UtilityProvider {self.id} {self.api_provider}:{self.provider_code}/{self.item_code}>"
