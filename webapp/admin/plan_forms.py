"""Bill plans: one form to create or edit a plan, to every resident or to chosen ones.

The boxes are read leniently (``webapp.forms.TypedField``): a refused form comes back as typed and
the service's rules (``estate_bills.plans``) have the last word.
"""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import RadioField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length
from wtforms.widgets import DateInput

from webapp.admin.bill_forms import CheckboxList
from webapp.automations.fields import IsoDateField, WholeNumberField
from webapp.forms import NairaField, TypedField
from webapp.models.bill import CLUSTER_BILL_TYPES
from webapp.request_numbers import coerce_id
from webapp.services.estate_bills import FREQUENCY_LABELS, PlanDetails
from webapp.services.estate_bills.bills import TYPE_LABELS
from webapp.services.estate_bills.plans import MAX_DAYS, MAX_REMINDERS

DAYS_MESSAGE = f"Choose from 0 to {MAX_DAYS} days."
REMINDERS_MESSAGE = f"List up to {MAX_REMINDERS} days from 1 to {MAX_DAYS}, separated by commas, like 3,7,14."


class PlanDateField(IsoDateField):
    widget = DateInput()


class DaysListField(TypedField):
    """Days after the due date, like "3, 7, 14": a sorted tuple without repeats (empty: none)."""

    def read(self, text):
        parts = [part.strip() for part in text.split(",") if part.strip()]
        if any(not part.isascii() or not part.isdigit() or len(part) > 3 for part in parts):
            return None, REMINDERS_MESSAGE
        days = tuple(sorted({int(part) for part in parts}))
        if len(days) > MAX_REMINDERS or any(not 1 <= d <= MAX_DAYS for d in days):
            return None, REMINDERS_MESSAGE
        return days, None

    def show(self, value) -> str:
        return ",".join(str(day) for day in value)


class BillPlanForm(FlaskForm):
    title = StringField("Title", validators=[InputRequired("Give the plan a title."), Length(max=120)],
                        render_kw={"placeholder": "e.g. Monthly security levy"})
    bill_type = SelectField("Type", choices=[SelectChoice(t.value, TYPE_LABELS[t.value]) for t in CLUSTER_BILL_TYPES])
    amount = NairaField("Amount per resident (₦)", render_kw={"inputmode": "decimal"})
    frequency = SelectField("How often", choices=[SelectChoice(k, v) for k, v in FREQUENCY_LABELS.items()])
    day_of_month = WholeNumberField("Issued on day of the month", low=1, high=31,
                                    message="Choose a day of the month from 1 to 31.",
                                    render_kw={"inputmode": "numeric"})
    starts_on = PlanDateField("Starts on")
    ends_on = PlanDateField("Ends on (optional)")
    due_after_days = WholeNumberField("Due after (days)", low=0, high=MAX_DAYS, message=DAYS_MESSAGE,
                                      default=14, render_kw={"inputmode": "numeric"})
    grace_days = WholeNumberField("Grace period (days)", low=0, high=MAX_DAYS, message=DAYS_MESSAGE, default=0,
                                  render_kw={"inputmode": "numeric"})
    reminder_days_after = DaysListField("Reminders after the due date (days)", default=(3, 7, 14),
                                        render_kw={"placeholder": "e.g. 3,7,14"})
    recipients = RadioField("Bill", choices=[SelectChoice("all", "Every resident of the estate"),
                                             SelectChoice("chosen", "Only the residents ticked below")], default="all")
    residents = CheckboxList("Residents", coerce=coerce_id, validate_choice=False)

    def details(self) -> PlanDetails:
        chosen = None if self.recipients.data == "all" else list(self.residents.data or [])
        return PlanDetails(
            title=self.title.data or "", bill_type=self.bill_type.data, amount_kobo=self.amount.data,
            frequency=self.frequency.data, day_of_month=self.day_of_month.data, starts_on=self.starts_on.data,
            ends_on=self.ends_on.data, user_ids=chosen,
            due_after_days=self.due_after_days.data, grace_days=self.grace_days.data,
            reminder_days_after=self.reminder_days_after.data or ())

    def fill_from(self, plan) -> None:
        """Show a plan's values (a GET of the edit page)."""
        self.title.data, self.bill_type.data, self.frequency.data = plan.title, plan.bill_type, plan.frequency
        for name in ("amount", "day_of_month", "starts_on", "ends_on", "due_after_days", "grace_days"):
            getattr(self, name).data = getattr(plan, {"amount": "amount_kobo"}.get(name, name))
        self.reminder_days_after.data = tuple(plan.reminder_days)
        self.recipients.data = "all" if plan.all_residents else "chosen"
        self.residents.data = [user.id for user in plan.residents]


class PlanActionForm(FlaskForm):
    """Pause or resume: nothing but the CSRF token."""
