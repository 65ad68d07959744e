"""Forms of the payouts pages: a payout account to add, a payout to ask for, a reason to reject."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import RadioField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length

from webapp.forms import NairaField
from webapp.providers.http import DISPLAY_NAMES
from webapp.request_numbers import coerce_id


class PayoutAccountForm(FlaskForm):
    """The view sets ``gateway.choices`` (the gateways configured here) and ``bank_code.choices``."""

    gateway = SelectField("Send through", validate_choice=True)
    bank_code = SelectField("Bank", validators=[InputRequired("Choose the bank.")],
                            validate_choice=False)  # checked against the gateway's own list by the service
    account_number = StringField("Account number", validators=[InputRequired("Enter the 10-digit account number."),
                                                               Length(max=20, message="Enter the 10-digit account "
                                                                                      "number.")],
                                 render_kw={"inputmode": "numeric", "autocomplete": "off", "placeholder": "0123456789"})

    def set_gateways(self, gateways: list[str]) -> None:
        self.gateway.choices = [SelectChoice(g, DISPLAY_NAMES[g]) for g in gateways]


class PayoutRequestForm(FlaskForm):
    """The view sets ``account.choices`` to the estate's payout accounts."""

    account = SelectField("To", coerce=coerce_id, validate_choice=True)
    amount = NairaField("Amount (₦)", render_kw={"inputmode": "decimal", "autocomplete": "off"})
    narration = StringField("What it is for", validators=[
        InputRequired("Say what the payout is for; the bank statement shows it."),
        Length(max=100, message="Keep the description to 100 characters.")],
        render_kw={"placeholder": "e.g. Security company, June invoice"})


class PayoutDecisionForm(FlaskForm):
    reason = StringField("Reason", validators=[Length(max=255, message="Keep the reason under 255 characters.")])


class PayoutSettleForm(FlaskForm):
    """Settling by hand a transfer the gateway has not answered for a day, from its dashboard."""

    outcome = RadioField("The gateway's dashboard shows", choices=[
        SelectChoice("paid", "It was paid to the account"),
        SelectChoice("not_sent", "There is no such transfer: return the money to the estate wallet")],
        validators=[InputRequired("Choose what the gateway's dashboard shows.")])
    note = StringField("What you checked", validators=[
        InputRequired("Say what you checked (for example the dashboard's transfer reference)."),
        Length(max=200, message="Keep the note to 200 characters.")])
