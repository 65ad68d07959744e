"""Household pages. Views parse the form, call one households service and render."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, session, url_for
from wtforms.fields.choices import SelectChoice

from webapp.auth.routes import safe_next
from webapp.errors import render_error
from webapp.households import acting, bp
from webapp.households.forms import AcceptForm, InviteForm, MemberForm, RemoveForm, SwitchForm
from webapp.models import MemberRole, MembershipStatus
from webapp.services import households

NOT_A_MANAGER = "Only the household's owner and co-owners can manage its members."


def switch_form(choices: list | None = None) -> SwitchForm | None:
    """The header's switcher for a member of a household (None for everyone else), from the
    households noted in the session unless ``choices`` (``[[membership id, owner's name]]``) are given."""
    choices = session.get(acting.CHOICES_KEY) if choices is None else choices
    if not choices:
        return None
    form = SwitchForm(formdata=None)
    form.household.choices = [SelectChoice("", "Myself")] + [
        SelectChoice(str(membership_id), f"Household {name}") for membership_id, name in choices]
    current = acting.scope()
    form.household.data = str(current.membership_id) if current.is_member else ""
    return form


@bp.app_context_processor
def switcher():
    # What the pages of a household may offer its member (controls the role cannot use are left out).
    return {"household_switch_form": switch_form, "household_scope": acting.scope}


def _page(invite_form: InviteForm | None = None, member_forms: dict | None = None, status: int = 200):
    current = acting.scope()
    owner = acting.owner()
    members = households.members_of(owner.id) if current.may_manage else []
    forms = {}
    for row in members:
        if row.status != MembershipStatus.REMOVED.value:
            forms[row.id] = (member_forms or {}).get(row.id) or MemberForm(
                formdata=None, role=row.role, monthly_limit=row.monthly_limit_kobo)
    return render_template(
        "households/index.html", owner=owner, scope=current, members=members, member_forms=forms,
        invite_form=invite_form or InviteForm(formdata=None), remove_form=RemoveForm(formdata=None),
        memberships=households.active_memberships(acting.actor().id)), status


def _manager_or_403():
    if not acting.scope().may_manage:
        return render_error(403, NOT_A_MANAGER)
    return None


def _limit(form) -> int | None:
    return form.monthly_limit.data if form.role.data == MemberRole.PAYER else None


@bp.route("/")
def index():
    acting.remember_choices(acting.actor().id)  # the switcher catches up with households joined elsewhere
    return _page()


@bp.route("/invite", methods=["POST"])
def invite():
    refused = _manager_or_403()
    if refused:
        return refused
    form = InviteForm()
    if form.validate_on_submit():
        try:
            row = households.invite(acting.owner(), form.email.data, form.role.data, _limit(form))
        except households.HouseholdError as exc:
            getattr(form, exc.field or "email").errors.append(str(exc))
        else:
            flash(f"Invitation sent to {row.invited_email}.", "success")
            return redirect(url_for(".index"))
    return _page(invite_form=form, status=422)


def _member_or_404(member_id: int):
    row = households.membership_of(acting.owner().id, member_id)
    if row is None:
        abort(404)
    return row


@bp.route("/members/<int:member_id>/change", methods=["POST"])
def change(member_id: int):
    refused = _manager_or_403()
    if refused:
        return refused
    row = _member_or_404(member_id)
    form = MemberForm()
    if form.validate_on_submit():
        try:
            households.change(acting.owner(), row.id, form.role.data, _limit(form))
        except households.HouseholdError as exc:
            getattr(form, exc.field or "role").errors.append(str(exc))
        else:
            flash(f"{row.invited_email} is now a {row.role_label.lower()}.", "success")
            return redirect(url_for(".index"))
    return _page(member_forms={row.id: form}, status=422)


@bp.route("/members/<int:member_id>/remove", methods=["POST"])
def remove(member_id: int):
    refused = _manager_or_403()
    if refused:
        return refused
    row = _member_or_404(member_id)
    form = RemoveForm()
    if not form.validate_on_submit():
        return render_error(400, "That form expired. Reload the page and try again.")
    try:
        households.remove(acting.owner(), row.id)
    except households.HouseholdError as exc:
        flash(str(exc), "error")
        return redirect(url_for(".index"))
    flash(f"Removed {row.invited_email}. The payments they made stay in the history.", "success")
    return redirect(url_for(".index"))


@bp.route("/switch", methods=["POST"])
def switch():
    acting.remember_choices(acting.actor().id)  # choices from the database, not from the session
    form = switch_form(session.get(acting.CHOICES_KEY, [])) or abort(404)
    form.process(request.form)
    if not form.validate():
        flash("Choose yourself or one of your households.", "error")
        return redirect(url_for("main.index"))
    choice = form.household.data
    acting.choose(int(choice) if choice else None)
    if choice:
        flash("You are now acting for the household.", "success")
        return redirect(url_for("utility_accounts.index"))
    flash("You are acting as yourself.", "success")
    return redirect(safe_next(request.form.get("next")) or url_for("main.index"))


@bp.route("/accept/<token>", methods=["GET", "POST"])
def accept(token: str):
    """The link in the invitation email. GET only shows the button: mail scanners open links too."""
    invitation = households.pending_invitation(token)
    if invitation is None:
        return render_template("households/accept.html", invitation=None, form=None,
                               error=households.LINK_ERROR), 400
    form = AcceptForm()
    error = None
    if form.validate_on_submit():
        try:
            row = households.accept(token, acting.actor())
        except households.HouseholdError as exc:
            error = str(exc)
        else:
            acting.choose(row.id)
            acting.remember_choices(row.member_id)
            flash(f"You joined {row.owner.full_name}'s household and are now acting for it.", "success")
            return redirect(url_for("utility_accounts.index"))
    return render_template("households/accept.html", invitation=invitation, form=form,
                           error=error), 422 if error else 200
