"""Polish and English, dates in the user's timezone; and what the database promises on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError, StatementError

from tests.conftest import PASSWORD, base_config
from tests.samples import text_of

# -- language ---------------------------------------------------------------------------------


def _page(response: Any) -> str:
    return " ".join(text_of(response).replace("\u202f", " ").split())


def _words(response: Any) -> str:
    """The page's text without tags, spaces normalised (babel puts a narrow space before AM/PM)."""
    return " ".join(re.sub(r"<[^>]+>", " ", text_of(response)).replace("\u202f", " ").split())


@pytest.mark.parametrize(
    ("accept", "polish"),
    [("pl", True), ("pl-PL,pl;q=0.9,en;q=0.5", True), ("en-GB,en;q=0.8", False), ("de", False), (None, False)],
)
def test_the_browsers_language_is_the_default(web, accept, polish):
    headers = {"Accept-Language": accept} if accept else {}
    page = _page(web.get("/login", headers=headers))
    if polish:
        assert '<html lang="pl">' in page
        assert "Zaloguj się do helpdesku" in page
        assert '<label for="password">Hasło</label>' in page
        assert '<label for="email">E-mail</label>' in page
        assert "Log in to the helpdesk" not in page
    else:
        assert '<html lang="en">' in page
        assert "Log in to the helpdesk" in page and '<label for="password">Password</label>' in page


@pytest.fixture
def one_string_untranslated(app_config: dict[str, Any], tmp_path: Path) -> Iterator[None]:
    """The Polish catalogue as it would be with one string not translated yet."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    from helpdesk.extensions import babel
    from tests.conftest import ROOT

    with (ROOT / "translations" / "pl" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalogue = read_po(handle, locale="pl")
    catalogue["No tickets yet."].string = ""
    target = tmp_path / "partial" / "pl" / "LC_MESSAGES"
    target.mkdir(parents=True)
    with (target / "messages.mo").open("wb") as handle:
        write_mo(handle, catalogue)
    app_config["BABEL_TRANSLATION_DIRECTORIES"] = str(tmp_path / "partial")
    # Flask-Babel keeps loaded catalogues on the process-wide extension: load this one afresh,
    # and the real one again for the tests after this.
    translations_cache = babel.domain_instance.cache
    translations_cache.clear()
    yield
    translations_cache.clear()


def test_a_string_not_yet_translated_falls_back_to_english(one_string_untranslated, web, world, login):
    login(world.acme_user)
    page = _page(web.get("/portal/", headers={"Accept-Language": "pl"}))
    assert "Moje zgłoszenia" in page and "Zgłoś nowy problem" in page
    assert "No tickets yet." in page  # no Polish text for it: English, not an empty string


def test_a_visitor_may_choose_a_language_before_logging_in(web):
    response = web.post("/language/pl", data={"next": "/login"})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert "Zaloguj się do helpdesku" in _page(web.get("/login", headers={"Accept-Language": "en"}))
    web.post("/language/xx", data={"next": "//evil.example"})
    assert web.post("/language/en", data={"next": "//evil.example"}).headers["Location"] == "/login"


@pytest.mark.parametrize(("own", "browser", "expected"), [("en", "pl", "My tickets"), ("pl", "en", "Moje zgłoszenia"), (None, "pl", "Moje zgłoszenia")])
def test_the_users_own_language_beats_the_browsers(web, world, login, own, browser, expected):
    from helpdesk.extensions import db

    world.acme_user.language = own
    db.session.commit()
    login(world.acme_user)
    page = _page(web.get("/portal/", headers={"Accept-Language": browser}))
    assert f"<h1>{expected}</h1>" in page


def test_a_user_sets_language_and_timezone_in_preferences(web, world, login):
    from helpdesk.accounts import User
    from helpdesk.extensions import db

    login(world.acme_user)
    response = web.post("/preferences", data={"name": "Anna K.", "language": "pl", "timezone": "America/New_York"})
    assert response.status_code == 302
    user = db.session.get(User, world.acme_user.id)
    assert (user.name, user.language, user.timezone) == ("Anna K.", "pl", "America/New_York")
    assert "Moje zgłoszenia" in _page(web.get("/portal/", headers={"Accept-Language": "en"}))

    response = web.post("/preferences", data={"name": "Anna", "language": "pl", "timezone": "Mars/Olympus_Mons"})
    assert response.status_code == 422
    assert "Nieznana strefa czasowa." in _page(response) and 'value="Mars/Olympus_Mons"' in _page(response)
    response = web.post("/preferences", data={"name": "Anna", "language": "tlh", "timezone": "Europe/Warsaw"})
    assert response.status_code == 422
    assert db.session.get(User, world.acme_user.id).timezone == "America/New_York"


# -- time -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("instant", "warsaw", "new_york"),
    [
        (datetime(2026, 1, 15, 12, 0, tzinfo=UTC), "15/01/2026, 13:00", "15/01/2026, 07:00"),
        (datetime(2026, 7, 1, 22, 30, tzinfo=UTC), "02/07/2026, 00:30", "01/07/2026, 18:30"),
    ],
)
def test_dates_show_in_the_users_timezone(web, world, login, make_ticket, instant, warsaw, new_york):
    from helpdesk.clock import frozen
    from helpdesk.extensions import db

    with frozen(instant):
        ticket = make_ticket(world.acme_user, "When was this?")
    world.acme_admin.timezone = "America/New_York"
    db.session.commit()

    login(world.acme_user)  # default timezone: Europe/Warsaw
    assert f"Filed: {warsaw}" in _words(web.get(f"/portal/tickets/{ticket.id}"))
    login(world.acme_admin)
    assert f"Filed: {new_york}" in _words(web.get(f"/portal/tickets/{ticket.id}"))
    login(world.agent)
    assert f"Filed: {warsaw}" in _words(web.get(f"/agent/tickets/{ticket.id}"))


def test_polish_dates_for_a_polish_user(web, world, login, make_ticket):
    from helpdesk.clock import frozen
    from helpdesk.extensions import db

    with frozen(datetime(2026, 1, 15, 12, 0, tzinfo=UTC)):
        ticket = make_ticket(world.acme_user)
    world.acme_user.language = "pl"
    db.session.commit()
    login(world.acme_user)
    assert "15.01.2026, 13:00" in _page(web.get(f"/portal/tickets/{ticket.id}"))


# -- the database -----------------------------------------------------------------------------


def test_timestamps_come_back_aware_in_utc(app, world, make_ticket, is_postgres):
    from helpdesk.clock import frozen
    from helpdesk.extensions import db
    from tickets.models import Ticket

    warsaw_evening = datetime(2026, 3, 29, 3, 30, tzinfo=ZoneInfo("Europe/Warsaw"))  # just after the DST change
    with frozen(warsaw_evening):
        ticket = make_ticket(world.acme_user)
    ticket_id = ticket.id
    db.session.expunge_all()
    stored = db.session.get(Ticket, ticket_id)
    for value in (stored.created_at, stored.updated_at):
        assert value.tzinfo is not None and value.utcoffset() == timedelta(0)
        assert value == warsaw_evening
        assert (value.year, value.month, value.day, value.hour, value.minute) == (2026, 3, 29, 1, 30)

    # an instant in any zone is kept as the same instant
    stored.resolved_at = datetime(2026, 4, 1, 8, 0, tzinfo=timezone(timedelta(hours=-5)))
    db.session.commit()
    db.session.expunge_all()
    again = db.session.get(Ticket, ticket_id)
    assert again.resolved_at == datetime(2026, 4, 1, 13, 0, tzinfo=UTC)
    assert again.resolved_at.utcoffset() == timedelta(0)

    raw = db.session.execute(text("SELECT created_at FROM tickets WHERE id = :id"), {"id": ticket_id}).scalar_one()
    if is_postgres:
        column = db.session.execute(
            text("SELECT data_type FROM information_schema.columns WHERE table_name = 'tickets' AND column_name = 'created_at'")
        ).scalar_one()
        assert column == "timestamp with time zone"
        assert raw == warsaw_evening
    else:
        assert str(raw).startswith("2026-03-29 01:30:00")  # stored as UTC wall time


def test_naive_datetimes_are_refused(app, world):
    from helpdesk.extensions import db
    from tickets.models import Ticket

    naive = datetime(2026, 1, 1, 12, 0)
    ticket = Ticket(
        client_id=world.acme.id, requester_id=world.acme_user.id, subject="s", description="d",
        category="bug", priority="normal", status="new", created_at=naive, updated_at=naive,
    )
    db.session.add(ticket)
    with pytest.raises(StatementError, match="naive datetime refused"):
        db.session.flush()
    db.session.rollback()
    with pytest.raises(StatementError, match="naive datetime refused"):
        db.session.execute(select(Ticket).where(Ticket.created_at > naive)).all()
    db.session.rollback()


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO users (email, name, password_hash, role, client_id, is_client_admin, timezone, active, created_at) "
        "VALUES ('ghost@nowhere.example', '', 'x', 'client', 999999, false, 'UTC', true, '2026-01-01 00:00:00')",
        "INSERT INTO messages (ticket_id, author_id, body, internal, via, created_at) "
        "VALUES (999999, 1, 'orphan', false, 'web', '2026-01-01 00:00:00')",
    ],
)
def test_foreign_keys_are_enforced(app, world, statement):
    from helpdesk.extensions import db

    with pytest.raises(IntegrityError):
        db.session.execute(text(statement))
        db.session.flush()
        db.session.commit()
    db.session.rollback()


def test_deleting_a_client_with_users_is_refused(app, world):
    from helpdesk.extensions import db

    with pytest.raises(IntegrityError):
        db.session.execute(text("DELETE FROM clients WHERE id = :id"), {"id": world.acme.id})
        db.session.commit()
    db.session.rollback()


def test_flask_db_check_is_clean(app):
    result = app.test_cli_runner().invoke(args=["db", "check"])
    assert result.exit_code == 0, (result.output, result.exception)
    assert result.exception is None


def test_migrations_go_down_to_base_and_up_again(own_database_url, tmp_path, translations):
    from flask_migrate import check, downgrade, upgrade

    from app import create_app
    from helpdesk.accounts import create_user
    from helpdesk.companies import create_client
    from helpdesk.extensions import db
    from tests.conftest import ROOT
    from tickets.services import Actor, file_ticket

    directory = str(ROOT / "migrations")
    other = create_app(base_config(own_database_url, tmp_path))
    with other.app_context():
        try:
            upgrade(directory=directory)
            check(directory=directory)
            tables = set(inspect(db.engine).get_table_names())
            assert {"clients", "users", "tickets", "messages", "attachments", "ticket_events", "alembic_version"} <= tables
            # with data in it, as a real installation would have
            create_client("initech", "Initech")
            user = create_user(email="p@initech.example", password=PASSWORD, role="client", client_slug="initech")
            file_ticket(Actor(user), subject="s", description="d", category="bug")
            db.session.remove()

            downgrade(directory=directory, revision="base")
            assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
            upgrade(directory=directory)
            check(directory=directory)
            assert {"clients", "users", "tickets"} <= set(inspect(db.engine).get_table_names())
            # foreign keys still hold on a connection the migrations used
            with pytest.raises(IntegrityError):
                db.session.execute(
                    text("INSERT INTO tickets (client_id, requester_id, subject, description, category, priority, status, created_at, updated_at) "
                         "VALUES (12345, 12345, 's', 'd', 'bug', 'low', 'new', '2026-01-01 00:00:00', '2026-01-01 00:00:00')")
                )
                db.session.commit()
            db.session.rollback()
        finally:
            db.session.remove()
            db.engine.dispose()
