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
from sqlalchemy.orm import Mapped, mapped_column

from helpdesk.accounts import User
from helpdesk.dbtypes import UTCDateTime
from helpdesk.extensions import db


class TicketPresence(db.Model):
    __tablename__ = "ticket_presence"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime)


def mark_present(ticket_id: int, user_id: int, now: datetime) -> list[str]:
    """Record that `user_id` has the ticket open now (an upsert) and commit; the names of the
    other people who have it open now (`others_present`), read in the same statement on
    PostgreSQL (one round trip for the ticket page and the heartbeat).

    The commit does not expire what the session holds: a presence row changes nothing loaded, and
    the ticket page would otherwise load its ticket and its reader again, one query each.
    """
    upsert, prune = _statements(db.engine.dialect.name)
    connection = db.session.connection()
    values = {"p_ticket": ticket_id, "p_user": user_id, "p_seen": now, "p_before": now - timedelta(hours=1),
              "p_since": _since(now)}
    if prune is None:  # PostgreSQL: the upsert and the prune ride in the read of the others
        others = [name or email for name, email in connection.execute(upsert, values)]
    else:
        connection.execute(upsert, values)
        connection.execute(prune, values)
    session = db.session()
    expire, session.expire_on_commit = session.expire_on_commit, False
    try:
        session.commit()
    finally:
        session.expire_on_commit = expire
    if prune is not None:
        others = others_present(ticket_id, user_id, now)
    return others


_STATEMENTS: dict[str, tuple[Any, Any]] = {}


def _statements(dialect: str) -> tuple[Any, Any | None]:
    """The upsert and the pruning delete of `mark_present`, built once per dialect (every ticket page
    and heartbeat runs them; building the statements cost more than running them).

    On PostgreSQL both ride as data-modifying WITHs in the read of the others present (one round
    trip; the second of the pair is None): that read sees the rows as they were before the
    statement, which are the same others (the viewer's row is left out, the pruned rows are long
    past the TTL). The delete spares the viewer's own row: the upsert renews that one, and one
    statement must not both delete and update a row."""
    found = _STATEMENTS.get(dialect)
    if found is None:
        table = TicketPresence.__table__
        seen = table.c.seen_at.type
        prune = delete(table).where(
            table.c.ticket_id == bindparam("p_ticket"),
            table.c.seen_at < bindparam("p_before", type_=seen),
        )
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        statement = insert(table).values(
            ticket_id=bindparam("p_ticket"), user_id=bindparam("p_user"), seen_at=bindparam("p_seen", type_=seen)
        )
        upsert = statement.on_conflict_do_update(
            index_elements=["ticket_id", "user_id"], set_={"seen_at": statement.excluded.seen_at}
        )
        if dialect == "postgresql":
            spared = prune.where(table.c.user_id != bindparam("p_user"))
            found = (_others_columns().add_cte(spared.cte("pruned")).add_cte(
                upsert.returning(table.c.user_id).cte("renewed")), None)
        else:
            found = (upsert, prune)
        _STATEMENTS[dialect] = found
    return found


def others_present(ticket_id: int, user_id: int, now: datetime) -> list[str]:
    """The names of the other people who have the ticket open now, by name."""
    rows = db.session.execute(_others_columns(), {"p_ticket": ticket_id, "p_user": user_id, "p_since": _since(now)})
    return [name or email for name, email in rows]  # User.display_name


def _since(now: datetime) -> datetime:
    return now - timedelta(seconds=current_app.config.get("PRESENCE_TTL_SECONDS", 60))


@cache
def _others_columns() -> Any:
    """The others present, by name: names and e-mails only. Built once, like `_statements`: the
    ticket page asks on every view."""
    return (
        select(User.name, User.email).join(TicketPresence, TicketPresence.user_id == User.id)
        .where(TicketPresence.ticket_id == bindparam("p_ticket"), TicketPresence.user_id != bindparam("p_user"),
               TicketPresence.seen_at >= bindparam("p_since", type_=TicketPresence.__table__.c.seen_at.type))
        .order_by(User.name, User.email)
    )
