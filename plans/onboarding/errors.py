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
from helpdesk.text import check_text

__all__ = ["Conflict", "Forbidden", "NotFound", "OnboardingError", "check_text", "raise_if", "staff_user"]


class OnboardingError(Invalid):
    """Values of an onboarding form were refused. `fields` maps form fields to messages."""


def raise_if(fields: dict[str, str]) -> None:
    if fields:
        raise OnboardingError(_("Please correct the marked fields."), fields)


def staff_user(fields: dict[str, str], name: str, user_id: Any, roles: tuple[str, ...]) -> User | None:
    try:
        found = db.session.get(User, int(user_id))
    except (TypeError, ValueError):
        found = None
    if found is None or not found.active or found.role not in roles:
        fields[name] = _("Choose an active agent.")
        return None
    return found
