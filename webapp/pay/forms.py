from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField
from wtforms.validators import InputRequired

from ..money import NairaField


class PayForm(FlaskForm):
    account = SelectField("Account", coerce=str, validators=[InputRequired(message="Choose one of your accounts.")])
    amount = NairaField("Amount (₦)")


class ConfirmForm(FlaskForm):
    """The confirm step carries what was reviewed plus a one-time key against double submits."""

    account = HiddenField()
    amount_kobo = HiddenField()
    submit_key = HiddenField()
