"""Refusals of the onboarding services, and the field checks that collect them.

A service gathers `fields` (form field -> message) and calls `raise_if`; the views put each
message next to its field. NotFound is also what another company's ids get.
"""

from __future__ import annotations

from typing import Any

from helpdesk.accounts import User
from helpdesk.errors import ServiceError
from helpdesk.extensions import db
from helpdesk.i18n import _
from helpdesk.text import is_blank, one_line_error


class OnboardingError(ServiceError):
    """A request about an onboarding was refused. `fields` maps form fields to messages."""


class NotFound(OnboardingError):
    """No such onboarding (or meeting, item) for this user; also what another company's ids get."""

    status = 404


class Forbidden(OnboardingError):
    status = 403


class Conflict(OnboardingError):
    status = 409


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
