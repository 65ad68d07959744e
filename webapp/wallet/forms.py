"""The funding form. The amount is typed in naira and leaves the form as integer kobo."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import RadioField, TelField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional

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


class BankAccountForm(FlaskForm):
    """Ask for a dedicated bank account number. Paystack needs a phone number for one, so the form
    asks for it when the resident's profile has none (the service checks and keeps it)."""

    phone = TelField("Phone number", validators=[Optional(), Length(max=30)],
                     render_kw={"inputmode": "tel", "autocomplete": "tel"})
