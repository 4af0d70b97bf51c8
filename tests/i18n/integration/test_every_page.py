"""Every page, in Polish and in English, speaks the reader's language and formats.

The walk GETs every registered HTML route with real data behind it (company A's ticket with a
thread and files, a plan, a subscription, logged time, an onboarding with meetings), as a visitor,
a client admin and an admin, in both languages, and reads the visible text of every page that
answers 200. It fails on
- a message of the catalogue left in English on a Polish page,
- a raw identifier (a snake_case word such as ``configuration_change``),
- an ISO date (``2026-12-04``) or a period written as ``2026-12-04..2027-01-03``,
- an English date in US style (``12/4/26``) or any time with seconds,
- a Polish percentage written the English way (``60.0 %``).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest

from tests.i18n.integration.test_translations import CATALOGUE, PLACEHOLDER, _read, _shows, _text
from tests.security.integration.test_isolation import SESSION_ENDPOINTS, CompanyA, _url, _walk

SNAKE_CASE = re.compile(r"(?<![\w@./-])[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?![\w@/-])")
ISO_DATE = re.compile(r"(?<![\w-])\d{4}-\d{2}-\d{2}(?![\w-])")
US_DATE = re.compile(r"(?<![\w/])\d{1,2}/\d{1,2}/\d{2}(?![\w/])")
SECONDS = re.compile(r"(?<![\w:])\d{1,2}:\d{2}:\d{2}(?![\w:])")
ENGLISH_DECIMAL = re.compile(r"(?<![\w.,])\d+\.\d+ ?%")


def slips(text: str, language: str) -> list[str]:
    """The formatting slips in one page's visible text."""
    found = [f"identifier {m}" for m in SNAKE_CASE.findall(text)]
    found += [f"ISO date {m}" for m in ISO_DATE.findall(text)]
    found += [f"time with seconds {m}" for m in SECONDS.findall(text)]
    if language == "en":
        found += [f"US date {m}" for m in US_DATE.findall(text)]
    else:
        found += [f"English decimal {m}" for m in ENGLISH_DECIMAL.findall(text)]
    return found


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("Category: configuration_change", "en", ["identifier configuration_change"]),
        ("Period 2026-12-04..2027-01-03", "pl", ["ISO date 2026-12-04", "ISO date 2027-01-03"]),
        ("Filed 12/4/26, 11:24 AM", "en", ["US date 12/4/26"]),
        ("Filed 4 Dec 2026, 11:24:05", "en", ["time with seconds 11:24:05"]),
        ("Dotrzymane 60.0 %", "pl", ["English decimal 60.0 %"]),
        ("Zgłoszono 4.12.2026, 11:24 · 60,0% · 1 234,50 zł · boss@acme_corp.example", "pl", []),
        ("Filed 04/12/2026, 11:24 · 60.0%", "en", []),
    ],
)
def test_the_checks_see_each_slip(text, language, expected):
    assert slips(text, language) == expected


@pytest.fixture
def data(app, world, cov, clock) -> CompanyA:
    """Company A with a plan, a subscription, logged time and a ticket with a thread."""
    clock.on(date(2026, 11, 10))
    company_a = CompanyA(world)  # subscribes company A to a plan from today
    cov.log(company_a.ticket, 45, agent=world.agent)
    cov.file(world.acme_user, "bug", subject="Courier labels stopped printing")
    return company_a


def _without_data(html: str) -> str:
    """The page without what is not our wording: <kbd> (what the reader types, in the input's own
    format: calendar dates as ISO, macro placeholders), <textarea> (what someone typed), and
    <span lang="en"> (text recorded as it happened, such as why a message was placed: an audit
    record kept in English)."""
    html = re.sub(r"<kbd>.*?</kbd>", " ", html, flags=re.S)
    html = re.sub(r"<textarea\b[^>]*>.*?</textarea>", " ", html, flags=re.S)
    return re.sub(r'<span lang="en">.*?</span>', " ", html, flags=re.S)


def _pages(app: Any, person: Any, ids: dict[str, Any], language: str) -> dict[str, str]:
    """Every GET route that answers this person with an HTML page: url -> visible text."""
    client = app.test_client()
    if person is not None:
        from tests.conftest import PASSWORD

        assert client.post("/login", data={"email": person.email, "password": PASSWORD}).status_code == 302
    seen = {}
    for rule, method in _walk(app):
        if method != "GET" or rule.rule.startswith("/api") or rule.endpoint in SESSION_ENDPOINTS:
            continue
        url = _url(rule, ids)
        response = client.get(url, headers={"Accept-Language": language})
        if response.status_code != 200 or not response.mimetype == "text/html":
            continue
        seen[url] = _text(_without_data(response.get_data(as_text=True)))
    return seen


@pytest.mark.parametrize("language", ["en", "pl"])
def test_every_page_speaks_the_readers_language_and_formats(app, world, data, language):
    from helpdesk.extensions import db

    ids = data.ids()
    for person in (world.acme_admin, world.admin):
        person.language = None  # the browser's language decides
    db.session.commit()
    polish = _read(CATALOGUE)
    phrases = [
        m.id for m in polish
        if isinstance(m.id, str) and " " in m.id.strip() and not PLACEHOLDER.search(m.id) and m.string != m.id
    ]
    problems = {}
    walked = 0
    for person in (None, world.acme_admin, world.admin):
        for url, text in _pages(app, person, ids, language).items():
            walked += 1
            found = slips(text, language)
            if language == "pl":
                found += [f"untranslated {p!r}" for p in phrases if _shows(text, p)]
            if found:
                problems[f"{getattr(person, 'email', 'visitor')} {url}"] = found
    assert walked >= 40
    assert not problems, "\n".join(f"{page}: {', '.join(found)}" for page, found in problems.items())
