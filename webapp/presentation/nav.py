"""The navigation bar's unread-notifications badge: one COUNT per request, however many templates
ask, and none at all on a page that already knows the number."""
from __future__ import annotations

from flask import Flask, request
from flask_login import current_user

from webapp.services.notify import inbox

_UNREAD_KEY = "autopay.unread_notifications"


def unread_notification_count() -> int:
    if not current_user.is_authenticated:
        return 0
    if _UNREAD_KEY not in request.environ:
        request.environ[_UNREAD_KEY] = inbox.unread_count(current_user.id)
    return request.environ[_UNREAD_KEY]


def remember_unread_count(count: int) -> None:
    """A page that already read the count (the dashboard's version statement) saves the nav its query."""
    request.environ[_UNREAD_KEY] = count


def fresh_unread_count() -> int:
    """The count after this request changed it (marking read)."""
    request.environ.pop(_UNREAD_KEY, None)
    return unread_notification_count()


def register(app: Flask) -> None:
    app.add_template_global(unread_notification_count)
