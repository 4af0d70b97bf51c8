"""Raw form and API values read into checked values, and the errors they raise.

Each ``parse_*`` function takes the ``fields`` dict of the form being checked: a refused value
leaves a message under its field name, and ``raise_if`` turns a non-empty dict into one
``CoverageError``. ``by_id`` finds the row an id names, or raises NotFound.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from helpdesk.calendars.policies import SlaPolicy
from helpdesk.companies import Client
from helpdesk.date_bounds import DateOutOfBounds, out_of_bounds_message, parse_day, within_bounds
from helpdesk.errors import Invalid, NotFound
from helpdesk.extensions import db
from helpdesk.i18n import _
from helpdesk.text import whole_number
from plans.models import Subscription, SupportPlan

MAX_RATE = Decimal(100_000)
CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
MAX_ID = 2**31 - 1  # ids are 32-bit integers in both databases
_Row = TypeVar("_Row", SupportPlan, Client, Subscription)  # what `by_id` finds


class CoverageError(Invalid, ValueError):
    """Values about plans or coverage were refused. ``fields`` maps form fields to messages."""


def _blank(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


def parse_int(fields: dict[str, str], name: str, raw: Any, *, low: int, high: int, required: bool) -> int | None:
    """A whole number in low..high, or None when blank and optional; else a message in fields."""
    if _blank(raw):
        if required:
            fields[name] = _("This field is required.")
        return None
    value = raw if isinstance(raw, int) and not isinstance(raw, bool) else whole_number(str(raw), signed=True)
    if value is None:
        fields[name] = _("Enter a whole number with the digits 0-9.")
        return None
    if not low <= value <= high:
        fields[name] = _("Enter a whole number from %(low)s to %(high)s.", low=low, high=high)
        return None
    return value


def parse_date(fields: dict[str, str], name: str, raw: Any, *, required: bool) -> date | None:
    if isinstance(raw, date):
        if not within_bounds(raw):
            fields[name] = out_of_bounds_message()
            return None
        return raw
    if _blank(raw):
        if required:
            fields[name] = _("This field is required.")
        return None
    try:
        return parse_day(raw)
    except DateOutOfBounds as exc:
        fields[name] = str(exc)
        return None
    except ValueError:
        fields[name] = _("Enter a date as YYYY-MM-DD.")
        return None


def parse_money(fields: dict[str, str], name: str, raw: Any) -> Decimal | None:
    """An amount from 0 to MAX_RATE with at most two decimals (comma or point), or None."""
    if _blank(raw):
        return None
    try:
        value = Decimal(str(raw).strip().replace(",", "."))
    except InvalidOperation:
        fields[name] = _("Enter an amount such as 180 or 180.50.")
        return None
    if not value.is_finite() or not 0 <= value <= MAX_RATE or value != value.quantize(Decimal("0.01")):
        fields[name] = _("Enter an amount from 0 to %(max)s with at most two decimals.", max=MAX_RATE)
        return None
    return value.quantize(Decimal("0.01"))


def parse_currency(fields: dict[str, str], name: str, raw: Any) -> str:
    value = (str(raw or "PLN")).strip().upper()
    if not CURRENCY_RE.match(value):
        fields[name] = _("Enter a three-letter currency code, e.g. PLN.")
    return value


def parse_sla_policy(fields: dict[str, str], name: str, raw: Any) -> int | None:
    """An SLA policy's id, or None when blank (the policy support plans get by default)."""
    if _blank(raw):
        return None
    text_value = str(raw).strip()
    policy = None
    if text_value.isascii() and text_value.isdigit() and len(text_value) < 10:
        policy = db.session.get(SlaPolicy, int(text_value))
    if policy is None:
        fields[name] = _("Choose an SLA policy from the list.")
        return None
    return policy.id


def raise_if(fields: dict[str, str]) -> None:
    if fields:
        raise CoverageError(_("Please correct the marked fields."), fields)


def by_id(model: type[_Row], row_id: int, missing: str) -> _Row:
    """The row of `model` with this id, or NotFound saying `missing`."""
    row = db.session.get(model, row_id)
    if row is None:
        raise NotFound(missing)
    return row
