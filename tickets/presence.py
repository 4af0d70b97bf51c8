"""Who has a ticket open: one row per (ticket, user) with the last time their page said so.

The agent's ticket page records its viewer when it is shown and then every PRESENCE_HEARTBEAT_SECONDS
(20) from a small script; others count as present while their row is younger than
PRESENCE_TTL_SECONDS (60). The rows live in the database (table `ticket_presence`), so presence
works the same in the embedded default (SQLite, no Redis) and in production; a stale row is
simply ignored and overwritten by the next heartbeat, and rows of a ticket older than an hour
are deleted by the next heartbeat on that ticket.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from typing import Any

from flask import current_app
from sqlalchemy import ForeignKey, bindparam, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, lazyload, mapped_column

from helpdesk.accounts import User
from helpdesk.dbtypes import UTCDateTime
from helpdesk.extensions import db


class TicketPresence(db.Model):
    __tablename__ = "ticket_presence"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime)


def mark_present(ticket_id: int, user_id: int, now: datetime) -> None:
    """Record that `user_id` has the ticket open now (an upsert) and commit.

    The commit does not expire what the session holds: a presence row changes nothing loaded, and
    the ticket page would otherwise load its ticket and its reader again, one query each.
    """
    upsert, prune = _statements(db.engine.dialect.name)
    connection = db.session.connection()
    values = {"p_ticket": ticket_id, "p_user": user_id, "p_seen": now, "p_before": now - timedelta(hours=1)}
    connection.execute(upsert, values)
    if prune is not None:
        connection.execute(prune, values)
    session = db.session()
    expire, session.expire_on_commit = session.expire_on_commit, False
    try:
        session.commit()
    finally:
        session.expire_on_commit = expire


_STATEMENTS: dict[str, tuple[Any, Any]] = {}


def _statements(dialect: str) -> tuple[Any, Any | None]:
    """The upsert and the pruning delete of `mark_present`, built once per dialect (every ticket page
    and heartbeat runs them; building the statements cost more than running them).

    On PostgreSQL the delete rides in the upsert as a data-modifying WITH (one round trip, and the
    second of the pair is None). It spares the viewer's own row: the upsert renews that one, and
    one statement must not both delete and update a row."""
    found = _STATEMENTS.get(dialect)
    if found is None:
        table = TicketPresence.__table__
        seen = table.c.seen_at.type
        prune = delete(table).where(
            table.c.ticket_id == bindparam("p_ticket"),
            table.c.seen_at < bindparam("p_before", type_=seen),
        )
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        statement = insert(table)
        if dialect == "postgresql":
            statement = statement.add_cte(
                prune.where(table.c.user_id != bindparam("p_user")).cte("pruned")
            )
        statement = statement.values(
            ticket_id=bindparam("p_ticket"), user_id=bindparam("p_user"), seen_at=bindparam("p_seen", type_=seen)
        )
        upsert = statement.on_conflict_do_update(
            index_elements=["ticket_id", "user_id"], set_={"seen_at": statement.excluded.seen_at}
        )
        found = _STATEMENTS[dialect] = (upsert, None if dialect == "postgresql" else prune)
    return found


def others_present(ticket_id: int, user_id: int, now: datetime) -> list[str]:
    """The names of the other people who have the ticket open now, by name."""
    since = now - timedelta(seconds=current_app.config.get("PRESENCE_TTL_SECONDS", 60))
    return [user.display_name for user in db.session.scalars(
        _others_statement(), {"p_ticket": ticket_id, "p_user": user_id, "p_since": since}
    )]


@cache
def _others_statement() -> Any:
    """Built once, like `_statements`: the ticket page asks on every view."""
    return (
        select(User).join(TicketPresence, TicketPresence.user_id == User.id).options(lazyload(User.client))
        .where(TicketPresence.ticket_id == bindparam("p_ticket"), TicketPresence.user_id != bindparam("p_user"),
               TicketPresence.seen_at >= bindparam("p_since", type_=TicketPresence.__table__.c.seen_at.type))
        .order_by(User.name, User.email)
    )
