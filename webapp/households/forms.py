"""Household forms: invite, change a member, remove, and the header's switcher."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length

from webapp.forms import NairaField
from webapp.models.household import ROLE_LABELS

ROLE_CHOICES = [SelectChoice(role.value, label) for role, label in ROLE_LABELS.items()]
LIMIT_HINT = "Payers only: the most they may spend from your wallet each calendar month, like 20000."


class RoleFields:
    role = SelectField("Role", choices=ROLE_CHOICES, default="viewer",
                       validate_choice=True)
    monthly_limit = NairaField("Monthly limit (₦)", optional=True, render_kw={"inputmode": "decimal"})


class InviteForm(RoleFields, FlaskForm):
    email = StringField("Email address", validators=[InputRequired(message="Enter their email address."),
                                                     Length(max=254)])


class MemberForm(RoleFields, FlaskForm):
    pass


class RemoveForm(FlaskForm):
    pass


class AcceptForm(FlaskForm):
    pass


class SwitchForm(FlaskForm):
    """"" is acting as oneself; otherwise the membership id of a household."""

    household = SelectField("Acting as", choices=[], validate_choice=True)
