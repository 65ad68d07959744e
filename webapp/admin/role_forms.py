"""Setting an estate admin's role."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf

from webapp.models import ADMIN_ROLE_LABELS

CHOOSE_ROLE = "Choose manager, finance or viewer."


class AdminRoleForm(FlaskForm):
    # validate_choice off: AnyOf gives the message that names the roles, instead of "Not a valid choice".
    admin_role = SelectField(
        "Role", choices=[SelectChoice(role.value, label) for role, label in ADMIN_ROLE_LABELS.items()],
        validate_choice=False, validators=[AnyOf([role.value for role in ADMIN_ROLE_LABELS], message=CHOOSE_ROLE)])
