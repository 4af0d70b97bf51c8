"""The onboarding speaks Polish: every string of its modules and templates has a translation."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from helpdesk.extensions import db
from tests.onboarding.support import at, walk_to

ROOT = Path(__file__).resolve().parents[3]
CATALOGUE = ROOT / "translations" / "pl" / "LC_MESSAGES" / "messages.po"
KEYWORDS = {"_": None, "_l": None, "gettext": None, "lazy_gettext": None}


def onboarding_msgids() -> set[str]:
    found: set[str] = set()
    sources = [
        (ROOT / "plans" / "onboarding", [("**.py", "python")]),
        (ROOT / "templates", [("onboarding/**.html", "jinja2"), ("portal/onboarding.html", "jinja2")]),
    ]
    for directory, mapping in sources:
        for _file, _line, message, _comments, _context in extract_from_dir(
            str(directory), method_map=mapping, keywords=KEYWORDS
        ):
            found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_onboarding_string_has_a_polish_translation():
    with CATALOGUE.open("rb") as fh:
        catalogue = read_po(fh)
    ids = onboarding_msgids()
    assert len(ids) > 250
    untranslated = sorted(i for i in ids if not (catalogue.get(i) and catalogue.get(i).string))
    # Words the foundation already owns ("Client", "Save", ...) are translated there, not here.
    foundation = {m.id for m in catalogue if m.id and not m.string}
    assert [i for i in untranslated if i not in foundation] == []


def test_the_portal_page_in_polish(web, world, login):
    mo = CATALOGUE.with_suffix(".mo")
    if not mo.exists():  # scripts/setup compiles it; a bare checkout may not have yet
        with CATALOGUE.open("rb") as src, mo.open("wb") as out:
            write_mo(out, read_po(src))
    world.acme_user.language = "pl"
    db.session.commit()
    with at():
        walk_to(world, "configuration")
        login(world.acme_user)
        page = web.get("/portal/onboarding/").get_data(as_text=True)
    assert "Twoje wdrożenie" in page
    assert "Konfiguracja i testy" in page and "Zakończony" in page
