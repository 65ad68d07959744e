from flask_wtf import FlaskForm
from wtforms import HiddenField

from webapp.forms import NairaField


class PayBillForm(FlaskForm):
    """Pay all or part of a bill; ``submit_key`` makes a double-clicked form pay once."""

    amount = NairaField("Amount to pay (₦)", render_kw={"inputmode": "decimal"})
    submit_key = HiddenField()
