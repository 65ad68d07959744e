"""Automation pages. Views parse the request, call one automations service and render.

HTMX requests get a partial (a card after an action, the preview box or the schedule section of
the form) from the same templates the full pages include; without JavaScript every action is a
plain form POST followed by a redirect, and the preview is a submit button.
"""
from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import abort, flash, redirect, render_template, request, url_for

from webapp.automations import bp
from webapp.automations.forms import ActivityFilterForm, AutomationForm, SettingsForm
from webapp.households import acting
from webapp.models.base import utcnow
from webapp.presentation import partials
from webapp.presentation.partials import is_partial
from webapp.presentation.templating import local_time
from webapp.queries import autopay_activity, upcoming
from webapp.request_numbers import parse_id, parse_page
from webapp.services import access, meter_usage, utility_accounts
from webapp.services.automations import crud, settings, top_ups
from webapp.services.automations.common import schedule_of
from webapp.services.automations.inputs import BILL_NAMES, problems, saved_cards
from webapp.services.automations.schedules import RUN_OUT, describe, lead_words

MEMBERS_PAY_FROM_WALLET = "Household members pay from the household's wallet: choose the wallet."


@bp.context_processor
def helpers():
    return {"state_of": crud.state_of, "target_label": crud.target_label,
            "describe_schedule": lambda a: describe(schedule_of(a)), "lead_words": lead_words}


def _automation_or_404(automation_id: int):
    automation = access.own_automation(acting.scope(), automation_id)
    if automation is None:
        abort(404)
    return automation


def _automation_form(form: AutomationForm | None = None) -> AutomationForm:
    """``form`` (else the posted one) for the resident: empty boxes mean their time zone."""
    if form is None:
        form = AutomationForm()
    form.resident_zone = acting.owner().effective_timezone
    return form


def _with_choices(form: AutomationForm) -> AutomationForm:
    """The resident's accounts and the estate bills to pay, and their saved cards."""
    targets = {}
    accounts = utility_accounts.list_accounts(acting.scope().owner_id)
    if accounts:
        targets["Your accounts"] = [(f"account:{a.id}", f"{a.nickname} · {a.provider.name} ({a.masked_number})")
                                    for a in accounts]
    member = acting.scope().is_member  # a household's members pay its accounts, never with its cards
    if not member:
        targets["Estate bills"] = [(f"bill:{bill_type}", name) for bill_type, name in BILL_NAMES.items()]
    form.target.choices = targets
    form.plan_targets = frozenset(f"account:{a.id}" for a in accounts if a.provider.is_fixed_amount)
    cards = [] if member else saved_cards(acting.scope().owner_id)
    form.saved_card_id.choices = [(str(card.id), card.label) for card in cards]
    return form


def _preview_of(form: AutomationForm) -> tuple[list, str | None]:
    schedule, problem = form.preview_schedule()
    return (crud.preview(schedule) if schedule is not None else []), problem


def _saved(form: AutomationForm, save):
    """``save(form.automation_input())`` once the form is valid; None (the problems on the form)
    when the form or the service refuses it. A refused form still gets the service's problems
    with what did parse, so the page shows them all at once."""
    if acting.scope().is_member and form.payment_source.data == "card":
        form.add_errors({"payment_source": MEMBERS_PAY_FROM_WALLET})
        return None
    if not form.validate():
        form.add_errors(problems(acting.owner(), form.automation_input()))
        return None
    try:
        return save(form.automation_input())
    except crud.AutomationError as exc:
        form.add_errors(exc.errors)
        return None


# --- list, detail -----------------------------------------------------------------------------

@bp.route("/")
def index():
    return render_template("automations/index.html", automations=crud.list_automations(acting.scope()))


@bp.route("/<int:automation_id>")
def detail(automation_id: int):
    automation = _automation_or_404(automation_id)
    runs = crud.next_runs(automation) if crud.state_of(automation) == crud.ON else []
    now = utcnow()
    forecast = top_ups.forecast_for(automation, now) if automation.schedule_kind == RUN_OUT else None
    return render_template("automations/detail.html", a=automation, next_runs=runs, forecast=forecast, now=now,
                           occurrences=crud.recent_occurrences(acting.scope().owner_id, automation.id))


# --- the form (new and edit) ------------------------------------------------------------------

def _schedule_context(form: AutomationForm, preview: list, problem: str | None) -> dict:
    """What the schedule section and its preview box need (full page and HTMX partials alike)."""
    return {"form": form, "preview": preview, "preview_problem": problem, "zone": acting.owner().effective_timezone,
            "run_out": _meter_run_out(form)}


def _meter_run_out(form: AutomationForm):
    """For "before my meter runs out": the chosen meter's predicted run-out (None without one)."""
    if form.schedule_kind.data != RUN_OUT:
        return None
    kind, _, value = (form.target.data or "").partition(":")
    account_id = parse_id(value) if kind == "account" else None
    if account_id is None:
        return None
    return meter_usage.predictions_for(acting.scope().owner_id, utcnow()).get(account_id)


def _render_form(form: AutomationForm, automation=None, preview: tuple[list, str | None] | None = None,
                 status: int = 200):
    dates, problem = preview if preview is not None else _preview_of(form)
    return render_template("automations/form.html", automation=automation,
                           **_schedule_context(_with_choices(form), dates, problem)), status


@bp.route("/new", methods=["GET", "POST"])
def new():
    if request.method == "GET":
        form = AutomationForm.for_new(acting.owner().effective_timezone, request.args.get("target"))
        return _render_form(_automation_form(form))
    form = _with_choices(_automation_form())
    automation = _saved(form, lambda draft: crud.create_automation(acting.owner(), draft, made_by=acting.actor()))
    if automation is None:
        return _render_form(form, status=422)
    flash("Automation saved. It is off until you turn it on.", "success")
    return redirect(url_for(".detail", automation_id=automation.id))


@bp.route("/<int:automation_id>/edit", methods=["GET", "POST"])
def edit(automation_id: int):
    automation = _automation_or_404(automation_id)
    if request.method == "GET":
        return _render_form(_automation_form(AutomationForm.for_edit(automation)), automation=automation)
    form = _with_choices(_automation_form())
    if _saved(form, lambda draft: crud.update_automation(acting.owner(), automation.id, draft,
                                                                       made_by=acting.actor())) is None:
        return _render_form(form, automation=automation, status=422)
    flash("Changes saved.", "success")
    return redirect(url_for(".detail", automation_id=automation.id))


@bp.route("/preview", methods=["POST"])
def preview():
    """The next 5 run dates for the schedule on the form (HTMX swaps the box in; without JS the
    whole form comes back with the dates). Saves nothing."""
    form = _automation_form()
    automation_id = parse_id(request.form.get("automation_id"))
    automation = _automation_or_404(automation_id) if automation_id is not None else None
    dates, problem = _preview_of(form)
    if is_partial():
        part = "_schedule" if request.args.get("part") == "schedule" else "_preview"
        return render_template(f"automations/{part}.html", **_schedule_context(form, dates, problem))
    return _render_form(form, automation=automation, preview=(dates, problem))


# --- actions ----------------------------------------------------------------------------------

def _after_action(automation, message: str | None = None, error: str | None = None):
    if is_partial():
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
        action(acting.owner(), automation.id)
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
        crud.delete(acting.owner(), automation.id)
        flash(f"Deleted the automation for {crud.target_label(automation)}. Its payments stay in your history.",
              "success")
        return redirect(url_for(".index"))
    return render_template("automations/delete.html", a=automation)


# --- settings and upcoming --------------------------------------------------------------------

@bp.route("/settings", methods=["GET", "POST"])
def settings_page():
    if request.method == "GET":
        form = SettingsForm(obj=settings.get_settings(acting.scope().owner_id))
        return render_template("automations/settings.html", form=form)
    form = SettingsForm()
    if not form.validate():
        return render_template("automations/settings.html", form=form), 422
    settings.save_settings(acting.owner(), form.settings_input())
    flash("Settings saved.", "success")
    return redirect(url_for(".settings_page"))


@bp.route("/upcoming")
def upcoming_page():
    view = upcoming.upcoming(acting.owner())
    return render_template("automations/upcoming.html", view=view, zone=ZoneInfo(view.timezone))


@bp.route("/upcoming/next")
def next_payments():
    """The home screen's "am I covered?" card, which the home page loads after it has shown: the
    next days as the sweep will pay them. Without HTMX, the whole upcoming page."""
    if not is_partial():
        return redirect(url_for(".upcoming_page"))
    view = upcoming.upcoming(acting.owner(), days=upcoming.NEXT_DAYS)
    listed = [item for item in view.items if item.status not in ("skipped", "nothing")]
    now = utcnow()
    owner_id = acting.scope().owner_id
    run_outs = meter_usage.predictions_for(owner_id, now)
    running_low = [(account, run_outs[account.id]) for account in utility_accounts.list_accounts(owner_id)
                   if account.id in run_outs and run_outs[account.id].days_left(now) <= upcoming.NEXT_DAYS]
    running_low.sort(key=lambda pair: pair[1].runs_out_at)
    return render_template("automations/_next_payments.html", view=view, days=upcoming.NEXT_DAYS,
                           shown=listed[:upcoming.NEXT_SHOWN], more=len(listed[upcoming.NEXT_SHOWN:]),
                           running_low=running_low, now=now)


@bp.route("/activity")
def activity_page():
    """What autopay did: one month of runs, what became of each and why (HTMX: the results alone)."""
    form = ActivityFilterForm(request.args)
    form.validate()
    view = autopay_activity.activity_view(acting.owner(), form.month.data, page=parse_page(request.args.get("page")))
    return partials.render("automations/activity.html", "results", view=view, form=form, errors=form.messages)
