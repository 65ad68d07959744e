"""Automations (recurring payments): schedules, the sweep, reminders, the upcoming view and the
monthly summary of what autopay did."""
from webapp.services.automations.common import automation_spend_this_month, schedule_of, settings_for
from webapp.services.automations.monthly_summary import send_monthly_summaries
from webapp.services.automations.reminders import send_reminders
from webapp.services.automations.sweep import SweepReport, run_sweep

__all__ = ["SweepReport", "automation_spend_this_month", "run_sweep", "schedule_of", "send_monthly_summaries",
           "send_reminders", "settings_for"]
