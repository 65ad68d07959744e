from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField
from wtforms.validators import InputRequired

from webapp.forms import NairaField
from webapp.request_numbers import MAX_AMOUNT_KOBO, CountField, IdField


class PayForm(FlaskForm):
    account = SelectField("Account", coerce=str, validators=[InputRequired(message="Choose one of your accounts.")])
    amount = NairaField("Amount (₦)")


class ConfirmForm(FlaskForm):
    """The confirm step carries what was reviewed plus a one-time key against double submits."""

    account = IdField()
    amount_kobo = CountField(low=1, high=MAX_AMOUNT_KOBO)
    submit_key = HiddenField()
