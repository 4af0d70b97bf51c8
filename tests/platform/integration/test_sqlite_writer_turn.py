"""The embedded SQLite's writer turn (helpdesk/sqlite_writer.py): one writer's turn among processes,
taken before a write transaction opens and given back when it ends, never worse than SQLite alone.

Two turns on the same lock file are two open files, so flock sets them against each other just as
it sets two processes; the connections are the application engine's (its connect settings).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from helpdesk.sqlite_writer import TurnTakingConnection, WriterTurn, turn_for


@pytest.fixture
def sqlite_only(is_postgres: bool) -> None:
    if is_postgres:
        pytest.skip("SQLite's one writer")


@pytest.fixture
def connect(migrated: str, sqlite_only: None) -> Any:
    engine = create_engine(migrated, poolclass=NullPool)
    opened: list[Any] = []

    def _connect() -> TurnTakingConnection:
        proxy = engine.raw_connection()
        opened.append(proxy)
        return proxy.driver_connection

    yield _connect
    for proxy in opened:
        proxy.close()
    engine.dispose()


WRITE = "UPDATE alembic_version SET version_num = version_num"


def test_the_engine_s_connections_take_the_turn_for_a_write_and_give_it_back_at_the_end(connect):
    conn = connect()
    assert isinstance(conn, TurnTakingConnection) and conn.turn is not None
    conn.execute("SELECT 1").fetchall()
    assert not conn.holds_turn  # a read outside a transaction opens none
    for end in (conn.commit, conn.rollback):
        conn.execute(WRITE)
        assert conn.holds_turn and conn.in_transaction
        end()
        assert not conn.holds_turn
    conn.execute(WRITE)
    conn.close()
    assert conn.turn.depth == 0


def test_a_second_process_s_writer_waits_for_the_first_s_commit_and_then_goes_at_once(connect, migrated):
    first = connect()
    other = WriterTurn(first.turn.path)  # another open file: flock treats it as another process
    first.execute(WRITE)
    got: list[float] = []

    def wait_for_turn() -> None:
        if other.take(5):
            got.append(time.monotonic())
            other.give_back()

    waiter = threading.Thread(target=wait_for_turn)
    waiter.start()
    time.sleep(0.3)
    assert not got  # still waiting: the first holds the turn
    committed = time.monotonic()
    first.commit()
    waiter.join(5)
    assert got and got[0] - committed < 0.1  # not SQLite's sleeps: within a poll of the commit


def test_control_without_the_turn_nothing_waits(connect):
    first = connect()
    other = WriterTurn(first.turn.path)
    first.execute("SELECT 1").fetchall()  # no write, no turn taken
    assert other.take(0.01)
    other.give_back()


def test_a_turn_not_had_in_time_leaves_the_writer_to_sqlite_s_busy_timeout(connect):
    first, second = connect(), connect()
    holder = WriterTurn(first.turn.path)
    assert holder.take(1)  # another process holds the turn, but not SQLite's lock
    second.busy_timeout_ms = 200
    started = time.monotonic()
    second.execute(WRITE)  # waited 0.2 s for the turn, then wrote anyway: SQLite had no writer
    assert time.monotonic() - started >= 0.19
    assert not second.holds_turn and second.in_transaction
    second.commit()
    holder.give_back()


def test_a_thread_s_second_connection_does_not_wait_for_its_own_turn(connect):
    first, second = connect(), connect()
    first.execute(WRITE)
    second.execute("PRAGMA busy_timeout = 100")
    started = time.monotonic()
    with pytest.raises(sqlite3.OperationalError, match="locked"):  # SQLite decides, after its own timeout
        second.execute(WRITE)
    assert time.monotonic() - started < 1
    assert second.holds_turn  # re-entrant: it holds the thread's turn until its transaction ends
    second.rollback()
    first.rollback()
    assert first.turn.depth == 0


def test_in_memory_databases_have_no_turn(tmp_path: Path):
    assert turn_for(":memory:") is None and turn_for("") is None and turn_for("file:x?mode=memory") is None
    assert turn_for(str(tmp_path / "a.sqlite3")) is turn_for(str(tmp_path / "a.sqlite3"))
