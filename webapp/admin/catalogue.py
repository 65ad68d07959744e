"""Admin: the provider catalogue of an estate. List and search, add, edit, switch on and off, sync.

Views parse and render; ``services.catalogue_admin`` holds the rules, writes the audit rows and
pauses automations. Every entry id goes through ``scoped`` (404 outside the admin's estates).
"""
from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for

from webapp.admin import bp
from webapp.admin.catalogue_forms import EntryForm, ReasonForm
from webapp.admin.estate_choice import chosen_estate
from webapp.admin.filter_forms import CatalogueFilterForm
from webapp.admin.permissions import Right, needs
from webapp.admin.scope import scoped, visible_estate_ids, visible_estates
from webapp.models import UtilityProvider
from webapp.models.catalogue import API_PROVIDER_LABELS, API_PROVIDERS, UTILITY_LABELS
from webapp.request_numbers import parse_page
from webapp.services import catalogue


def _labels() -> dict:
    return {"utility_labels": UTILITY_LABELS, "provider_labels": API_PROVIDER_LABELS}


@bp.route("/catalogue/")
@needs(Right.READ)
def catalogue_index():
    estate = chosen_estate()
    form = CatalogueFilterForm(request.args)
    form.validate()
    filters = form.filters()
    page = parse_page(request.args.get("page"))
    estate_ids = [estate.id] if estate is not None else visible_estate_ids()
    pagination = catalogue.entries_page(estate_ids, page=page, **filters)
    return render_template("admin/catalogue/index.html", pagination=pagination, filters=filters, estate=estate,
                           estates=visible_estates(), args=request.args, **_labels())


def _apply_error(form: EntryForm, exc: catalogue.EntryError) -> None:
    field = getattr(form, (exc.field or "").removesuffix("_kobo"), None)
    if field is None:
        flash(exc.message, "error")
    else:
        field.errors = [*field.errors, exc.message]


@bp.route("/catalogue/new", methods=["GET", "POST"])
@needs(Right.CATALOGUE)
def catalogue_new():
    estate = chosen_estate()
    if estate is None:
        return render_template("admin/catalogue/pick_estate.html", estates=visible_estates(),
                               action=url_for("admin.catalogue_new"), what="add a catalogue entry")
    form = EntryForm()
    if form.validate_on_submit():
        try:
            entry = catalogue.create_entry(estate.id, form.values(), active=form.active.data)
        except catalogue.EntryError as exc:
            _apply_error(form, exc)
        else:
            flash(f"Added {entry.name}.", "success")
            return redirect(url_for("admin.catalogue_index", estate=estate.id))
    status = 422 if form.errors else 200
    return render_template("admin/catalogue/form.html", form=form, estate=estate, entry=None), status


@bp.route("/catalogue/<int:entry_id>/edit", methods=["GET", "POST"])
@needs(Right.CATALOGUE)
def catalogue_edit(entry_id: int):
    entry = scoped(UtilityProvider, entry_id)
    form = EntryForm()
    if request.method == "GET":
        form.fill_from(entry)
    elif form.validate_on_submit():
        try:
            catalogue.update_entry(entry, form.values())
        except catalogue.EntryError as exc:
            _apply_error(form, exc)
        else:
            flash(f"Saved {entry.name}.", "success")
            return redirect(url_for("admin.catalogue_index", estate=entry.estate_id))
    status = 422 if form.errors else 200
    return render_template("admin/catalogue/form.html", form=form, estate=entry.estate, entry=entry,
                           **_labels()), status


@bp.route("/catalogue/<int:entry_id>/deactivate", methods=["POST"])
@needs(Right.CATALOGUE)
def catalogue_deactivate(entry_id: int):
    entry = scoped(UtilityProvider, entry_id)
    form = ReasonForm()
    if not form.validate_on_submit():
        flash("Keep the reason under 255 characters.", "error")
    else:
        try:
            paused = catalogue.deactivate_entry(entry, form.reason.data)
        except catalogue.EntryError as exc:
            flash(exc.message, "error")
        else:
            note = (f" {len(paused)} automatic payment(s) using it were paused and their residents told."
                    if paused else "")
            flash(f"{entry.name} is switched off; residents can no longer choose it.{note}", "success")
    return redirect(url_for("admin.catalogue_index", estate=entry.estate_id))


@bp.route("/catalogue/<int:entry_id>/activate", methods=["POST"])
@needs(Right.CATALOGUE)
def catalogue_activate(entry_id: int):
    entry = scoped(UtilityProvider, entry_id)
    if ReasonForm().validate_on_submit():
        try:
            catalogue.activate_entry(entry)
        except catalogue.EntryError as exc:
            flash(exc.message, "error")
        else:
            flash(f"{entry.name} is offered to residents again.", "success")
    return redirect(url_for("admin.catalogue_index", estate=entry.estate_id))


@bp.route("/catalogue/sync", methods=["GET", "POST"])
@needs(Right.CATALOGUE)
def catalogue_sync():
    """GET: a preview per provider. POST: apply one provider's plan if it is still the one previewed."""
    estate = chosen_estate()
    if estate is None:
        return render_template("admin/catalogue/pick_estate.html", estates=visible_estates(),
                               action=url_for("admin.catalogue_sync"), what="sync the catalogue")
    config = current_app.config
    previews = {}
    status = 200
    if request.method == "POST":
        if not ReasonForm().validate_on_submit():
            abort(400)
        api_provider = request.form.get("api_provider", "")
        if api_provider not in API_PROVIDERS:
            abort(400)
        outcome = catalogue.apply_previewed_sync(estate.id, api_provider, request.form.get("digest", ""),
                                                       config)
        if outcome.applied:
            flash(f"Synced from {API_PROVIDER_LABELS[api_provider]}: {outcome.message}", "success")
            return redirect(url_for("admin.catalogue_index", estate=estate.id))
        flash(outcome.message, "warning")
        previews[api_provider] = outcome.preview
        status = 409
    for api_provider in API_PROVIDERS:
        if api_provider not in previews:
            previews[api_provider] = catalogue.preview_sync(estate.id, api_provider, config)
    return render_template("admin/catalogue/sync.html", estate=estate, previews=previews, form=ReasonForm(),
                           **_labels()), status
