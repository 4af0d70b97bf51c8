"""The embedded SQLite in WAL mode with a busy timeout, statistics after migrations and bulk loads.

A fresh database is migrated through the Alembic revisions, as `flask db upgrade` does; the lock
tests use two raw connections of the application's engine (so they get its connect settings).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from tests.conftest import ROOT, base_config

sqlite_only = pytest.mark.usefixtures("sqlite_database")


@pytest.fixture
def sqlite_database(is_postgres: bool) -> None:
    if is_postgres:
        pytest.skip("SQLite's journal, locks and statistics")


@pytest.fixture
def connect(migrated: str) -> Any:
    """connect() opens a connection through an engine (so the connect listeners run), in explicit
    transaction mode; all are closed after the test."""
    engine = create_engine(migrated, poolclass=NullPool)
    opened: list[Any] = []

    def _connect() -> sqlite3.Connection:
        proxy = engine.raw_connection()
        opened.append(proxy)
        proxy.driver_connection.isolation_level = None  # we say BEGIN and COMMIT ourselves
        return proxy.driver_connection

    yield _connect
    for proxy in opened:
        proxy.close()
    engine.dispose()


@sqlite_only
def test_a_fresh_database_is_in_wal_mode_with_a_busy_timeout_and_analysed_after_migrations(
    tmp_path: Path, translations: None
) -> None:
    from flask_migrate import upgrade

    from app import create_app
    from helpdesk.extensions import db

    app = create_app(base_config(f"sqlite:///{tmp_path / 'fresh.sqlite3'}", tmp_path))
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        try:
            assert db.session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert db.session.execute(text("PRAGMA busy_timeout")).scalar() == 5000
            assert db.session.execute(text("PRAGMA foreign_keys")).scalar() == 1
            # ANALYZE ran at the end of the upgrade (only non-empty tables get rows, here Alembic's)
            stats = db.session.execute(text("SELECT tbl FROM sqlite_stat1")).scalars().all()
            assert "alembic_version" in stats
        finally:
            db.session.remove()
            db.engine.dispose()


def test_demo_seed_leaves_the_planner_statistics_current(app: Any, is_postgres: bool) -> None:
    from helpdesk.extensions import db

    result = app.test_cli_runner().invoke(args=["demo", "seed", "--tickets", "200"])
    assert result.exit_code == 0, result.output
    db.session.rollback()
    if is_postgres:
        rows = db.session.execute(text("SELECT reltuples FROM pg_class WHERE relname = 'tickets'")).scalar()
        # vacuumed too (autovacuum may be off or late): the queue's index-only scans need the
        # visibility map, or they visit the table for every index entry
        vacuumed = db.session.execute(text("SELECT relallvisible FROM pg_class WHERE relname = 'tickets'")).scalar()
        assert vacuumed > 0
    else:  # "rows [rows per distinct value ...]" for each index of the table
        stats = db.session.execute(text("SELECT stat FROM sqlite_stat1 WHERE tbl = 'tickets'")).scalars().all()
        assert stats, "no statistics for tickets"
        rows = max(int(stat.split()[0]) for stat in stats)
    assert rows >= 200


@sqlite_only
def test_a_writer_waits_for_another_writer_instead_of_failing_at_once(connect: Any) -> None:
    first, second = connect(), connect()
    first.execute("BEGIN IMMEDIATE")
    first.execute("UPDATE alembic_version SET version_num = version_num")
    threading.Timer(0.5, first.commit).start()
    started = time.monotonic()
    second.execute("BEGIN IMMEDIATE")  # waits for the first writer's commit
    waited = time.monotonic() - started
    second.commit()
    assert 0.3 < waited < 4


@sqlite_only
def test_control_without_a_busy_timeout_the_second_writer_fails_at_once(connect: Any) -> None:
    first, second = connect(), connect()
    second.execute("PRAGMA busy_timeout = 0")
    first.execute("BEGIN IMMEDIATE")
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        second.execute("BEGIN IMMEDIATE")
    first.rollback()


@sqlite_only
def test_a_reader_in_a_transaction_does_not_hold_up_a_writer(connect: Any) -> None:
    reader, writer = connect(), connect()
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM alembic_version").fetchall()  # holds its snapshot
    started = time.monotonic()
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("UPDATE alembic_version SET version_num = version_num")
    writer.commit()  # in the rollback journal this waits for the reader (then "locked")
    assert time.monotonic() - started < 1
    reader.commit()


def _table_queried_then_returned(url: str) -> list[Any]:
    """A table never analysed, queried through its index by a pooled connection that then goes back."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE parcels (id INTEGER PRIMARY KEY, courier INTEGER)"))
        conn.execute(text("CREATE INDEX ix_parcels_courier ON parcels (courier)"))
        conn.execute(text("INSERT INTO parcels (courier) VALUES (:c)"), [{"c": i % 50} for i in range(5000)])
    engine.dispose()
    engine = create_engine(url)
    with engine.connect() as conn:
        conn.execute(text("SELECT count(*) FROM parcels WHERE courier = 3")).scalar()
    # back in the pool now
    with engine.connect() as conn:
        stats = conn.execute(text("SELECT tbl, stat FROM sqlite_stat1")).all()
    engine.dispose()
    return stats


@sqlite_only
def test_a_connection_going_back_to_the_pool_runs_pragma_optimize_when_its_turn_has_come(tmp_path, monkeypatch):
    from helpdesk import extensions

    monkeypatch.setattr(extensions, "SQLITE_OPTIMIZE_SECONDS", 0.0)
    assert _table_queried_then_returned(f"sqlite:///{tmp_path / 'optimize.sqlite3'}") == [("parcels", "5000 100")]


@sqlite_only
def test_control_within_the_hour_the_connection_is_returned_without_optimizing(tmp_path):
    from sqlalchemy.exc import OperationalError

    with pytest.raises(OperationalError, match="no such table: sqlite_stat1"):
        _table_queried_then_returned(f"sqlite:///{tmp_path / 'optimize.sqlite3'}")
