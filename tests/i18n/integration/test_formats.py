"""Numbers, dates, periods, amounts, percentages and sizes in the reader's locale (helpdesk/formats.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from flask_babel import force_locale, format_datetime

from helpdesk import formats
from helpdesk.formats import format_locale
from helpdesk.i18n import _

NOON = datetime(2026, 12, 4, 10, 24, 5, tzinfo=UTC)  # 11:24:05 in Warsaw


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("pl", {"when": "4.12.2026, 11:24", "day": "4 gru 2026", "month": "grudzień 2026", "quarter": "IV kw. 2026",
                "percent": "60,0%", "money": "1 234,50 zł", "days": "4 gru 2026–3 sty 2027"}),
        ("en", {"when": "04/12/2026, 11:24", "day": "4 Dec 2026", "month": "December 2026", "quarter": "Q4 2026",
                "percent": "60.0%", "money": "PLN1,234.50", "days": "4 Dec 2026 – 3 Jan 2027"}),
    ],
)
def test_each_format_in_each_language(app, language, expected):
    with app.test_request_context(), force_locale(format_locale(language)):
        shown = {
            "when": formats.when(NOON),
            "day": formats.day(date(2026, 12, 4)),
            "month": formats.month(date(2026, 12, 1)),
            "quarter": formats.quarter(date(2026, 10, 1)),
            "percent": formats.percent(0.6),
            "money": formats.money(Decimal("1234.50"), "PLN"),
            "days": formats.days(date(2026, 12, 4), date(2027, 1, 3)),
        }
    assert {k: plain(v) for k, v in shown.items()} == expected


def plain(text: str) -> str:
    """Babel's no-break and thin spaces as plain ones."""
    for space in ("\xa0", "\u202f", "\u2009"):
        text = text.replace(space, " ")
    return text


def test_no_seconds_and_no_us_dates_in_english(app):
    with app.test_request_context(), force_locale("en_GB"):
        assert ":05" not in formats.when(NOON)
        assert "12/4" not in formats.when(NOON)


@pytest.mark.parametrize(
    ("size", "expected"),
    [(0, "0 B"), (1, "1 B"), (37, "37 B"), (999, "999 B"), (1000, "1 kB"), (1536, "1.5 kB"), (10_500, "10 kB"),
     (5_300_000, "5.3 MB"), (50_000_000, "50 MB")],
)
def test_a_file_size_never_rounds_a_file_with_bytes_to_zero(app, size, expected):
    with app.test_request_context(), force_locale("en_GB"):
        assert formats.file_size(size) == expected


def test_file_sizes_in_polish_use_a_decimal_comma(app):
    with app.test_request_context(), force_locale("pl_PL"):
        assert formats.file_size(1536) == "1,5 kB"


@pytest.mark.parametrize(
    ("label", "polish", "english"),
    [
        ("2026-12", "grudzień 2026", "December 2026"),
        ("2026-Q4", "IV kw. 2026", "Q4 2026"),
        ("2026-12-04..2027-01-03", "4 gru 2026–3 sty 2027", "4 Dec 2026 – 3 Jan 2027"),
    ],
)
def test_plan_periods_are_named_not_written_as_keys(app, label, polish, english):
    from plans.labels import period_name

    with app.test_request_context():
        with force_locale("pl_PL"):
            assert plain(period_name(label)) == polish
        with force_locale("en_GB"):
            assert plain(period_name(label)) == english


def _instants() -> list[datetime]:
    """Every hour of 2026 (both DST switches) at odd minutes and seconds, a few naive ones too."""
    start = datetime(2025, 12, 31, 22, 59, 59, tzinfo=UTC)
    hours = [start + timedelta(hours=h, minutes=h % 60, seconds=h % 7) for h in range(0, 24 * 366, 5)]
    return hours + [datetime(1999, 1, 2, 3, 4), datetime(2030, 10, 27, 0, 30)]


@pytest.mark.parametrize("zone", ["Europe/Warsaw", "America/New_York", "Asia/Kolkata", "Pacific/Chatham", "UTC"])
@pytest.mark.parametrize("locale", ["pl_PL", "en_GB", "en_US", "de_DE", "ja_JP", "fa_IR"])
def test_when_writes_what_babel_writes(app, monkeypatch, locale, zone):
    """`|when` keeps its patterns for the request (helpdesk/babel_cache.py): Babel's own text,
    for numeric patterns (ours) and others (en_US's AM/PM, Persian digits) in any time zone."""
    monkeypatch.setitem(app.config, "BABEL_DEFAULT_TIMEZONE", zone)
    with app.test_request_context(), force_locale(locale):
        for instant in _instants():
            assert formats.when(instant) == format_datetime(instant, "short"), instant


def test_when_and_words_follow_a_locale_switched_within_the_request(app):
    with app.test_request_context():
        with force_locale("pl_PL"):
            assert (formats.when(NOON), _("Queue")) == ("4.12.2026, 11:24", "Kolejka")
        with force_locale("en_GB"):
            assert (formats.when(NOON), _("Queue")) == ("04/12/2026, 11:24", "Queue")
        with force_locale("pl_PL"):
            assert (formats.when(NOON), _("Queue")) == ("4.12.2026, 11:24", "Kolejka")
