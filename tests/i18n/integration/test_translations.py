"""Every user-visible string has a Polish translation, and the key pages speak Polish.

The catalogue is extracted afresh from the sources, with the command the catalogue is made
with, so a string added without a translation fails here rather than showing up in English.
"""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[3]
CATALOGUE = ROOT / "translations" / "pl" / "LC_MESSAGES" / "messages.po"
TEMPLATE = ROOT / "translations" / "messages.pot"
EXTRACT = ["extract", "-F", "babel.cfg", "-k", "_l", "-k", "N_", "--no-location"]
# %(name)s, %(minutes)02d, %%: what Python's % operator fills in.
PLACEHOLDER = re.compile(r"%\([^)]*\)[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]|%%")
POLISH_PLURALS = "n==1 ? 0 : n%10>=2 && n%10<=4 && (n%100<12 || n%100>14) ? 1 : 2"


def _read(path: Path) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale="pl" if path.suffix == ".po" else None)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    """What `pybabel extract` finds in today's sources (Python, templates, the API)."""
    target = tmp_path_factory.mktemp("catalogue") / "messages.pot"
    pybabel = str(Path(sys.executable).with_name("pybabel"))
    subprocess.run([pybabel, "-q", *EXTRACT, "-o", str(target), "."], cwd=ROOT, check=True)
    return _read(target)


@pytest.fixture(scope="module")
def polish() -> Catalog:
    return _read(CATALOGUE)


def _forms(message: Message) -> list[str]:
    return [message.string] if isinstance(message.string, str) else list(message.string)


def _ids(message: Message) -> list[str]:
    return [message.id] if isinstance(message.id, str) else list(message.id)


def test_the_catalogue_is_polish(polish):
    assert polish.plural_expr.replace(" ", "").strip("()") == POLISH_PLURALS.replace(" ", "")
    assert polish.num_plurals == 3


def test_every_message_has_a_polish_translation(extracted, polish):
    assert len(extracted) > 800  # the extraction did find the sources
    missing, fuzzy = [], []
    for message in extracted:
        if not message.id:
            continue
        ours = polish.get(message.id)
        if ours is None or isinstance(ours.id, str) != isinstance(message.id, str):
            missing.append(message.id)
        elif ours.fuzzy:  # pybabel compile leaves fuzzy entries out: the page would be English
            fuzzy.append(message.id)
        else:
            forms = _forms(ours)
            wanted = 1 if isinstance(ours.id, str) else polish.num_plurals  # Polish: three plural forms
            if len(forms) != wanted or not all(form.strip() for form in forms):
                missing.append(message.id)
    how = "run pybabel extract and update (see babel.cfg), then translate the empty msgstr"
    assert missing == [], how
    assert fuzzy == [], "check these translations and remove their fuzzy flag"


def test_placeholders_are_the_same_in_polish(polish):
    different = []
    for message in polish:
        if not message.id:
            continue
        ids, forms = _ids(message), [f for f in _forms(message) if f]
        if len(ids) == 1:
            expected = [sorted(PLACEHOLDER.findall(ids[0]))] * len(forms)
            found = [sorted(PLACEHOLDER.findall(form)) for form in forms]
        else:  # each plural form says what the plural msgid says (the count included)
            expected = [sorted(set(PLACEHOLDER.findall(ids[0])) | set(PLACEHOLDER.findall(ids[1])))] * len(forms)
            found = [sorted(set(PLACEHOLDER.findall(form))) for form in forms]
        if found != expected:
            different.append((message.id, message.string))
    assert different == []
    assert [(m.id, errors) for m, errors in polish.check()] == []  # Babel's own format checks


def test_the_committed_template_is_up_to_date(extracted):
    committed = {m.id if isinstance(m.id, str) else m.id[0] for m in _read(TEMPLATE) if m.id}
    found = {m.id if isinstance(m.id, str) else m.id[0] for m in extracted if m.id}
    assert sorted(found - committed) == [] and sorted(committed - found) == []


# -- pages --------------------------------------------------------------------------------------

# English msgids each page shows: none of them may be left in its Polish version.
PAGE_WORDS = {
    "login": ["Log in to the helpdesk", "Password", "Log in"],
    "new ticket": ["File a new ticket", "Subject", "Description", "Category", "Priority", "Attachments",
                   "Submit ticket", "Bug fixes are always free", "Markdown is allowed.", "My tickets", "Log out"],
    "queue": ["Ticket queue", "Open (new, open, waiting)", "Assignee", "Anyone", "Unassigned",
              "Nearest due first", "Breached only", "Filter", "Filed", "Question", "Normal", "New"],
    "usage": ["Usage in %(period)s", "Allowance", "Rollover", "Free work", "Overage", "Awaiting approval",
              "Overage value", "Tickets by category", "Tickets by coverage", "Statement", "Download CSV"],
    "users": ["Users", "Add a user", "Full name", "Role", "Client", "Active", "Client user", "Admin",
              "Manager", "client admin", "Subscriptions"],
}
# What only a Polish page says (plural forms included).
POLISH_WORDS = {
    "login": ["Zaloguj się do helpdesku", "Hasło"],
    "new ticket": ["Zgłoś nowy problem", "Temat", "Opis", "Wyślij zgłoszenie"],
    "queue": ["Kolejka zgłoszeń", "Osoba przypisana", "Najbliższy termin najpierw", "Pytanie"],
    "usage": ["Wykorzystanie — listopad 2026", "Nadwyżka", "3 zgłoszenia", "1 zgłoszenie"],
    "users": ["Użytkownicy", "Dodaj użytkownika", "Imię i nazwisko", "Konsultant", "Kierownik"],
}


def _text(html: str) -> str:
    """What a reader sees: the text between tags and the labels kept in attributes."""
    labels = re.findall(r'(?:placeholder|aria-label|title)="([^"]*)"', html)
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    text = " ".join([re.sub(r"<[^>]+>", " ", body), *labels])
    return " ".join(text.replace("&#39;", "'").replace("&amp;", "&").replace("\u202f", " ").split())


def _shows(text: str, words: str) -> bool:
    pattern = re.escape(words).replace(re.escape("%(period)s"), r"\S+")
    return re.search(rf"(?<![\w-]){pattern}(?![\w-])", text) is not None


@pytest.fixture
def pages(web, world, login, cov, clock) -> Any:
    """Each key page as its reader sees it, for a browser asking for `language`."""
    plan = cov.plan(allowance_tickets=3)
    cov.production(world.acme, date(2026, 1, 5))
    cov.subscribe(world.acme, plan, date(2026, 10, 1))
    clock.on(date(2026, 11, 10))
    cov.file(world.acme_user, "question", subject="Printer station offline")

    viewers = {"login": None, "new ticket": world.acme_user, "queue": world.agent,
               "usage": world.manager, "users": world.admin}
    paths = {"login": "/login", "new ticket": "/portal/tickets/new", "queue": "/agent/queue",
             "usage": "/manager/usage", "users": "/admin/users"}

    def _pages(language: str) -> dict[str, str]:
        seen = {}
        for name, path in paths.items():
            if viewers[name] is None:
                web.post("/logout")
            else:
                login(viewers[name])
            response = web.get(path, headers={"Accept-Language": language})
            assert response.status_code == 200, (name, response.status_code)
            seen[name] = _text(response.get_data(as_text=True))
        return seen

    return _pages


def test_key_pages_speak_polish(pages, polish):
    english, polski = pages("en"), pages("pl")
    for name, words in PAGE_WORDS.items():
        assert [w for w in words if not _shows(english[name], w)] == [], f"{name}: the list names what the page shows"
        assert [w for w in words if _shows(polski[name], w)] == [], f"{name}: English left in the Polish page"
        assert [w for w in POLISH_WORDS[name] if w not in polski[name]] == [], name
    # and no other message of the catalogue shows through in English on these pages
    phrases = [
        m.id for m in polish
        if isinstance(m.id, str) and " " in m.id.strip() and not PLACEHOLDER.search(m.id) and m.string != m.id
    ]
    left = {name: [p for p in phrases if _shows(text, p)] for name, text in polski.items()}
    assert left == {name: [] for name in polski}
