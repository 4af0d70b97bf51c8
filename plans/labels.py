"""Coverage words in the reader's language: minutes, dates and decision reasons.

What coverage sources, charges, approvals and plan terms are called lives with their
vocabularies in plans/vocabulary.py (shown through the ``label`` template filter)."""

from __future__ import annotations

from typing import Any

from flask_babel import format_decimal

from helpdesk import formats
from helpdesk.i18n import _, format_date
from plans.coverage import Reason
from plans.periods import Period


def format_minutes(minutes: int | None) -> str:
    """``450`` -> "7 h 30 min", ``60`` -> "1 h", ``20`` -> "20 min"; "—" for None."""
    if minutes is None:
        return "—"
    sign = "-" if minutes < 0 else ""
    hours, rest = divmod(abs(minutes), 60)
    if hours and rest:
        text = _("%(hours)s h %(minutes)s min", hours=hours, minutes=rest)
    elif hours:
        text = _("%(hours)s h", hours=hours)
    else:
        text = _("%(minutes)s min", minutes=rest)
    return sign + text


def long_date(day) -> str:
    return format_date(day, "long")


def render_reason(reason: Any) -> str:
    """A decision's reason in the reader's language: from a ``Reason``, a stored
    ``CoverageDecision`` (msgid and params) or a ``{"msgid", "params"}`` dict."""
    if isinstance(reason, dict):
        reason = Reason.from_dict(reason)
    elif not isinstance(reason, Reason):
        reason = Reason.from_dict({"msgid": reason.reason_msgid, "params": reason.reason_params})
    return reason.render(gettext=_, format_date=long_date, format_decimal=format_decimal)


def period_name(period: Period | str | None) -> str:
    """A plan period for the reader: "grudzień 2026", "IV kw. 2026" or "4 gru 2026 – 3 sty 2027".

    Takes a ``Period`` or its label (the key stored in the ledger and used in URLs)."""
    if period is None or period == "":
        return "—"
    if isinstance(period, str):
        try:
            period = Period.from_label(period)
        except ValueError:
            return period
    if period.is_calendar_month:
        return formats.month(period.start)
    if period.is_calendar_quarter:
        return formats.quarter(period.start)
    return formats.days(period.start, period.last_day)


def template_globals() -> dict:
    return {
        "format_minutes": format_minutes,
        "format_decimal": format_decimal,
    }
