"""Forms of the notification pages."""
from flask_wtf import FlaskForm
from wtforms import TelField, TimeField
from wtforms.validators import Length, Optional


class SmsSettingsForm(FlaskForm):
    """The phone number SMS go to and the quiet hours they wait through (the service checks both)."""

    phone = TelField("Mobile number", validators=[Optional(), Length(max=30)],
                     description="A Nigerian number, like 0803 123 4567. Leave it empty for no SMS at all.")
    quiet_start = TimeField("Quiet hours from", validators=[Optional()])
    quiet_end = TimeField("until", validators=[Optional()])
