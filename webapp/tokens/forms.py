"""The token vault's meter filter (query string: meter, page) and its "mark used" form."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired

from webapp.forms import ChoiceFilter, FilterForm
from webapp.queries.token_vault import VaultFilters
from webapp.request_numbers import coerce_id

USED_CHOICES = [SelectChoice("yes", "Used"), SelectChoice("no", "Not used")]
BAD_USED = "Say whether the token was used: choose “Used” or “Not used”. Nothing was changed."


class VaultFilterForm(FilterForm):
    """``meter.choices`` are the resident's own electricity accounts (removed ones included), set by
    the view: any other id gets the same message whether or not it exists, so nothing leaks."""

    meter = ChoiceFilter("Meter", coerce=coerce_id,
                         message="Choose one of your own meters. The meter filter was ignored.")

    def filters(self) -> VaultFilters:
        return VaultFilters(meter_id=self.meter.data)


class MarkUsedForm(FlaskForm):
    """Mark one token used or not used. ``meter`` and ``page`` say where the list was, to go back
    there without JavaScript; they are read like the list's own query string."""

    used = SelectField("Used", choices=USED_CHOICES, validators=[InputRequired(BAD_USED)],
                       validate_choice=True)
    meter = HiddenField()
    page = HiddenField()

    @property
    def problem(self) -> str | None:
        """What was wrong with the form, in the resident's words (None when it is fine)."""
        if self.errors.get("csrf_token"):
            return "Your form expired or was sent from elsewhere. Reload the page and try again."
        return BAD_USED if self.errors else None
