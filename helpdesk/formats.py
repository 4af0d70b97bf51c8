"""How numbers, dates, periods, amounts, percentages and file sizes are written for the reader.

One home for every format a page, a CSV or an e-mail shows: Babel with the reader's locale (Polish,
or English as en-GB) and time zone, never seconds, never an ISO date. Templates reach them as
filters (``|when``, ``|day``, ``|percent``, ``|money(currency)``, ``|file_size``, ``|month``).

    Polish:  4.12.2026, 11:24 · 4 gru 2026 · grudzień 2026 · IV kw. 2026 · 60,0% · 1 234,50 zł
    English: 04/12/2026, 11:24 · 4 Dec 2026 · December 2026 · Q4 2026 · 60.0% · PLN 1,234.50
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from babel.dates import format_interval, format_skeleton
from flask_babel import (
    format_currency,
    format_date,
    format_decimal,
    format_percent,
    format_time,
    get_locale,
    get_timezone,
    gettext,
)

from helpdesk.babel_cache import short_datetime

# The language a user chooses -> the locale its numbers and dates are written in.
FORMAT_LOCALES = {"en": "en_GB", "pl": "pl_PL"}


def format_locale(language: str | None) -> str:
    """``en`` -> ``en_GB`` (day before month, 24-hour clock); ``pl`` -> ``pl_PL``."""
    return FORMAT_LOCALES.get(language or "en", language or "en_GB")


def when(instant: datetime | None, empty: str = "—") -> str:
    """An instant on the reader's wall clock, to the minute: ``4.12.2026, 11:24``."""
    return short_datetime(instant) if instant is not None else empty


def when_long(instant: datetime | None, empty: str = "—") -> str:
    """An instant with its weekday, for meetings: ``piątek, 4 grudnia 2026, 10:00``."""
    if instant is None:
        return empty
    return gettext("%(day)s, %(time)s", day=format_date(instant, "full"), time=format_time(instant, "short"))


def day(value: date | datetime | None, empty: str = "—") -> str:
    """A day: ``4 gru 2026`` / ``4 Dec 2026``."""
    return format_date(value, "medium") if value is not None else empty


def month(value: date) -> str:
    """A calendar month by name: ``grudzień 2026`` / ``December 2026``."""
    return format_skeleton("yMMMM", value, locale=get_locale())


def quarter(value: date) -> str:
    """A calendar quarter: ``IV kw. 2026`` / ``Q4 2026``."""
    return format_skeleton("yQQQ", value, locale=get_locale())


def days(first: date, last: date) -> str:
    """A run of days, both inclusive: ``4 gru 2026 – 3 sty 2027``."""
    if first == last:
        return day(first)
    return format_interval(first, last, "yMMMd", locale=get_locale())


def percent(share: float | Decimal | None, digits: int = 1, empty: str = "—") -> str:
    """A share of 1 as a percentage: ``0.6`` -> ``60,0%`` / ``60.0%``."""
    if share is None:
        return empty
    pattern = "#,##0" + ("." + "0" * digits if digits else "") + "%"
    return format_percent(share, pattern)


def money(amount: Any, currency: str | None = None, empty: str = "—") -> str:
    """An amount with its currency: ``1 234,50 zł``; a plain number when there is no currency."""
    if amount is None:
        return empty
    if not currency:
        return format_decimal(amount, "#,##0.00")
    return format_currency(amount, currency)


def number(value: Any, empty: str = "—") -> str:
    return format_decimal(value) if value is not None else empty


def file_size(size: int | None) -> str:
    """``37`` -> ``37 B``; ``2048`` -> ``2 kB``; never ``0 kB`` for a file that has bytes."""
    if size is None:
        return "—"
    if size < 1000:
        return gettext("%(n)s B", n=format_decimal(size))
    for unit, scale in (("kB", 1000), ("MB", 1000**2), ("GB", 1000**3)):
        value = size / scale
        if value < 1000 or unit == "GB":
            shown = format_decimal(round(value, 1 if value < 10 else 0), "#,##0.#")
            return f"{shown} {unit}"
    raise AssertionError("unreachable")


def timezone_name() -> str:
    return str(get_timezone())


FILTERS = {
    "when": when,
    "when_long": when_long,
    "day": day,
    "month": month,
    "quarter": quarter,
    "percent": percent,
    "money": money,
    "number": number,
    "file_size": file_size,
}


def init_app(app: Any) -> None:
    app.jinja_env.filters.update(FILTERS)
    app.jinja_env.globals["days"] = days
