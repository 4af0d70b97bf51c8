"""The embedded SQLite's one writer: a turn waited for in short steps, not SQLite's backoff sleeps.

SQLite lets one connection write at a time. A second writer's statement meets SQLITE_BUSY and
SQLite's busy handler sleeps and tries again, 1, 2, 5, 10, 15, 20, 25 ... ms apart: a filing
that waits for another which holds the lock for 4 ms wakes at 8 ms, then at 18. Under two
workers filing at once, most of a filing's time went to those sleeps, not to work.

The rule: a connection about to open a write transaction (its first INSERT, UPDATE or DELETE
outside a transaction, where Python's sqlite3 says BEGIN) first takes an advisory lock on the
file `<database>-writer.lock` (flock, one holder among all processes), polled every 0.1 ms at
first and at most every 1 ms, and gives it back as soon as the transaction ends (commit,
rollback, close, or a statement that ran outside a transaction). The holder then finds SQLite's
own lock free; the next writer takes its turn within a millisecond of the commit.

It is only an advisory turn in front of SQLite's own lock, never a replacement: SQLite still
decides, with its busy timeout, for every writer that does not take the turn (another program,
a transaction opened by SAVEPOINT or by a statement read as anything but a write). A turn not
had within the busy timeout (a writer holding its transaction that long) is given up and the
statement goes to SQLite's busy handler as before, so a stuck writer fails the others after
the timeout, as it always did. Within one process the turn is re-entrant per thread (a second
connection of the thread that holds it does not wait for itself; SQLite's timeout governs it)
and other threads wait for it, with the same timeout. In-memory and `file:` URI databases, and a
lock file that cannot be opened, go without. A process that dies holding the turn loses it with
its file descriptors; a forked child opens the file again (flock belongs to the open file).
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
from typing import Any

POLL_FIRST_SECONDS = 0.0001
POLL_MAX_SECONDS = 0.001
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLAC")  # the statements before which sqlite3 says BEGIN


class WriterTurn:
    """The turn to write one database file: flock among processes, re-entrant per thread within one."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd: int | None = None
        self.pid = 0
        self.threads = threading.RLock()
        self.depth = 0

    def _file(self) -> int | None:
        if self.fd is None or self.pid != os.getpid():  # a forked child must not share the parent's lock
            try:
                self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError:
                return None
            self.pid = os.getpid()
        return self.fd

    def take(self, timeout: float) -> bool:
        """Wait for the turn (at most `timeout` seconds); False: go without (SQLite's busy handler)."""
        deadline = time.monotonic() + timeout
        if not self.threads.acquire(timeout=timeout):
            return False
        if self.depth:  # this thread holds it already, through another connection
            self.depth += 1
            return True
        fd = self._file()
        if fd is not None and _flock(fd, deadline):
            self.depth = 1
            return True
        self.threads.release()
        return False

    def give_back(self) -> None:
        self.depth -= 1
        if not self.depth and self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        self.threads.release()


def _flock(fd: int, deadline: float) -> bool:
    delay = POLL_FIRST_SECONDS
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, POLL_MAX_SECONDS)


_TURNS: dict[str, WriterTurn] = {}
_TURNS_LOCK = threading.Lock()


def turn_for(database: str) -> WriterTurn | None:
    """The turn of a database file (one object per file and process); None for in-memory and URIs."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    path = os.path.abspath(database) + "-writer.lock"
    with _TURNS_LOCK:
        found = _TURNS.get(path)
        if found is None:
            found = _TURNS[path] = WriterTurn(path)
        return found


def _opens_write(connection: TurnTakingConnection, sql: str) -> bool:
    return not connection.in_transaction and sql.lstrip()[:6].upper() in _WRITES


class TurnTakingCursor(sqlite3.Cursor):
    """A cursor that takes its connection's writer turn before the statement that opens a write."""

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:  # type: ignore[override]
        connection: TurnTakingConnection = self.connection  # type: ignore[assignment]
        if connection.turn is not None and not connection.holds_turn and _opens_write(connection, sql):
            connection.take_turn()
        try:
            return super().execute(sql, parameters)
        finally:
            if connection.holds_turn and not connection.in_transaction:
                connection.give_turn_back()

    def executemany(self, sql: str, parameters: Any, /) -> sqlite3.Cursor:  # type: ignore[override]
        connection: TurnTakingConnection = self.connection  # type: ignore[assignment]
        if connection.turn is not None and not connection.holds_turn and _opens_write(connection, sql):
            connection.take_turn()
        try:
            return super().executemany(sql, parameters)
        finally:
            if connection.holds_turn and not connection.in_transaction:
                connection.give_turn_back()


class TurnTakingConnection(sqlite3.Connection):
    """sqlite3's connection, handing out TurnTakingCursors and giving the turn back at the end of a
    transaction. `busy_timeout_ms` is how long a turn is waited for (SQLite's busy timeout)."""

    turn: WriterTurn | None = None
    holds_turn = False
    busy_timeout_ms = 5000

    def __init__(self, database: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(database, *args, **kwargs)
        self.turn = turn_for(os.fspath(database)) if isinstance(database, (str, os.PathLike)) else None

    def cursor(self, factory: Any = TurnTakingCursor) -> sqlite3.Cursor:  # type: ignore[override]
        return super().cursor(factory)

    # sqlite3's own shortcuts run the statement in C, past the cursor's execute: through it instead.
    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:  # type: ignore[override]
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> sqlite3.Cursor:  # type: ignore[override]
        return self.cursor().executemany(sql, parameters)

    def take_turn(self) -> None:
        assert self.turn is not None
        self.holds_turn = self.turn.take(self.busy_timeout_ms / 1000)

    def give_turn_back(self) -> None:
        self.holds_turn = False
        assert self.turn is not None
        self.turn.give_back()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            if self.holds_turn and not self.in_transaction:
                self.give_turn_back()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            if self.holds_turn:
                self.give_turn_back()

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self.holds_turn:
                self.give_turn_back()
