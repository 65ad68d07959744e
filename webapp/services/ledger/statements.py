"""Account statements: one page of postings, newest first, each with the balance after it."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from webapp.extensions import db
from webapp.models import Posting

MAX_PER_PAGE = 100


@dataclass(frozen=True)
class StatementLine:
    posting_id: int
    entry_id: int
    created_at: datetime
    kind: str
    memo: str
    reference: str | None
    amount_kobo: int
    balance_after_kobo: int


def statement(account_id: int, page: int = 1, per_page: int = 20) -> Pagination:
    """A page of the account's statement, newest line first.

    Returns Flask-SQLAlchemy's ``Pagination`` (so templates get ``has_next``, ``iter_pages``...)
    whose ``items`` are ``StatementLine``. The running balance comes from the postings themselves,
    not the cached balance: one indexed SUM of the postings up to the page's newest line, then
    walked down the page, so no page loads more than ``per_page`` rows.
    """
    query = (
        select(Posting)
        .where(Posting.account_id == account_id)
        .options(joinedload(Posting.entry))
        .order_by(Posting.id.desc())
    )
    pagination = db.paginate(query, page=page, per_page=per_page, max_per_page=MAX_PER_PAGE, error_out=False)
    postings: list[Posting] = list(pagination.items)
    lines = []
    if postings:
        # int(): PostgreSQL sums BIGINT as NUMERIC.
        running = int(db.session.scalar(
            select(func.coalesce(func.sum(Posting.amount_kobo), 0)).where(
                Posting.account_id == account_id, Posting.id <= postings[0].id
            )
        ))
        for posting in postings:
            lines.append(
                StatementLine(
                    posting_id=posting.id,
                    entry_id=posting.entry_id,
                    created_at=posting.created_at,
                    kind=posting.entry.kind,
                    memo=posting.entry.memo,
                    reference=posting.entry.reference,
                    amount_kobo=posting.amount_kobo,
                    balance_after_kobo=running,
                )
            )
            running -= posting.amount_kobo
    pagination.items = lines
    return pagination
