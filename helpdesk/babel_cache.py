"""The reader's translations and date patterns, looked up once per request instead of per word.

flask_babel finds the catalogue anew on every ``gettext`` (five context look-ups and the
locale's identifier built as a string) and Babel parses the locale and finds the pattern anew on
every date: a queue page of 50 rows made ~370 such calls and 100 dates, a third of its time.
Here both are kept on flask_babel's own per-request namespace, tagged with the locale (and time
zone) objects they were made for: ``force_locale`` and ``flask_babel.refresh`` replace those
objects, so a switched language or zone is never served from the old cache. The text produced
is Babel's own (the same catalogue, the same ``DateTimePattern.apply``); only the look-ups are
saved. Outside a request (commands, jobs) everything falls back to flask_babel itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import flask_babel
import flask_wtf.i18n
from babel import support
from babel.dates import get_date_format as babel_date_format
from babel.dates import get_datetime_format, get_time_format
from flask import current_app, g, request
from wtforms.i18n import messages_path


def _state() -> Any:
    """flask_babel's per-request namespace once it holds a locale, else None."""
    try:
        ctx = g._flask_babel
        ctx.babel_locale  # noqa: B018 - set by flask_babel.get_locale(); absent after refresh()
    except (AttributeError, RuntimeError):
        return None
    return ctx


def translations() -> Any:
    """The catalogue of the reader's locale (flask_babel.get_translations, kept for the request)."""
    ctx = _state()
    if ctx is not None:
        cached = getattr(ctx, "opiekun_translations", None)
        if cached is not None and cached[0] is ctx.babel_locale:
            return cached[1]
    found = flask_babel.get_translations()
    ctx = _state()
    if ctx is not None:
        ctx.opiekun_translations = (ctx.babel_locale, found)
    return found


def gettext(string: str, **variables: Any) -> str:
    """flask_babel.gettext, with the catalogue found once per request."""
    text = translations().ugettext(string)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, num: int, **variables: Any) -> str:
    """flask_babel.ngettext, with the catalogue found once per request."""
    variables.setdefault("num", num)
    return translations().ungettext(singular, plural, num) % variables


def install_jinja(app: Any) -> None:
    """The templates' ``_``/``gettext``/``ngettext`` (Jinja's i18n extension, new style, as
    flask_babel installs them) read the request's catalogue once."""
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: translations().ugettext(s),
        ngettext=lambda s, p, n: translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: translations().unpgettext(c, s, p, n),
    )


# WTForms' own messages ("Not a valid choice", "This field is required"), one catalogue per locale.
_WTFORMS_CATALOGUES: dict[str, Any] = {}


def wtforms_translations() -> Any:
    """flask_wtf's catalogue of WTForms' messages for the reader's locale, read once per process.

    flask_wtf reads the .mo file from disk on every request with a form (each field asks for it
    when it is made): a third of a millisecond on every such page. The files are WTForms' own
    and do not change while the process runs.
    """
    if not request or "babel" not in current_app.extensions:
        return None  # as flask_wtf: outside a request, or without Flask-Babel, no translation
    locale = flask_babel.get_locale()
    found = _WTFORMS_CATALOGUES.get(str(locale))
    if found is None:
        found = _WTFORMS_CATALOGUES[str(locale)] = support.Translations.load(
            messages_path(), [locale], domain="wtforms")
    return found


def install_wtforms() -> None:
    """flask_wtf's forms find WTForms' catalogue through wtforms_translations."""
    flask_wtf.i18n._get_translations = wtforms_translations


# Numeric pattern fields (``dd``, ``MM``, ``y``, ``HH``, ``mm``...) written as Babel's
# DateTimeFormat writes them: the number zero-padded to the field's length (``yy``: last two).
_NUMERIC_FIELDS = {"d": "day", "M": "month", "y": "year", "H": "hour", "m": "minute"}
_FIELD = re.compile(r"%\((\w+)\)s")


def _numeric_fields(*formats: str) -> list[tuple[str, str, int]] | None:
    """(field, datetime attribute, length) of every field, or None when one is not a number."""
    fields = []
    for name in dict.fromkeys(name for text in formats for name in _FIELD.findall(text)):
        if len(set(name)) != 1 or name[0] not in _NUMERIC_FIELDS or len(name) > (4 if name[0] == "y" else 2):
            return None
        fields.append((name, _NUMERIC_FIELDS[name[0]], len(name)))
    return fields


class _ShortDatetime:
    """``format_datetime(instant, "short")`` for one locale and zone, patterns found once.

    The short patterns of our locales (``dd/MM/y, HH:mm``, ``d.MM.y, HH:mm``) are numbers only:
    they are filled straight from the local time; any other pattern goes through Babel's
    ``DateTimePattern.apply`` as ``babel.dates.format_datetime`` does.
    """

    __slots__ = ("locale", "zone", "joined", "time_pattern", "date_pattern", "template", "fields")

    def __init__(self, locale: Any, zone: Any) -> None:
        self.locale, self.zone = locale, zone
        self.joined = str(get_datetime_format("short", locale=locale)).replace("'", "")
        self.time_pattern = get_time_format("short", locale=locale)
        self.date_pattern = babel_date_format("short", locale=locale)
        self.fields = _numeric_fields(self.time_pattern.format, self.date_pattern.format)
        self.template = None
        if self.fields is not None and "%" not in self.joined and self.joined.count("{0}") == 1 \
                and self.joined.count("{1}") == 1 and all(name != "yy" for name, _a, _l in self.fields):
            # One str.format of the local time: "%(dd)s/%(MM)s" -> "{0.day:02d}/{0.month:02d}".
            def braces(text: str) -> str:
                return text.replace("{", "{{").replace("}", "}}")

            template = braces(self.joined.replace("{0}", "\0").replace("{1}", "\1"))
            template = template.replace("\0", braces(self.time_pattern.format)).replace("\1", braces(self.date_pattern.format))
            for name, attribute, length in self.fields:
                template = template.replace(f"%({name})s", f"{{0.{attribute}:0{length}d}}")
            self.template = template.replace("%%", "%")

    def __call__(self, instant: datetime) -> str:
        # babel.dates.format_datetime step by step: a naive instant is UTC; to the reader's zone
        # (astimezone to a pytz zone goes through its fromutc, which is already normalised).
        if instant.tzinfo is None:
            instant = instant.replace(tzinfo=UTC)
        local = instant.astimezone(self.zone)
        if self.template is not None:
            return self.template.format(local)
        day = local.date()
        time_text = self.time_pattern.apply(local.timetz(), self.locale, day)
        return self.joined.replace("{0}", time_text).replace("{1}", self.date_pattern.apply(day, self.locale))


def short_datetime(instant: datetime) -> str:
    """flask_babel.format_datetime(instant, "short") with the patterns found once per request."""
    formatter = short_datetime_formatter()
    return formatter(instant)


def short_datetime_formatter() -> Callable[[datetime], str]:
    """`short_datetime` for the request's locale and zone, found once: a page of many dates
    calls it per date (tickets.queue_rows)."""
    ctx = _state()
    if ctx is None:
        return _flask_babel_short
    formatter = getattr(ctx, "opiekun_short_datetime", None)
    if formatter is None or formatter.locale is not ctx.babel_locale or formatter.zone is not getattr(ctx, "babel_tzinfo", None):
        if flask_babel.get_babel().instance.date_formats["datetime.short"] is not None:
            return _flask_babel_short  # the app chose its own pattern
        formatter = ctx.opiekun_short_datetime = _ShortDatetime(ctx.babel_locale, flask_babel.get_timezone())
    return formatter


def _flask_babel_short(instant: datetime) -> str:
    return flask_babel.format_datetime(instant, "short")
