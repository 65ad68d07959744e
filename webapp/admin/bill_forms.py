"""Issuing estate bills: one form for chosen residents or the whole estate (bulk issue); choosing and
emailing a resident's statement."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, RadioField, SelectField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from webapp.forms import ChoiceFilter, FilterForm, NairaField
from webapp.models.bill import CLUSTER_BILL_TYPES
from webapp.request_numbers import IdField, coerce_id
from webapp.services.estate_bills.bills import TYPE_LABELS


class CheckboxList(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class IssueBillForm(FlaskForm):
    title = StringField("Title", validators=[InputRequired("Give the bill a title."), Length(max=120)],
                        render_kw={"placeholder": "e.g. Security levy, June"})
    bill_type = SelectField("Type", choices=[SelectChoice(t.value, TYPE_LABELS[t.value]) for t in CLUSTER_BILL_TYPES])
    amount = NairaField("Amount per resident (₦)", render_kw={"inputmode": "decimal"})
    due_date = DateField("Due date", validators=[InputRequired("Choose a due date.")])
    recipients = RadioField("Bill", choices=[SelectChoice("all", "Every resident of the estate"),
                                             SelectChoice("chosen", "Only the residents ticked below")], default="all")
    residents = CheckboxList("Residents", coerce=coerce_id, validate_choice=False)

    def chosen_ids(self) -> list[int] | None:
        """None for a bulk issue to all residents, else the ticked residents' ids."""
        return None if self.recipients.data == "all" else list(self.residents.data or [])


class StatementFilterForm(FilterForm):
    """Whose statement to show (none: the estate wallet's); the view sets the estate's residents."""

    resident = ChoiceFilter("Resident", coerce=coerce_id, message="Choose a resident from the list.")


class SendStatementForm(FlaskForm):
    """Email a resident their statement; ``send_key`` makes a resubmitted form send once."""

    resident = IdField()
    send_key = HiddenField(validators=[InputRequired(), Length(min=16, max=64)])
