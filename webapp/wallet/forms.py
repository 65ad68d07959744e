"""The funding form. The amount is typed in naira and leaves the form as integer kobo."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import RadioField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired

from webapp.forms import NairaField


class FundForm(FlaskForm):
    amount = NairaField("Amount (₦)", render_kw={"inputmode": "decimal"})
    gateway = RadioField(
        "Pay with",
        choices=[SelectChoice("paystack", "Paystack (card, bank, USSD)"),
                 SelectChoice("flutterwave", "Flutterwave (card, bank, USSD)")],
        default="paystack",
        validators=[InputRequired(message="Choose how you want to pay.")],
    )
