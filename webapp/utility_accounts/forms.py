"""Forms for linking and managing utility accounts.

The select fields do not check their choices: which catalogue entries a resident may pick is a
business rule (active, in their estate), so the service decides and says why in words.
"""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import Length, Optional

from webapp.request_numbers import parse_id
from webapp.services.utility_accounts import NICKNAME_MAX


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class LinkAccountForm(FlaskForm):
    utility_type = SelectField("Utility", choices=[], validate_choice=False)
    provider_id = SelectField("Provider", choices=[], validate_choice=False)
    customer_number = StringField("Meter or card number", filters=[_strip])
    nickname = StringField("Nickname (optional)", filters=[_strip],
                           validators=[Optional(), Length(max=NICKNAME_MAX)])

    @property
    def provider_id_int(self) -> int | None:
        return parse_id(self.provider_id.data)


class RenameForm(FlaskForm):
    nickname = StringField("Nickname", filters=[_strip], validators=[Length(max=NICKNAME_MAX)])


class RemoveForm(FlaskForm):
    """Only the CSRF token: removing is a POST that the resident confirmed."""
