"""Helpers for the onboarding tests: a fixed clock, a small PDF, and an onboarding walked to a stage."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

from helpdesk.clock import frozen
from helpdesk.extensions import db

# Monday 2 March 2026, 09:00 in Warsaw.
NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
TODAY = date(2026, 3, 2)
PDF = b"%PDF-1.4\n1 0 obj <</Type /Catalog>> endobj\ntrailer <</Root 1 0 R>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64

PLAN_ENTRIES = [
    {"section": "integration", "kind": "marketplace", "name": "Allegro main account", "timing": "at_start"},
    {"section": "integration", "kind": "erp", "name": "Comarch Optima", "timing": "at_start"},
    {"section": "integration", "kind": "shop", "name": "Shoper shop", "timing": "later"},
    {"section": "courier", "name": "DPD", "timing": "at_start"},
    {"section": "process", "name": "Order status e-mails", "timing": "later"},
]


@contextmanager
def at(instant: datetime = NOW):
    with frozen(instant):
        yield


def start(world: Any, client: Any = None, guardian: Any = None, now: datetime = NOW) -> Any:
    from plans.onboarding.stages import start_onboarding

    return start_onboarding(
        world.manager, client_id=(client or world.acme).id, guardian_id=(guardian or world.agent).id,
        kickoff_planned_on=None, now=now,
    )


def complete_start_data(world: Any, onboarding: Any, now: datetime = NOW) -> None:
    from plans.onboarding.checklists import checklist, set_item_state

    for item in checklist(onboarding, "start_data"):
        set_item_state(world.agent, onboarding, item.id, "done", now)


def walk_to(world: Any, stage: str, client: Any = None, now: datetime = NOW) -> Any:
    """An onboarding with every stage before `stage` done (through the services)."""
    from flask import current_app

    with current_app.test_request_context():  # services word their messages in the user's language
        return _walk_to(world, stage, client, now)


def _walk_to(world: Any, stage: str, client: Any, now: datetime) -> Any:
    from plans.onboarding import checklists, stages, success_plan

    onboarding = start(world, client, now=now)
    agent = world.agent
    if stage == "kickoff":
        return onboarding
    success_plan.add_plan_version(agent, onboarding, entries=PLAN_ENTRIES, note="kickoff", now=now)
    stages.change_stage_state(agent, onboarding, "kickoff", to_state="done", actual_on=TODAY, reason="", now=now)
    complete_start_data(world, onboarding, now)
    if stage == "configuration":
        return onboarding
    stages.change_stage_state(agent, onboarding, "configuration", to_state="in_progress", actual_on=TODAY,
                              reason="", now=now)
    for kind in ("configuration", "test"):
        for item in checklists.checklist(onboarding, kind):
            checklists.set_item_state(agent, onboarding, item.id, "done", now)
    stages.change_stage_state(agent, onboarding, "configuration", to_state="done", actual_on=TODAY, reason="",
                              now=now)
    if stage == "training":
        return onboarding
    stages.record_training(agent, onboarding, held_on=TODAY, plan_checked=True, access_handed_over=True,
                           notes="", reason="", now=now)
    return onboarding


def reload(obj: Any) -> Any:
    db.session.expire_all()
    return db.session.get(type(obj), obj.id)
