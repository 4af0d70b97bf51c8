"""Refusals of the onboarding services, and the field checks that collect them.

A service gathers `fields` (form field -> message) and calls `raise_if`; the views put each
message next to its field. NotFound (also what another company's ids get), Forbidden and
Conflict are the kernel's (helpdesk.errors), re-exported here.
"""

from __future__ import annotations

from typing import Any

from helpdesk.accounts import User
from helpdesk.errors import Conflict, Forbidden, Invalid, NotFound
from helpdesk.extensions import db
from helpdesk.i18n import _
from helpdesk.text import is_blank, one_line_error

__all__ = ["Conflict", "Forbidden", "NotFound", "OnboardingError", "check_text", "raise_if", "staff_user"]


class OnboardingError(Invalid):
    """Values of an onboarding form were refused. `fields` maps form fields to messages."""


def raise_if(fields: dict[str, str]) -> None:
    if fields:
        raise OnboardingError(_("Please correct the marked fields."), fields)


def check_text(
    fields: dict[str, str], name: str, value: Any, *, limit: int, required: bool = False, one_line: bool = False
) -> str:
    if value is not None and not isinstance(value, str):
        fields[name] = _("Must be text.")
        return ""
    value = (value or "").strip()
    if one_line and (problem := one_line_error(value)):
        fields[name] = problem
    elif required and is_blank(value):
        fields[name] = _("This field is required.")
    elif len(value) > limit:
        fields[name] = _("At most %(limit)s characters.", limit=limit)
    return value


def staff_user(fields: dict[str, str], name: str, user_id: Any, roles: tuple[str, ...]) -> User | None:
    try:
        found = db.session.get(User, int(user_id))
    except (TypeError, ValueError):
        found = None
    if found is None or not found.active or found.role not in roles:
        fields[name] = _("Choose an active agent.")
        return None
    return found
