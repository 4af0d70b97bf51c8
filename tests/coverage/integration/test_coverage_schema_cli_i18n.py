"""`flask coverage explain`, the schema matching the models, and the Polish catalogue."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[3]
CATALOGUE = ROOT / "translations" / "pl" / "LC_MESSAGES" / "messages.po"


def test_explain_prints_the_decision_history_as_json(app, cov, world, clock):
    plan = cov.plan(allowance_minutes=60)
    cov.production(world.acme, date(2026, 1, 5))
    cov.subscribe(world.acme, plan, date(2026, 10, 1))
    clock.on(date(2026, 11, 10))
    ticket = cov.file(world.acme_user, "question")
    cov.log(ticket, 30)
    cov.reclassify(ticket, "bug", "It crashes")
    result = app.test_cli_runner().invoke(args=["coverage", "explain", str(ticket.id)])
    assert result.exit_code == 0, result.output
    history = json.loads(result.output)
    assert [d["trigger"] for d in history] == ["filed", "time_entry", "reclassified"]
    assert history[2]["why"] == "It crashes" and history[2]["source"] == "bug_fix"
    assert history[1]["inputs"]["usage"]["minutes_used"] == 0 and history[1]["charge"]["billed_minutes"] == 30
    assert history[0]["decision"]["reason"]["msgid"] == "Covered by your %(plan)s plan for %(period)s"
    missing = app.test_cli_runner().invoke(args=["coverage", "explain", "424242"])
    assert missing.exit_code != 0 and "no coverage decisions" in missing.output


def test_the_migrations_build_exactly_the_models(app):
    """What `flask db check` verifies, on whichever database the suite runs."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from helpdesk.extensions import db
    from tickets.search import included_in_schema

    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={
            "compare_type": True, "include_object": included_in_schema(connection.dialect.name)})
        assert compare_metadata(context, db.metadata) == []


def _catalogue() -> dict[str, str]:
    with CATALOGUE.open("rb") as handle:
        return {m.id: m.string for m in read_po(handle) if m.id}


# Strings of the foundation's catalogue (untranslated there) that coverage pages reuse.
FOUNDATION_STRINGS = {
    "At most %(limit)s characters.", "Back to the start page", "Bad request", "Bug", "Category", "Client",
    "Configuration change", "Must be text.", "Name", "Not allowed", "Not found", "Onboarding",
    "Please correct the marked fields.", "Question", "Save", "Saved.", "Set",
    "The form has expired; please try again.", "This field is required.", "no", "yes",
}


def test_every_coverage_string_has_a_polish_translation():
    """Every string of plans/, tickets/coverage.py and the coverage templates is in the Polish
    catalogue, and translated unless the foundation owns it."""
    catalogue = _catalogue()
    sources = [*sorted((ROOT / "plans").glob("*.py")), ROOT / "tickets" / "coverage.py"]
    templates = [ROOT / "templates" / "_coverage.html", ROOT / "templates" / "refused.html",
                 *sorted(p for p in (ROOT / "templates" / "manager").glob("*.html") if p.name != "home.html"),
                 ROOT / "templates" / "portal" / "usage.html"]
    keywords = {"_": None, "_l": None, "N_": None}
    untranslated = []
    for path in sources:
        for _, msgid, _, _ in extract_from_file("python", str(path), keywords=keywords):
            if msgid not in catalogue or not (catalogue[msgid] or msgid in FOUNDATION_STRINGS):
                untranslated.append((path.name, msgid))
    for path in templates:
        for _, msgid, _, _ in extract_from_file("jinja2", str(path), keywords=keywords):
            if not isinstance(msgid, str):
                continue
            if msgid not in catalogue or not (catalogue[msgid] or msgid in FOUNDATION_STRINGS):
                untranslated.append((path.name, msgid))
    assert untranslated == []


@pytest.fixture
def polish(app_config, tmp_path):
    with CATALOGUE.open("rb") as handle:
        catalogue = read_po(handle, locale="pl")
    target = tmp_path / "translations" / "pl" / "LC_MESSAGES"
    target.mkdir(parents=True)
    with (target / "messages.mo").open("wb") as handle:
        write_mo(handle, catalogue)
    app_config["BABEL_TRANSLATION_DIRECTORIES"] = str(tmp_path / "translations")


def test_clients_read_coverage_in_polish(polish, cov, world, clock, web, login):
    from helpdesk.extensions import db

    plan = cov.plan(allowance_minutes=600, overage_policy="bill", hourly_rate="180")
    cov.production(world.acme, date(2026, 1, 5))
    cov.subscribe(world.acme, plan, date(2026, 10, 1))
    clock.on(date(2026, 11, 10))
    world.acme_user.language = "pl"
    db.session.commit()
    login(world.acme_user)
    form = web.get("/portal/tickets/new").get_data(as_text=True)
    assert "Objęte planem Standard za listopad" in form and "w tym okresie zostało 10 godz." in form
    assert "Poprawki błędów są zawsze bezpłatne" in form
    ticket = cov.file(world.acme_user, "question")
    page = web.get(f"/portal/tickets/{ticket.id}").get_data(as_text=True)
    assert "Plan wsparcia" in page and "Objęte planem Standard za listopad" in page
    cov.production(world.globex, date(2026, 11, 2))
    clock.on(date(2026, 11, 10))
    world.globex_user.language = "pl"
    db.session.commit()
    login(world.globex_user)
    package = web.get("/portal/tickets/new").get_data(as_text=True)
    assert "Objęte pakietem powdrożeniowym do 1 grudnia 2026" in package
