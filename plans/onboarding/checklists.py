"""The checklists: start data (the gate of configuration), configuration items, tests and the
protocol's basic functions; reading them and ticking items.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from helpdesk.accounts import User
from helpdesk.extensions import db
from helpdesk.i18n import _
from plans.onboarding import rules
from plans.onboarding.access import require_edit
from plans.onboarding.errors import Conflict, NotFound, OnboardingError, check_text, raise_if
from plans.onboarding.models import ITEM_STATES, ChecklistItem, Onboarding, record


def checklist(onboarding: Onboarding, kind: str) -> list[ChecklistItem]:
    return list(
        db.session.scalars(
            select(ChecklistItem)
            .where(ChecklistItem.onboarding_id == onboarding.id, ChecklistItem.kind == kind)
            .order_by(ChecklistItem.position, ChecklistItem.id)
        )
    )


def get_item(onboarding: Onboarding, item_id: Any) -> ChecklistItem:
    """A checklist item of this onboarding (an item of another one is NotFound)."""
    try:
        item = db.session.get(ChecklistItem, int(item_id))
    except (TypeError, ValueError):
        item = None
    if item is None or item.onboarding_id != onboarding.id:
        raise NotFound(_("There is no such checklist item."))
    return item


def missing_start_data(onboarding: Onboarding) -> list[str]:
    """What the client still has to send before configuration may start, in plain words."""
    items = checklist(onboarding, "start_data")
    return [i.title for i in rules.missing_items((i, i.required, i.complete) for i in items)]


def item_titles(onboarding: Onboarding) -> dict[int, str]:
    """Every checklist item's name by id (the history refers to items by id)."""
    return {
        item.id: item.title
        for item in db.session.scalars(select(ChecklistItem).where(ChecklistItem.onboarding_id == onboarding.id))
    }


def set_item_state(
    user: User, onboarding: Onboarding, item_id: Any, state: Any, now: datetime
) -> ChecklistItem:
    """Tick, untick or mark not applicable a checklist item; commits.

    Configuration items and tests change only while configuration is in progress: that is what
    makes the start-data gate mean something. Protocol functions are ticked with the protocol.
    """
    require_edit(user, onboarding)
    item = get_item(onboarding, item_id)
    if state not in ITEM_STATES:
        raise OnboardingError(_("Unknown state."), {"state": _("Choose open, done or not applicable.")})
    if item.kind in ("configuration", "test") and onboarding.stage("configuration").state != "in_progress":
        raise Conflict(
            _("Configuration items and tests are ticked while configuration is in progress."),
            {"state": _("Start the configuration first.")},
        )
    if item.kind == "protocol":
        raise Conflict(_("Basic functions are ticked when the protocol is recorded."))
    if item.kind == "start_data" and onboarding.stage("configuration").state != "pending" and state == "open":
        raise Conflict(_("Configuration has started; its start data cannot be reopened."))
    if item.state == state:
        return item
    old, item.state = item.state, state
    item.updated_at, item.updated_by_id = now, user.id
    record(onboarding, user, "item_changed", now, item=item.id, item_kind=item.kind,
            **{"from": old, "to": state})
    db.session.commit()
    return item


def add_start_data_item(
    user: User, onboarding: Onboarding, *, label: Any, required: bool, now: datetime
) -> ChecklistItem:
    """The guardian asks the client for one more piece of start data; commits."""
    require_edit(user, onboarding)
    fields: dict[str, str] = {}
    label = check_text(fields, "label", label, limit=200, required=True, one_line=True)
    raise_if(fields)
    if required and onboarding.stage("configuration").state != "pending":
        raise Conflict(
            _("Configuration has started; new start data can only be optional."),
            {"required": _("Configuration has started; new start data can only be optional.")},
        )
    item = ChecklistItem(
        onboarding_id=onboarding.id, kind="start_data", key="custom", label=label,
        required=bool(required), state="open", position=len(checklist(onboarding, "start_data")),
        updated_at=now, updated_by_id=user.id,
    )
    db.session.add(item)
    db.session.flush()
    record(onboarding, user, "item_added", now, item=item.id, required=bool(required))
    db.session.commit()
    return item
