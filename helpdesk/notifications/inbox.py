"""In-app notifications: each staff member's list of what happened on their tickets.

`notify()` and `notify_many()` write one `InboxItem` per staff recipient of the events below,
in the same transaction as the outbox row (so an item exists exactly when its event committed).
Muting a notice on the preferences page stops its e-mail; the in-app list keeps every item.

Reads: `unread_count_column` for the header (a capped count over (user_id, read_at), read in one
statement with the away switch), `inbox_page` for the
list (keyset on (user_id, id), newest first).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, func, insert, select, text, update

from helpdesk.clock import utcnow
from helpdesk.extensions import db
from helpdesk.notifications.events import (
    SLA_BREACHED,
    SLA_WARNING,
    STAFF,
    TICKET_ASSIGNED,
    TICKET_CLIENT_REPLIED,
    TICKET_MENTIONED,
)
from helpdesk.notifications.models import InboxItem

INBOX_EVENTS = frozenset({TICKET_ASSIGNED, TICKET_MENTIONED, TICKET_CLIENT_REPLIED, SLA_WARNING, SLA_BREACHED})
#: The header shows "99+" beyond this: counting stops there, so the query stays cheap.
UNREAD_CAP = 99
PAGE_SIZE = 50


def inbox_rows(event: str, recipients: Iterable[Any], values: dict[str, Any], ticket_id: int | None) -> list[dict]:
    """The inbox rows for one notification (column values), one per staff recipient."""
    if event not in INBOX_EVENTS:
        return []
    now = utcnow()
    seen: set[int] = set()
    rows = []
    for recipient in recipients:
        if recipient.user_id is None or recipient.role not in STAFF or recipient.user_id in seen:
            continue
        seen.add(recipient.user_id)
        rows.append({"user_id": recipient.user_id, "event": event, "ticket_id": ticket_id,
                     "values": values, "created_at": now, "read_at": None})
    return rows


# PostgreSQL: one array per column (the values as one JSON array), one statement of constant text
# (executemany ran one per row).
_WRITE_PG = text(
    "INSERT INTO inbox_items (user_id, event, ticket_id, \"values\", created_at, read_at) "
    "SELECT i.user_id, i.event, i.ticket_id, i.vals, i.created_at, NULL "
    "FROM ROWS FROM (unnest(CAST(:users AS integer[])), unnest(CAST(:events AS varchar[])), "
    "unnest(CAST(:tickets AS integer[])), json_array_elements(CAST(:vals AS json)), "
    "unnest(CAST(:created AS timestamptz[]))) "
    "WITH ORDINALITY AS i(user_id, event, ticket_id, vals, created_at, n) ORDER BY i.n"
)


def write(rows: list[dict]) -> None:
    """Add the rows in the caller's transaction (one INSERT for any number)."""
    if not rows:
        return
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(_WRITE_PG, {
            "users": [r["user_id"] for r in rows], "events": [r["event"] for r in rows],
            "tickets": [r["ticket_id"] for r in rows], "vals": json.dumps([r["values"] for r in rows]),
            "created": [r["created_at"] for r in rows],
        })
    else:
        db.session.execute(insert(InboxItem), rows)


def unread_count_column() -> Any:
    """The user's unread items, up to UNREAD_CAP + 1 (the newest unread ids from the (user_id,
    read_at) index, never more than the cap read), as a scalar subquery (bound parameter
    "user_id") for a statement that reads it together with other things (the staff pages'
    header: one round trip)."""
    capped = _unread_statement().subquery()
    return select(func.count()).select_from(capped).scalar_subquery()


@cache
def _unread_statement() -> Select:
    # Built once: building the statement cost as much as running it (on every staff page).
    return select(InboxItem.id).where(
        InboxItem.user_id == bindparam("user_id"), InboxItem.read_at.is_(None)
    ).limit(UNREAD_CAP + 1)


def inbox_page(user_id: int, *, before: int | None = None, unread_only: bool = False,
               limit: int = PAGE_SIZE) -> tuple[list[InboxItem], int | None]:
    """A page of the user's items, newest first, and the cursor of the next page (None: last)."""
    query = select(InboxItem).where(InboxItem.user_id == user_id)
    if unread_only:
        query = query.where(InboxItem.read_at.is_(None))
    if before is not None:
        query = query.where(InboxItem.id < before)
    items = list(db.session.scalars(query.order_by(InboxItem.id.desc()).limit(limit + 1)))
    if len(items) > limit:
        return items[:limit], items[limit - 1].id
    return items, None


def mark_read(user_id: int, item_id: int) -> bool:
    """Mark one of the user's items read (another user's id changes nothing). Commits."""
    result = db.session.execute(
        update(InboxItem)
        .where(InboxItem.id == item_id, InboxItem.user_id == user_id, InboxItem.read_at.is_(None))
        .values(read_at=utcnow())
    )
    db.session.commit()
    return bool(result.rowcount)


def mark_all_read(user_id: int) -> int:
    """Mark every unread item of the user read. Commits; returns how many."""
    result = db.session.execute(
        update(InboxItem).where(InboxItem.user_id == user_id, InboxItem.read_at.is_(None)).values(read_at=utcnow())
    )
    db.session.commit()
    return result.rowcount or 0


def own_item(user_id: int, item_id: int) -> InboxItem | None:
    """The user's item with this id; None for another user's or an id no row can have."""
    if not 0 < item_id <= 2**31 - 1:
        return None
    return db.session.scalar(select(InboxItem).where(InboxItem.id == item_id, InboxItem.user_id == user_id))
