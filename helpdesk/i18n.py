"""The one translation layer: Polish and English, and dates in the user's timezone.

Every user-visible string goes through `_` (or `_l` where it is evaluated at import time).
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo, available_timezones

from flask import current_app, g, has_request_context, request, session
from flask_babel import (
    format_date,
    format_datetime,
    get_locale,
)
from flask_babel.speaklater import LazyString
from flask_login import current_user

from helpdesk.babel_cache import gettext, ngettext
from helpdesk.formats import format_locale

_ = gettext


def _l(string: str, **variables: object) -> LazyString:
    """flask_babel.lazy_gettext, translated through the request's catalogue (helpdesk.babel_cache)."""
    return LazyString(gettext, string, **variables)


__all__ = ["_", "_l", "ngettext", "format_date", "format_datetime", "get_locale"]

LANGUAGE_NAMES = {"en": "English", "pl": "Polski"}
DEFAULT_TIMEZONE = "Europe/Warsaw"


def _is_api_request() -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


def _request_user():
    """The API token's user (set by helpdesk.api, never from a cookie), else the logged-in one."""
    if "api_user" in g:
        return g.api_user
    if not has_request_context() or _is_api_request():
        return None  # the API ignores session cookies, even for the language
    return current_user if current_user and current_user.is_authenticated else None


def select_locale() -> str:
    """The locale of the reader's language (English is written as en-GB: helpdesk/formats.py)."""
    return format_locale(_select_language())


def language() -> str:
    """The reader's language code, ``pl`` or ``en`` (the locale without its territory)."""
    return get_locale().language


def _select_language() -> str:
    """The user's chosen language, else the browser's, else English (commands: English)."""
    languages = current_app.config["LANGUAGES"]
    user = _request_user()
    if user is not None and user.language in languages:
        return user.language
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    chosen = None if _is_api_request() else session.get("language")
    if chosen in languages:
        return chosen
    return request.accept_languages.best_match(languages) or current_app.config["BABEL_DEFAULT_LOCALE"]


def select_timezone() -> str:
    user = _request_user()
    if user is not None and user.timezone:
        return user.timezone
    return current_app.config["BABEL_DEFAULT_TIMEZONE"]


def valid_timezone(name: str) -> bool:
    return name in _timezones()


def _timezones() -> set[str]:
    if "timezones" not in g:
        g.timezones = available_timezones()
    return g.timezones


def local(instant: datetime, timezone: str = DEFAULT_TIMEZONE) -> datetime:
    """An instant shown on the wall clock of `timezone`."""
    return instant.astimezone(ZoneInfo(timezone))


def human_date(day: date) -> str:
    return format_date(day, "long")
