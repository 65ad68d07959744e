"""The in-app inbox: listing, the unread count for the nav badge, and marking as read."""
from __future__ import annotations

from sqlalchemy import bindparam, func, select, update

from webapp.extensions import db
from webapp.models import Notification
from webapp.models.base import utcnow

PER_PAGE = 20


# Built once: the nav badge runs it on nearly every signed-in page, and building the statement and
# passing it through the ORM's execution cost several times what SQLite spends on the COUNT itself.
UNREAD_COUNT = select(func.count(Notification.id)).where(
    Notification.user_id == bindparam("user_id"), Notification.read_at.is_(None))


def unread_count(user_id: int) -> int:
    """One COUNT over the (user_id, read_at, created_at) index; the nav badge calls it once per page.

    Run on the session's connection (its transaction, no ORM layer): every change to notifications
    is committed before a page is drawn, so there is nothing pending for an autoflush to send."""
    return db.session.connection().execute(UNREAD_COUNT, {"user_id": user_id}).scalar_one()


def inbox_page(user_id: int, page: int = 1, per_page: int = PER_PAGE):
    """A page of this person's notifications, newest first (unread and read together)."""
    query = (select(Notification).where(Notification.user_id == user_id)
             .order_by(Notification.created_at.desc(), Notification.id.desc()))
    return db.paginate(query, page=max(page, 1), per_page=per_page, error_out=False)


def get(user_id: int, notification_id: int) -> Notification | None:
    """A notification only if it is this person's (anyone else's id reads as missing)."""
    return db.session.scalar(
        select(Notification).where(Notification.id == notification_id, Notification.user_id == user_id))


def mark_read(user_id: int, notification_id: int) -> Notification | None:
    """Mark one of this person's notifications read and commit; None when it is not theirs."""
    notification = get(user_id, notification_id)
    if notification is None:
        return None
    if notification.read_at is None:
        notification.read_at = utcnow()
        db.session.commit()
    return notification


def mark_all_read(user_id: int) -> int:
    """Mark every unread notification of this person read and commit; how many changed."""
    result = db.session.execute(
        update(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount
