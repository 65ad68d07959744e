"""Notification pages. Views parse input, call the notify service and render.

HTMX requests get the changed region plus an out-of-band nav badge, from the same templates the
full page uses; without JavaScript every action is a plain form POST and a redirect.
"""
from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from webapp.extensions import db
from webapp.notifications import bp
from webapp.notifications.forms import SmsSettingsForm
from webapp.presentation import nav, partials
from webapp.request_numbers import parse_page
from webapp.services import notify
from webapp.services.notify import inbox, outbox, preferences, sms


def _page_arg(source) -> int:
    return parse_page(source.get("page"))


@bp.route("/")
def index():
    pagination = inbox.inbox_page(current_user.id, _page_arg(request.args))
    return partials.render("notifications/index.html", "inbox", pagination=pagination,
                           outbox_enabled=_outbox_enabled())


@bp.route("/<int:notification_id>/read", methods=["POST"])
def mark_read(notification_id: int):
    notification = inbox.mark_read(current_user.id, notification_id)
    if notification is None:
        abort(404)
    if partials.is_partial():
        nav.fresh_unread_count()
        return render_template("notifications/_item_response.html", notification=notification)
    return redirect(url_for(".index", page=_page_arg(request.form)))


@bp.route("/<int:notification_id>/open", methods=["POST"])
def open_link(notification_id: int):
    """Opening a notification marks it read, then follows its link inside the app."""
    notification = inbox.mark_read(current_user.id, notification_id)
    if notification is None:
        abort(404)
    link = notification.link or ""
    if not link.startswith("/") or link.startswith("//"):
        return redirect(url_for(".index"))
    return redirect(link)


@bp.route("/read-all", methods=["POST"])
def mark_all_read():
    changed = inbox.mark_all_read(current_user.id)
    if partials.is_partial():
        nav.fresh_unread_count()
        pagination = inbox.inbox_page(current_user.id, 1)
        return partials.render("notifications/index.html", "inbox", pagination=pagination, nav_badge=True)
    flash(f"Marked {changed} notification{'' if changed == 1 else 's'} as read." if changed
          else "Everything was already read.", "success")
    return redirect(url_for(".index"))


@bp.route("/preferences", methods=["GET", "POST"])
def preferences_page():
    error = None
    if request.method == "POST":
        try:
            chosen = preferences.parse_choices(request.form.getlist("pref"))
            if not current_user.phone and any(channel == "sms" for _, channel in chosen):
                raise preferences.PreferenceError(sms.NO_PHONE_FOR_SMS)
        except preferences.PreferenceError as exc:
            error = str(exc)
        else:
            preferences.save(current_user.id, chosen)
            flash("Your notification settings are saved.", "success")
            return redirect(url_for(".preferences_page"))
    return _preferences(error=error), (400 if error else 200)


@bp.route("/preferences/sms", methods=["POST"])
def sms_settings():
    """The phone number SMS go to and the resident's quiet hours; a bad value changes nothing."""
    form = SmsSettingsForm()
    if form.validate_on_submit():
        try:
            sms.save_settings(current_user._get_current_object(), form.phone.data or "", form.quiet_start.data,
                              form.quiet_end.data)
        except sms.SmsSettingsError as exc:
            db.session.rollback()
            getattr(form, exc.field).errors.append(str(exc))
        else:
            flash("Your SMS settings are saved.", "success")
            return redirect(url_for(".preferences_page"))
    return _preferences(sms_form=form), 400


def _preferences(error: str | None = None, sms_form: SmsSettingsForm | None = None) -> str:
    if sms_form is None:
        saved = sms.settings_of(current_user)
        sms_form = SmsSettingsForm(formdata=None, phone=saved.phone, quiet_start=saved.quiet_start,
                                   quiet_end=saved.quiet_end)
    rows = preferences.matrix(current_user.id, admin=current_user.is_admin)
    return render_template("notifications/preferences.html", rows=rows,
                           channels=notify.all_channels(), error=error, sms_form=sms_form,
                           has_phone=bool(current_user.phone), sms_failures=sms.recent_failures(current_user.id))


def _outbox_enabled() -> bool:
    # Never in production, whatever MAIL_SERVER says: the outbox holds every resident's mail
    # (electricity tokens included), readable by their estate's admin.
    return current_app.config.get("APP_ENV") != "production" and not current_app.config.get("MAIL_SERVER")


@bp.route("/outbox")
def outbox_page():
    """Development only: the mail that would have gone out. Production or a mail server: no page."""
    if not _outbox_enabled():
        abort(404)
    pagination = outbox.outbox_page(current_user, _page_arg(request.args))
    return render_template("notifications/outbox.html", pagination=pagination)
