"""Notification pages. Views parse input, call the notify service and render.

HTMX requests get the changed region plus an out-of-band nav badge, from the same templates the
full page uses; without JavaScript every action is a plain form POST and a redirect.
"""
from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from webapp.notifications import bp
from webapp.request_numbers import parse_page
from webapp.services import notify
from webapp.services.notify import inbox, outbox, preferences

_UNREAD_KEY = "autopay.unread_notifications"


@bp.app_template_global()
def unread_notification_count() -> int:
    """The nav badge: one COUNT per request, however many templates ask (cached on the request)."""
    if not current_user.is_authenticated:
        return 0
    if _UNREAD_KEY not in request.environ:
        request.environ[_UNREAD_KEY] = inbox.unread_count(current_user.id)
    return request.environ[_UNREAD_KEY]


def remember_unread_count(count: int) -> None:
    """A page that already read the count (the dashboard's version statement) saves the nav its query."""
    request.environ[_UNREAD_KEY] = count


def _fresh_unread_count() -> int:
    request.environ.pop(_UNREAD_KEY, None)
    return unread_notification_count()


def _is_htmx() -> bool:
    # A history restore needs the whole page; any other HTMX request swaps a region only.
    return bool(request.headers.get("HX-Request")) and not request.headers.get("HX-History-Restore-Request")


def _page_arg(source) -> int:
    return parse_page(source.get("page"))


@bp.route("/")
def index():
    pagination = inbox.inbox_page(current_user.id, _page_arg(request.args))
    template = "notifications/_list.html" if _is_htmx() else "notifications/index.html"
    return render_template(template, pagination=pagination, outbox_enabled=_outbox_enabled())


@bp.route("/<int:notification_id>/read", methods=["POST"])
def mark_read(notification_id: int):
    notification = inbox.mark_read(current_user.id, notification_id)
    if notification is None:
        abort(404)
    if _is_htmx():
        _fresh_unread_count()
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
    if _is_htmx():
        _fresh_unread_count()
        pagination = inbox.inbox_page(current_user.id, 1)
        return render_template("notifications/_list_response.html", pagination=pagination)
    flash(f"Marked {changed} notification{'' if changed == 1 else 's'} as read." if changed
          else "Everything was already read.", "success")
    return redirect(url_for(".index"))


@bp.route("/preferences", methods=["GET", "POST"])
def preferences_page():
    error = None
    if request.method == "POST":
        try:
            chosen = preferences.parse_choices(request.form.getlist("pref"))
        except preferences.PreferenceError as exc:
            error = str(exc)
        else:
            preferences.save(current_user.id, chosen)
            flash("Your notification settings are saved.", "success")
            return redirect(url_for(".preferences_page"))
    rows = preferences.matrix(current_user.id)
    channels = notify.all_channels()
    return render_template("notifications/preferences.html", rows=rows, channels=channels, error=error), (
        400 if error else 200)


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
