"""Side effects after the outermost commit: `on_commit(fn)`, like Django's transaction.on_commit.

SQLAlchemy fires `after_commit` for a released savepoint (`begin_nested()`) as well as for the
real commit, so a side effect hung on that event runs while the outer transaction is still open:
a job then looks for rows nobody else can see yet, and on SQLite an inline delivery waits for the
write lock the outer transaction holds. This module is the one place that knows the difference.

The rule: a callback registered while a transaction is open belongs to the innermost savepoint
(or the transaction itself). When a savepoint is released, its callbacks move to the enclosing
level; when it is rolled back, they are dropped. When the outermost transaction commits, every
callback left runs once, in the order registered, after the commit has ended (the session is free
to use again; whatever a callback does with it is a new transaction). When it rolls back or the
session is closed without a commit, they are dropped. With no transaction open there is nothing
uncommitted to wait for, so the callback runs at once.

A callback that raises is logged at ERROR and the others still run: the commit has happened, and
the caller must not be told it failed. Callbacks must be safe to lose (a process can die right
after the commit): each user of this helper has a sweep that catches up.

`on_commit_batch(fn, item)` collects items instead and calls `fn(items)` once per commit (one Redis
round trip for all the outbox rows of a transaction, say), with the same savepoint rules for each
item.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from helpdesk.extensions import db

log = logging.getLogger(__name__)

_PENDING = "helpdesk.on_commit"  # session.info: {transaction: [(fn, item or _CALL), ...]}
_COMMITTED = "helpdesk.on_commit.committed"  # session.info: the transaction whose commit just ran
_CALL = object()  # marks a plain callback (not a batch item)


def on_commit(fn: Callable[[], Any], session: Session | None = None) -> None:
    """Call `fn()` once after the outermost commit of `session` (default: `db.session`)."""
    _register(session, fn, _CALL)


def on_commit_batch(fn: Callable[[list[Any]], Any], item: Any, session: Session | None = None) -> None:
    """Collect `item`; after the outermost commit call `fn(items)` once with all items kept."""
    _register(session, fn, item)


def _register(session: Session | None, fn: Callable[..., Any], item: Any) -> None:
    session = session if session is not None else db.session()
    if not session.in_transaction():
        _run(session, [(fn, item)])
        return
    level = _level(session)
    session.info.setdefault(_PENDING, {}).setdefault(level, []).append((fn, item))


def _level(session: Session) -> SessionTransaction:
    """The transaction a callback registered now belongs to: the innermost savepoint, or the root."""
    level = session.get_nested_transaction() or session.get_transaction()
    assert level is not None
    return level


def _enclosing(transaction: SessionTransaction) -> SessionTransaction | None:
    """The savepoint or root transaction around `transaction` (skipping flush subtransactions)."""
    parent = transaction.parent
    while parent is not None and not parent.nested and parent.parent is not None:
        parent = parent.parent
    return parent


@event.listens_for(Session, "after_commit")
def _remember_commit(session: Session) -> None:
    # Fired for a savepoint's release and for the real commit alike; the transaction that ends
    # right after this event is the one that committed.
    session.info[_COMMITTED] = _level(session)


@event.listens_for(Session, "after_transaction_end")
def _transaction_ended(session: Session, transaction: SessionTransaction) -> None:
    committed = session.info.get(_COMMITTED) is transaction
    if committed:
        del session.info[_COMMITTED]
    pending = session.info.get(_PENDING)
    if not pending:
        return
    callbacks = pending.pop(transaction, None)
    if callbacks is None:
        return
    if not committed:
        return  # rolled back, or closed without a commit: the side effects never happened
    outer = _enclosing(transaction)
    if outer is not None:
        pending.setdefault(outer, []).extend(callbacks)
        return
    _run(session, callbacks)


def _run(session: Session, callbacks: list[tuple[Callable[..., Any], Any]]) -> None:
    batches: dict[Callable[..., Any], list[Any]] = {}
    calls: list[tuple[Callable[..., Any], Any]] = []
    for fn, item in callbacks:
        if item is _CALL:
            calls.append((fn, _CALL))
        elif fn in batches:
            batches[fn].append(item)
        else:
            batches[fn] = [item]
            calls.append((fn, batches[fn]))
    for fn, items in calls:
        try:
            fn() if items is _CALL else fn(items)
        except Exception:
            log.exception("after-commit callback %s failed", getattr(fn, "__qualname__", fn))


@contextmanager
def kept_after_commit() -> Iterator[None]:
    """Commits inside leave the session's objects loaded instead of expiring them.

    For an answer built from the rows a service has just written and committed (the filed
    ticket): without it, the first attribute read after the commit reads every object back.
    Nothing else writes those rows in between, so what is in hand is what was committed.
    """
    session = db.session()
    before = session.expire_on_commit
    session.expire_on_commit = False
    try:
        yield
    finally:
        session.expire_on_commit = before
