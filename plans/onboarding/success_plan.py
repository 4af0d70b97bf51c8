"""The Success Plan: versions that only ever add entries, read as they stood in any version.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from helpdesk.accounts import User
from helpdesk.extensions import db
from helpdesk.i18n import _
from plans.onboarding.access import lock, require_edit
from plans.onboarding.checklists import checklist
from plans.onboarding.errors import check_text, raise_if
from plans.onboarding.models import (
    INTEGRATION_KINDS,
    PLAN_SECTIONS,
    TIMINGS,
    ChecklistItem,
    Onboarding,
    SuccessPlanItem,
    SuccessPlanVersion,
    record,
)


def plan_versions(onboarding: Onboarding) -> list[SuccessPlanVersion]:
    return list(
        db.session.scalars(
            select(SuccessPlanVersion)
            .where(SuccessPlanVersion.onboarding_id == onboarding.id)
            .order_by(SuccessPlanVersion.version)
        )
    )


def latest_plan_version(onboarding: Onboarding) -> int:
    return db.session.scalar(
        select(func.coalesce(func.max(SuccessPlanVersion.version), 0)).where(
            SuccessPlanVersion.onboarding_id == onboarding.id
        )
    )


def plan_items(onboarding: Onboarding, version: int | None = None) -> list[SuccessPlanItem]:
    """The Success Plan as it stood in `version` (default: the latest)."""
    query = select(SuccessPlanItem).where(SuccessPlanItem.onboarding_id == onboarding.id)
    if version is not None:
        query = query.where(SuccessPlanItem.version <= version)
    return list(
        db.session.scalars(
            query.order_by(SuccessPlanItem.section, SuccessPlanItem.timing, SuccessPlanItem.id)
        )
    )


def add_plan_version(
    user: User, onboarding: Onboarding, *, entries: list[dict[str, Any]], note: Any, now: datetime
) -> SuccessPlanVersion:
    """Add entries to the Success Plan as a new version; earlier versions are never rewritten.

    Once the kickoff is done, what was agreed at start is closed: new entries are "later" ones.
    An integration agreed at start adds its access data to the start-data checklist.
    """
    require_edit(user, onboarding)
    lock(onboarding)
    fields: dict[str, str] = {}
    note = check_text(fields, "note", note, limit=500)
    kickoff_done = onboarding.stage("kickoff").state == "done"
    clean: list[dict[str, Any]] = []
    for index, entry in enumerate(entries):
        prefix = f"entries-{index}-"
        name = check_text(fields, prefix + "name", entry.get("name"), limit=200, one_line=True)
        if not name:
            continue  # a blank row of the form
        section, kind, timing = entry.get("section"), entry.get("kind") or None, entry.get("timing")
        if section not in PLAN_SECTIONS:
            fields[prefix + "section"] = _("Choose an integration, an automated process or a courier service.")
        if section == "integration" and kind not in INTEGRATION_KINDS:
            fields[prefix + "kind"] = _("Choose what kind of integration this is.")
        if section != "integration":
            kind = None
        if timing not in TIMINGS:
            fields[prefix + "timing"] = _("Choose at start or later.")
        elif kickoff_done and timing == "at_start":
            fields[prefix + "timing"] = _(
                "The scope agreed at start is closed since the kickoff; add this as a later entry."
            )
        notes = check_text(fields, prefix + "notes", entry.get("notes"), limit=500)
        clean.append({"section": section, "kind": kind, "name": name, "timing": timing, "notes": notes})
    if not clean and not fields:
        fields["entries-0-name"] = _("Add at least one entry.")
    raise_if(fields)
    number = latest_plan_version(onboarding) + 1
    version = SuccessPlanVersion(
        onboarding_id=onboarding.id, version=number, note=note, created_at=now, created_by_id=user.id
    )
    db.session.add(version)
    position = len(checklist(onboarding, "start_data"))
    for values in clean:
        item = SuccessPlanItem(onboarding_id=onboarding.id, version=number, **values)
        db.session.add(item)
        if values["section"] == "integration" and values["timing"] == "at_start":
            db.session.flush()
            db.session.add(
                ChecklistItem(onboarding_id=onboarding.id, kind="start_data", key="integration_access",
                              required=True, state="open", position=position, plan_item_id=item.id)
            )
            position += 1
    record(onboarding, user, "plan_version", now, version=number, entries=len(clean))
    db.session.commit()
    return version
