"""Catalogue entry form: amounts are typed in naira and leave the form as integer kobo."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from webapp.forms import NairaField
from webapp.models.catalogue import API_PROVIDER_LABELS, API_PROVIDERS, METER_TYPES, UTILITY_LABELS, UTILITY_TYPES
from webapp.money import naira_input


def _optional_naira(label: str) -> NairaField:
    """An amount that may be left empty (``data`` None): no fixed price, minimum, maximum or fee."""
    return NairaField(label, optional=True, render_kw={"inputmode": "decimal"})


class EntryForm(FlaskForm):
    name = StringField("Name residents see", validators=[DataRequired("Enter a name."), Length(max=160)])
    provider_type = SelectField("Utility type", choices=[SelectChoice(t, UTILITY_LABELS[t]) for t in UTILITY_TYPES])
    api_provider = SelectField("Bills provider",
                               choices=[SelectChoice(p, API_PROVIDER_LABELS[p]) for p in API_PROVIDERS])
    provider_code = StringField("Provider code", validators=[DataRequired("Enter the provider code."),
                                                             Length(max=64)])
    item_code = StringField("Item code", validators=[DataRequired("Enter the item code."), Length(max=64)])
    biller_name = StringField("Biller name", validators=[Length(max=160)])
    meter_type = SelectField("Meter type", choices=[SelectChoice("", "Not a meter")]
                             + [SelectChoice(m, m.capitalize()) for m in METER_TYPES])
    label_name = StringField("What the customer number is called", validators=[Length(max=60)])
    fixed_amount = _optional_naira("Fixed price (₦)")
    min_amount = _optional_naira("Minimum (₦)")
    max_amount = _optional_naira("Maximum (₦)")
    fee = _optional_naira("Fee (₦)")
    supports_validation = BooleanField("The provider can check customer numbers", default=True)
    active = BooleanField("Offer it to residents now", default=True)

    def values(self) -> dict:
        """The form as catalogue column values (for ``catalogue_admin``)."""
        return {
            "name": self.name.data, "provider_type": self.provider_type.data, "api_provider": self.api_provider.data,
            "provider_code": self.provider_code.data, "item_code": self.item_code.data,
            "biller_name": self.biller_name.data, "meter_type": self.meter_type.data,
            "label_name": self.label_name.data,
            "fixed_amount_kobo": self.fixed_amount.data, "min_amount_kobo": self.min_amount.data,
            "max_amount_kobo": self.max_amount.data, "fee_kobo": self.fee.data,
            "supports_validation": self.supports_validation.data,
        }

    def fill_from(self, entry) -> None:
        for name in ("name", "provider_type", "api_provider", "provider_code", "item_code", "biller_name",
                     "label_name", "supports_validation"):
            getattr(self, name).data = getattr(entry, name)
        self.meter_type.data = entry.meter_type or ""
        for field, column in ((self.fixed_amount, "fixed_amount_kobo"), (self.min_amount, "min_amount_kobo"),
                              (self.max_amount, "max_amount_kobo"), (self.fee, "fee_kobo")):
            field.raw_text = naira_input(getattr(entry, column) or None)  # 0 here means "not set"
            field.data = getattr(entry, column)


class ReasonForm(FlaskForm):
    """Switching an entry off (or cancelling a bill) takes an optional reason for the audit log."""

    reason = StringField("Reason (optional)", validators=[Length(max=255)])
