"""Fixtures shared by every test: an app on a fresh database, users of every role, Redis.

The database is chosen by TEST_DATABASE_URL: unset means a SQLite file; a PostgreSQL URL means a
new database created for this run and dropped after it. The schema is built by the Alembic
revisions, exactly as in production, and emptied between tests.

Parallel runs (pytest-xdist, `-n N`) are safe: each worker is a process with a session of its
own, so it has its own SQLite file (under its own basetemp) or its own PostgreSQL database (named
by its pid), and its own Redis database number (TEST_REDIS_URL's number plus the worker's index).
Hypothesis runs the "quick" profile unless HYPOTHESIS_PROFILE says "thorough" (scripts/test
chooses it when CI=true).
"""

from __future__ import annotations

import gc
import os
import secrets
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from flask.testing import FlaskClient
from hypothesis import settings
from jinja2 import BytecodeCache
from sqlalchemy import create_engine, event, select, text
from sqlalchemy.engine import Engine, make_url

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Fixtures that test modules used to take with `import *`, as plugins: every test sees them.
pytest_plugins = ["tests.services_fixtures", "tests.api.support", "tests.inbound.support"]

# Property tests: few examples on a developer's run, many in CI. Each run draws new examples
# (not derandomized), so quick runs add up to more ground; a failure prints how to replay it.
settings.register_profile("quick", max_examples=25, deadline=None, database=None, print_blob=True)
settings.register_profile("thorough", max_examples=300, deadline=None, database=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "quick"))

FAST_HASH = {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}
PASSWORD = "correct horse battery"


@event.listens_for(Engine, "connect")
def _sqlite_without_fsync(dbapi_connection: Any, _record: Any) -> None:
    """Tests need no durability: SQLite skips the fsync on every commit (most of a test's time)."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.execute("PRAGMA synchronous = OFF")


class CompiledTemplates(BytecodeCache):
    """Templates compiled once per run, not once per test's new app (keyed by name and source)."""

    def __init__(self) -> None:
        self.compiled: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Any) -> None:
        if bucket.key in self.compiled:
            bucket.bytecode_from_string(self.compiled[bucket.key])

    def dump_bytecode(self, bucket: Any) -> None:
        self.compiled[bucket.key] = bucket.bytecode_to_string()


COMPILED_TEMPLATES = CompiledTemplates()


def _builders_compiled_once() -> None:
    """Every test makes a new app, and Werkzeug compiles two URL builder functions for each of its
    ~160 rules (AST and `compile`): more than half of `create_app`. The builder is a function of
    the rule's text, its parsed parts, its defaults and whether it appends unknown arguments (it
    reaches the converters through the rule it is bound to), so a run compiles each one once and
    every app gets the same function. A rule with defaults in its path keys on its converters too."""
    from werkzeug.routing.rules import Rule

    compile_builder = Rule._compile_builder
    compiled: dict[Any, Any] = {}

    def cached(self: Rule, append_unknown: bool = True) -> Any:
        defaults = tuple(sorted((k, repr(v)) for k, v in (self.defaults or {}).items()))
        converters = tuple((k, type(c), repr(vars(c))) for k, c in self._converters.items()) if defaults else ()
        key = (self.rule, tuple(self._trace), defaults, converters, append_unknown)
        if key not in compiled:
            compiled[key] = compile_builder(self, append_unknown)
        return compiled[key]

    Rule._compile_builder = cached  # type: ignore[method-assign]


_builders_compiled_once()


def _postgres_database(url: str) -> Iterator[str]:
    """Create a database of our own next to the one in `url`, yield its URL, drop it."""
    from helpdesk.config import normalise_database_url

    base = make_url(normalise_database_url(url))
    name = f"opiekun_test_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
        # Tests need no durability (as SQLite's synchronous = OFF below): a commit does not wait for
        # the WAL to reach the disk. For this database only; the server's settings are untouched.
        conn.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                {"n": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("TEST_DATABASE_URL")
    if url and url.startswith(("postgres://", "postgresql")):
        yield from _postgres_database(url)
    else:
        path = tmp_path_factory.mktemp("db") / "test.sqlite3"
        yield f"sqlite:///{path}"


@pytest.fixture(scope="session")
def is_postgres(database_url: str) -> bool:
    return database_url.startswith("postgresql")


@pytest.fixture
def own_database_url(is_postgres: bool, tmp_path: Path) -> Iterator[str]:
    """An empty database of this test's own (no schema yet), for tests that run the migrations
    themselves: down to base, up to one revision, or from nothing. Dropped afterwards."""
    if is_postgres:
        made = _postgres_database(os.environ["TEST_DATABASE_URL"])
        try:
            yield next(made)
        finally:
            made.close()
    else:
        yield f"sqlite:///{tmp_path / 'own.sqlite3'}"


def base_config(database_url: str, tmp_path: Path) -> dict[str, Any]:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "WTF_CSRF_ENABLED": False,
        "PASSWORD_HASH": FAST_HASH,
        "UPLOAD_FOLDER": str(tmp_path / "uploads"),
        "MAIL_OUTBOX_DIR": str(tmp_path / "outbox"),
        "MAIL_IN_MAILDIR": str(tmp_path / "inbox"),
        "LOGIN_LIMIT_PER_ADDRESS": "1000 per minute",
        "LOGIN_LIMIT_PER_ACCOUNT": "1000 per minute",
        "API_AUTH_FAILURE_LIMIT": "1000 per minute",
        "REDIS_URL": None,
        "SMTP_URL": None,
    }


@pytest.fixture(scope="session")
def migrated(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Build the schema once per run through the Alembic revisions."""
    from flask_migrate import upgrade

    from app import create_app

    app = create_app(base_config(database_url, tmp_path_factory.mktemp("migrate")))
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        from helpdesk.extensions import db

        db.engine.dispose()
    return database_url


# The rows seed_reference_data stores (the migrations do too): kept between tests unless one changed them.
REFERENCE_TABLES = frozenset(
    {"business_calendars", "business_calendar_hours", "business_calendar_dates", "sla_policies", "sla_targets"}
)
_reference_as_seeded: dict[str, Any] = {}  # database URL -> the reference rows as last stored


def _reference_rows(connection: Any, tables: list[Any]) -> tuple[Any, ...]:
    return tuple(tuple(map(tuple, connection.execute(select(t).order_by(*t.columns)))) for t in tables)


def _non_empty(connection: Any, tables: list[Any]) -> set[str]:
    """The tables with at least one row, asked in ONE statement (an EXISTS per table)."""
    probes = " UNION ALL ".join(f"SELECT '{t.name}' WHERE EXISTS (SELECT 1 FROM {t.name})" for t in tables)
    return set(connection.execute(text(probes)).scalars())


def _empty_tables() -> None:
    """Empty every table, then store the reference data again, as the migrations left it.

    Only the tables that have rows are emptied (one statement finds them: most tests write a few
    tables, and a DELETE per table, many of them with triggers, cost more than the test itself);
    the reference data is stored again only when it differs from what was last stored. DELETE,
    children first, on both databases: on the few rows a test makes it is several times faster
    than PostgreSQL's TRUNCATE, which rewrites every table. Ids are not reset. The search runs
    again after deleting, since triggers of one table may write another (summaries)."""
    from helpdesk.calendars.seed import seed_reference_data
    from helpdesk.extensions import db

    tables = db.metadata.sorted_tables
    reference = [t for t in tables if t.name in REFERENCE_TABLES]
    others = [t for t in tables if t.name not in REFERENCE_TABLES]
    connection = db.session.connection()
    key = db.engine.url.render_as_string(hide_password=False)
    reseed = _reference_as_seeded.get(key) != _reference_rows(connection, reference)
    full = _non_empty(connection, others) | ({t.name for t in reference} if reseed else set())
    for _ in range(10):
        if not full:
            break
        for table in reversed(tables):
            if table.name in full:
                connection.execute(text(f"DELETE FROM {table.name}"))
        full = _non_empty(connection, others)
    else:
        raise AssertionError(f"tables still not empty after deleting: {sorted(full)}")
    if reseed:
        seed_reference_data(connection)
        _reference_as_seeded[key] = _reference_rows(connection, reference)
    db.session.commit()


@pytest.fixture(scope="session")
def translations() -> None:
    """The app reads the committed .mo files, as every install does (nothing compiles them here:
    parallel workers would rewrite them under each other); tests/i18n/unit/test_compiled_translations.py
    fails when one says something else than its .po."""
    for po in (ROOT / "translations").glob("*/LC_MESSAGES/*.po"):
        if not po.with_suffix(".mo").exists():
            pytest.fail(f"{po.with_suffix('.mo')} is missing: run `.venv/bin/pybabel compile -d translations`")


class RequestClient(FlaskClient):
    """A test client whose every request runs in its own app context, as in production.

    The `app` fixture keeps an app context open for the test's own database work; without this,
    requests would share its `g` (Flask-Login's current user, the CSRF token, the session) with
    each other and with other clients, and prove nothing about who sees what.
    """

    def open(self, *args: Any, **kwargs: Any) -> Any:
        from helpdesk.extensions import db

        kwargs.setdefault("buffered", True)  # read and close the body, as a WSGI server does
        with self.application.app_context():
            response = super().open(*args, **kwargs)
        db.session.expire_all()  # the test's own objects show what the request changed
        return response


@pytest.fixture
def app_config(migrated: str, tmp_path: Path) -> dict[str, Any]:
    """Tests may change this dict before asking for `app`."""
    return base_config(migrated, tmp_path)


@pytest.fixture
def app(app_config: dict[str, Any], translations: None) -> Iterator[Any]:
    from app import create_app
    from helpdesk.extensions import db

    application = create_app(app_config)
    application.test_client_class = RequestClient
    application.jinja_env.bytecode_cache = COMPILED_TEMPLATES
    with application.app_context():
        _empty_tables()
        try:
            yield application
        finally:
            views = application.extensions.get("knowledge.article_views")
            if views is not None:  # reads kept in memory (knowledge.services.ArticleViews): written now
                views.flush()
            db.session.remove()
            _empty_tables()
            db.engine.dispose()


@pytest.fixture
def web(app: Any) -> Any:
    return app.test_client()


class World:
    """Two client companies with users of every kind, and staff of every role."""

    def __init__(self) -> None:
        from helpdesk.accounts import create_user
        from helpdesk.companies import create_client
        from helpdesk.extensions import db

        self.acme = create_client("acme", "ACME Logistics")
        self.globex = create_client("globex", "Globex Trading")
        # The users in one transaction (a commit each cost a round trip or more on PostgreSQL, every test)
        make = lambda email, role, **kw: create_user(email=email, password=PASSWORD, role=role, commit=False, **kw)  # noqa: E731
        self.acme_user = make("anna@acme.example", "client", client_slug="acme", name="Anna")
        self.acme_colleague = make("bob@acme.example", "client", client_slug="acme", name="Bob")
        self.acme_admin = make("boss@acme.example", "client", client_slug="acme", client_admin=True)
        self.globex_user = make("gina@globex.example", "client", client_slug="globex")
        self.globex_admin = make("gadmin@globex.example", "client", client_slug="globex", client_admin=True)
        self.agent = make("agent@vendor.example", "agent", name="Agnes Agent")
        self.agent2 = make("agent2@vendor.example", "agent", name="Artur Agent")
        self.manager = make("manager@vendor.example", "manager")
        self.admin = make("admin@vendor.example", "admin")
        db.session.commit()


@pytest.fixture
def world(app: Any) -> World:
    return World()


@pytest.fixture
def login(web: Any) -> Any:
    """login(user) logs the test client in as that user (logging out whoever was in)."""

    def _login(user: Any, client: Any = None) -> Any:
        client = client or web
        client.post("/logout")
        response = client.post("/login", data={"email": user.email, "password": PASSWORD})
        assert response.status_code == 302, response.data[:500]
        return client

    return _login


def pytest_collection_finish(session: pytest.Session) -> None:
    """The garbage collector, tuned for a run that builds an app per test: what is loaded by now
    (modules, the collected tests) is frozen out of its scans, and it runs less often. A full
    collection walked every object on each pass, 40-70 ms per test in a measured run."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)


# Modules whose tests mostly wait on real time (a worker's timer, retries, sweeps): collected first,
# so that under xdist they overlap the other tests instead of trailing after them.
WAITING_MODULES = {"test_sla_worker.py", "test_notifications_workers.py"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.path.name not in WAITING_MODULES)  # stable: else as collected


def xdist_worker_index() -> int:
    """0 in a plain run; N in pytest-xdist's worker gwN."""
    return int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))


def redis_url_of_worker(url: str, index: int) -> str:
    """TEST_REDIS_URL with its database number moved up by the xdist worker's index."""
    parts = urlsplit(url)
    number = int(parts.path.strip("/") or 0) + index
    return urlunsplit(parts._replace(path=f"/{number}"))


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The shared Redis, on a database number of this worker's own, flushed before and after."""
    import redis

    url = redis_url_of_worker(os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/13"), xdist_worker_index())
    conn = redis.Redis.from_url(url)
    try:
        conn.flushdb()
    except redis.ResponseError as error:  # "DB index is out of range"
        pytest.fail(f"{url}: {error}; lower TEST_REDIS_URL's database number or run fewer xdist workers")
    try:
        yield url
    finally:
        conn.flushdb()
        conn.close()


# -- an ERROR logged by the application fails the test (tests/log_guard.py) -------------------


@pytest.fixture(autouse=True)
def _error_log_guard() -> Iterator[Any]:
    from tests.log_guard import ErrorLogGuard

    guard = ErrorLogGuard().install()
    try:
        yield guard
    finally:
        guard.uninstall()
    guard.check()


@pytest.fixture
def expect_errors(_error_log_guard: Any) -> Any:
    """expect_errors("text in the message", reason="why this test provokes it")."""
    return _error_log_guard.expect
