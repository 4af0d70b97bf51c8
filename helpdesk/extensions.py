"""Unbound extension singletons, initialised by the application factory."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import Pool

from helpdesk.sqlite_writer import TurnTakingConnection

# Stable constraint names so Alembic revisions are the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
limiter = Limiter(key_func=get_remote_address)


# The embedded SQLite: how long a writer waits for another's lock before "database is locked", and
# how often a pooled connection runs PRAGMA optimize (SQLite's advice for long-lived connections).
SQLITE_BUSY_TIMEOUT_MS = 5000
SQLITE_OPTIMIZE_SECONDS = 3600.0
TurnTakingConnection.busy_timeout_ms = SQLITE_BUSY_TIMEOUT_MS


@event.listens_for(Engine, "do_connect")
def _sqlite_writer_turns(dialect: Any, conn_rec: Any, cargs: Any, cparams: dict[str, Any]) -> None:
    """SQLite connections take a writer's turn before they write (helpdesk/sqlite_writer.py): a
    second writer then waits for the first's commit in steps of a millisecond, not in SQLite's
    backoff sleeps."""
    if dialect.name == "sqlite" and dialect.driver == "pysqlite" and "factory" not in cparams:
        cparams["factory"] = TurnTakingConnection


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, record: Any) -> None:
    """Per-connection SQLite settings: foreign keys checked, WAL, a busy timeout.

    WAL lets readers and one writer work at the same time (in the default rollback journal a
    commit waits for every reader); it is a property of the file, so asking again is a no-op.
    The busy timeout makes a second writer wait for the lock instead of failing at once.
    synchronous = NORMAL (SQLite's advice with WAL): a commit does not wait for the disk, which
    is flushed at checkpoints; a power cut (not a crash of the process) may lose the last commits,
    never the database's consistency.
    """
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")  # answers "memory" for in-memory databases
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()
        record.info["sqlite_optimized_at"] = time.monotonic()


@event.listens_for(Engine, "connect")
def _postgresql_settings(dbapi_connection: Any, record: Any) -> None:
    """Per-connection PostgreSQL settings: no JIT compilation.

    The planner's cost of a query with a correlated subquery per row (the usage report's ticket
    counts, a few thousand index probes) passes jit_above_cost, and compiling it took longer (20+
    ms) than running it; the helpdesk's queries are all short, so JIT never pays off here.
    """
    if type(dbapi_connection).__module__.startswith("psycopg"):
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET jit = off")
        dbapi_connection.commit()


@event.listens_for(Pool, "checkin")
def _sqlite_optimize(dbapi_connection: Any, record: Any) -> None:
    """PRAGMA optimize when a connection returns to the pool, at most once an hour per connection.

    It re-analyses only the tables this connection's queries used whose size changed a lot since
    their last ANALYZE, so the query planner keeps choosing the indexes as tables grow.
    """
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    last = record.info.get("sqlite_optimized_at", 0.0)
    if time.monotonic() - last < SQLITE_OPTIMIZE_SECONDS:
        return
    record.info["sqlite_optimized_at"] = time.monotonic()
    try:
        dbapi_connection.execute("PRAGMA optimize")
    except sqlite3.OperationalError:  # busy past the timeout: the next hour's turn will do
        pass


def refresh_statistics(connection: Connection) -> None:
    """ANALYZE the database, so the planner knows the tables' sizes (after migrations, bulk loads).

    SQLite never gathers statistics on its own; PostgreSQL's autovacuum does, but only later.
    """
    connection.exec_driver_sql("ANALYZE")
