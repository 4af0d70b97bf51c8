"""Reference data (the default and 24/7 calendars, the default SLA policy): seeded, never made on a GET.

The migrations seed it; `flask demo seed` and the test fixture call the same function after a
database is emptied. Pages and services only read it, and say plainly when it is missing.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event, func, select

from tests.conftest import base_config

WRITES = ("INSERT", "UPDATE", "DELETE")


def _reference_data() -> dict[str, Any]:
    """What is stored, as plain values: calendars as their pure form, policies with targets."""
    from helpdesk.calendars.models import Calendar, business_calendar
    from helpdesk.calendars.policies import SlaPolicy
    from helpdesk.extensions import db

    calendars = {row.name: business_calendar(row.id) for row in db.session.scalars(select(Calendar))}
    policies = {
        p.name: (p.calendar.name, p.warning_percent, p.is_default,
                 {t.priority: (t.first_response_minutes, t.resolution_minutes) for t in p.targets})
        for p in db.session.scalars(select(SlaPolicy))
    }
    return {"calendars": calendars, "policies": policies}


def _expected() -> dict[str, Any]:
    from helpdesk.calendars.arithmetic import always_open, default_calendar

    return {
        "calendars": {"default": default_calendar(), "24/7": always_open("24/7", "Europe/Warsaw")},
        "policies": {"Standard": ("default", 80, True, {
            "urgent": (60, 480), "high": (120, 960), "normal": (240, 1920), "low": (480, 4800),
        })},
    }


def test_the_migrations_seed_the_reference_data_once(own_database_url, tmp_path, translations):
    from flask_migrate import upgrade

    from app import create_app
    from helpdesk.calendars.seed import seed_reference_data
    from helpdesk.extensions import db
    from tests.conftest import ROOT

    app = create_app(base_config(own_database_url, tmp_path))
    with app.app_context():
        try:
            upgrade(directory=str(ROOT / "migrations"))
            assert _reference_data() == _expected()
            seed_reference_data(db.session.connection())  # again: nothing new
            db.session.commit()
            assert _reference_data() == _expected()
        finally:
            db.session.remove()
            db.engine.dispose()


def _writes_during(app: Any, call: Any) -> list[str]:
    from helpdesk.extensions import db

    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith(WRITES):
            seen.append(statement.split("\n")[0][:80])

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        call()
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    return seen


def test_the_calendar_and_policy_pages_write_nothing_on_a_get(app, web, world, login):
    login(world.admin)
    assert _writes_during(app, lambda: web.get("/admin/calendars/").status_code) == []
    assert _writes_during(app, lambda: web.get("/admin/calendars/new").status_code) == []
    login(world.manager)
    assert _writes_during(app, lambda: web.get("/manager/sla/policies/").status_code) == []
    assert _writes_during(app, lambda: web.get("/manager/sla/policies/new").status_code) == []
    # and what they show is the seeded data, unchanged
    assert _reference_data() == _expected()


def test_the_pages_show_the_seeded_calendars_and_policy(app, web, world, login):
    from tests.samples import text_of

    login(world.admin)
    listing = text_of(web.get("/admin/calendars/"))
    assert ">default<" in listing and ">24/7<" in listing
    login(world.manager)
    assert "Standard" in text_of(web.get("/manager/sla/policies/"))


def test_missing_reference_data_is_an_error_that_says_what_to_run(app, world):
    from helpdesk.calendars.models import Calendar, ReferenceDataMissing, builtin_calendars
    from helpdesk.calendars.policies import SlaPolicy, default_policy
    from helpdesk.extensions import db
    from tickets.sla.policies import SlaSourcePolicy

    db.session.execute(SlaSourcePolicy.__table__.delete())
    db.session.execute(SlaPolicy.__table__.delete())
    db.session.commit()
    with pytest.raises(ReferenceDataMissing, match="flask db upgrade"):
        default_policy()
    assert db.session.scalar(select(func.count()).select_from(SlaPolicy)) == 0  # nothing made on read
    db.session.execute(Calendar.__table__.delete())
    db.session.commit()
    with pytest.raises(ReferenceDataMissing, match="flask db upgrade"):
        builtin_calendars()
    assert db.session.scalar(select(func.count()).select_from(Calendar)) == 0
