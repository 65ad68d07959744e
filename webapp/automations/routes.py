"""Automation pages. Views parse the request, call one automations service and render.

HTMX requests get a partial (a card after an action, the preview box or the schedule section of
the form) from the same templates the full pages include; without JavaScript every action is a
plain form POST followed by a redirect, and the preview is a submit button.
"""
from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from webapp.automations import bp
from webapp.presentation.templating import local_time
from webapp.queries import upcoming
from webapp.request_numbers import parse_id
from webapp.services import utility_accounts
from webapp.services.automations import crud, settings
from webapp.services.automations.common import schedule_of
from webapp.services.automations.inputs import BILL_NAMES, saved_cards
from webapp.services.automations.schedules import WEEKDAY_NAMES, describe

TIMEZONES = ("Africa/Lagos", "Africa/Accra", "Africa/Johannesburg", "Africa/Nairobi", "Europe/London",
             "Europe/Berlin", "America/New_York", "America/Chicago", "America/Los_Angeles", "Asia/Dubai", "UTC")
KIND_NAMES = {"monthly_day": "Monthly on a day of the month", "last_day": "On the last day of each month",
              "nth_weekday": "Monthly on a weekday (e.g. second Tuesday)", "weekly": "Weekly on chosen days",
              "interval": "Every few days, weeks or months"}
NTH_NAMES = {"1": "First", "2": "Second", "3": "Third", "4": "Fourth", "-1": "Last"}


def is_htmx() -> bool:
    return bool(request.headers.get("HX-Request")) and not request.headers.get("HX-History-Restore-Request")


@bp.context_processor
def helpers():
    return {"state_of": crud.state_of, "target_label": crud.target_label, "bill_names": BILL_NAMES,
            "describe_schedule": lambda a: describe(schedule_of(a))}


def _automation_or_404(automation_id: int):
    automation = crud.get_automation(current_user.id, automation_id)
    if automation is None:
        abort(404)
    return automation


def _posted_values() -> dict:
    values = request.form.to_dict()
    values["weekdays"] = request.form.getlist("weekdays")
    return values


def _preview_for(values) -> tuple[list, str | None]:
    try:
        return crud.preview(current_user, values), None
    except crud.AutomationError as exc:
        return [], " ".join(exc.errors.values())


# --- list, detail -----------------------------------------------------------------------------

@bp.route("/")
def index():
    return render_template("automations/index.html", automations=crud.list_automations(current_user.id))


@bp.route("/<int:automation_id>")
def detail(automation_id: int):
    automation = _automation_or_404(automation_id)
    runs = crud.next_runs(automation) if crud.state_of(automation) == crud.ON else []
    return render_template("automations/detail.html", a=automation, next_runs=runs,
                           occurrences=crud.recent_occurrences(current_user.id, automation.id))


# --- the form (new and edit) ------------------------------------------------------------------

def _schedule_context(values, errors=None, preview=None, problem=None) -> dict:
    """What the schedule section and its preview box need (full page and HTMX partials alike)."""
    zones = list(TIMEZONES)
    if values.get("timezone") and values["timezone"] not in zones:
        zones.insert(0, values["timezone"])
    return {
        "values": values, "errors": errors or {}, "preview": preview, "preview_problem": problem,
        "kind_options": list(KIND_NAMES.items()), "nth_options": list(NTH_NAMES.items()),
        "weekday_options": [(str(i), name) for i, name in enumerate(WEEKDAY_NAMES)],
        "timezone_options": [(z, z) for z in zones], "zone": current_user.effective_timezone,
    }


def _render_form(values, errors=None, automation=None, preview=None, problem=None, status=200):
    if preview is None and problem is None:
        preview, problem = _preview_for(values)
    context = _schedule_context(values, errors, preview, problem)
    cards = saved_cards(current_user.id)
    context.update(automation=automation, accounts=utility_accounts.list_accounts(current_user.id), cards=cards,
                   card_options=[(str(card.id), card.label) for card in cards])
    return render_template("automations/form.html", **context), status


@bp.route("/new", methods=["GET", "POST"])
def new():
    if request.method == "GET":
        return _render_form(crud.new_form_values(current_user, request.args.get("target")))
    values = _posted_values()
    try:
        automation = crud.create_automation(current_user, values)
    except crud.AutomationError as exc:
        return _render_form(values, exc.errors, status=422)
    flash("Automation saved. It is off until you turn it on.", "success")
    return redirect(url_for(".detail", automation_id=automation.id))


@bp.route("/<int:automation_id>/edit", methods=["GET", "POST"])
def edit(automation_id: int):
    automation = _automation_or_404(automation_id)
    if request.method == "GET":
        return _render_form(crud.form_values(automation), automation=automation)
    values = _posted_values()
    try:
        crud.update_automation(current_user, automation.id, values)
    except crud.AutomationError as exc:
        return _render_form(values, exc.errors, automation=automation, status=422)
    flash("Changes saved.", "success")
    return redirect(url_for(".detail", automation_id=automation.id))


@bp.route("/preview", methods=["POST"])
def preview():
    """The next 5 run dates for the schedule on the form (HTMX swaps the box in; without JS the
    whole form comes back with the dates). Saves nothing."""
    values = _posted_values()
    automation_id = parse_id(values.get("automation_id"))
    automation = _automation_or_404(automation_id) if automation_id is not None else None
    dates, problem = _preview_for(values)
    if is_htmx():
        part = "_schedule" if request.args.get("part") == "schedule" else "_preview"
        return render_template(f"automations/{part}.html", **_schedule_context(values, None, dates, problem))
    return _render_form(values, automation=automation, preview=dates, problem=problem)


# --- actions ----------------------------------------------------------------------------------

def _after_action(automation, message: str | None = None, error: str | None = None):
    if is_htmx():
        return render_template("automations/_card.html", a=automation, message=message, error=error)
    if message:
        flash(message, "success")
    if error:
        flash(error, "error")
    if request.form.get("back") == "detail":
        return redirect(url_for(".detail", automation_id=automation.id))
    return redirect(url_for(".index"))


def _act(automation_id: int, action, success: str):
    automation = _automation_or_404(automation_id)
    try:
        action(current_user, automation.id)
    except crud.AutomationError as exc:
        return _after_action(automation, error=" ".join(exc.errors.values()))
    return _after_action(automation, message=success.format(when=local_time(automation.next_run_at)))


@bp.route("/<int:automation_id>/enable", methods=["POST"])
def enable(automation_id: int):
    return _act(automation_id, crud.enable, "Turned on. The first payment is on {when}.")


@bp.route("/<int:automation_id>/disable", methods=["POST"])
def disable(automation_id: int):
    return _act(automation_id, crud.disable, "Turned off. Nothing will be paid until you turn it on again.")


@bp.route("/<int:automation_id>/pause", methods=["POST"])
def pause(automation_id: int):
    return _act(automation_id, crud.pause, "Paused. Resume it whenever you are ready.")


@bp.route("/<int:automation_id>/resume", methods=["POST"])
def resume(automation_id: int):
    return _act(automation_id, crud.resume, "Resumed. The next payment is on {when}; runs during the pause are "
                                            "not paid.")


@bp.route("/<int:automation_id>/skip-next", methods=["POST"])
def skip_next(automation_id: int):
    return _act(automation_id, crud.skip_next, "The payment on {when} will be skipped.")


@bp.route("/<int:automation_id>/unskip", methods=["POST"])
def unskip(automation_id: int):
    return _act(automation_id, lambda user, a_id: crud.skip_next(user, a_id, skip=False),
                "The payment on {when} will be made as planned.")


@bp.route("/<int:automation_id>/delete", methods=["GET", "POST"])
def delete(automation_id: int):
    """GET asks for confirmation; POST deletes (softly: its payment history stays)."""
    automation = _automation_or_404(automation_id)
    if request.method == "POST":
        crud.delete(current_user, automation.id)
        flash(f"Deleted the automation for {crud.target_label(automation)}. Its payments stay in your history.",
              "success")
        return redirect(url_for(".index"))
    return render_template("automations/delete.html", a=automation)


# --- settings and upcoming --------------------------------------------------------------------

@bp.route("/settings", methods=["GET", "POST"])
def settings_page():
    if request.method == "GET":
        values = settings.form_values(settings.get_settings(current_user.id))
        return render_template("automations/settings.html", values=values, errors={}, fields=settings)
    values = request.form.to_dict()
    try:
        settings.save_settings(current_user, values)
    except settings.SettingsError as exc:
        return render_template("automations/settings.html", values=values, errors=exc.errors, fields=settings), 422
    flash("Settings saved.", "success")
    return redirect(url_for(".settings_page"))


@bp.route("/upcoming")
def upcoming_page():
    view = upcoming.upcoming(current_user)
    return render_template("automations/upcoming.html", view=view, zone=ZoneInfo(view.timezone))
