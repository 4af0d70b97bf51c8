"""Demo data for the onboarding tracker: the demo client still in onboarding gets a live record."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from helpdesk.accounts import User
from helpdesk.clock import utcnow
from helpdesk.companies import Client
from helpdesk.extensions import db
from plans.onboarding.checklists import checklist, set_item_state
from plans.onboarding.dates import local_today
from plans.onboarding.models import Onboarding
from plans.onboarding.rules import working_day_on_or_after
from plans.onboarding.stages import change_stage_state, start_onboarding, update_stage
from plans.onboarding.success_plan import add_plan_version

DEMO_PLAN = [
    {"section": "integration", "kind": "marketplace", "name": "Allegro: main account", "timing": "at_start"},
    {"section": "integration", "kind": "marketplace", "name": "Allegro: outlet account", "timing": "at_start"},
    {"section": "integration", "kind": "shop", "name": "Shoper shop", "timing": "at_start"},
    {"section": "integration", "kind": "erp", "name": "Comarch Optima", "timing": "at_start"},
    {"section": "integration", "kind": "shop", "name": "WooCommerce shop", "timing": "later"},
    {"section": "courier", "name": "DPD", "timing": "at_start"},
    {"section": "process", "name": "Order status e-mails to buyers", "timing": "at_start"},
    {"section": "process", "name": "Invoices issued in the ERP when an order is paid", "timing": "later"},
]


def seed_demo_onboarding(client: Client, manager: User) -> bool:
    """Open the client's onboarding half-way through configuration; False if it already exists."""
    exists = db.session.scalar(select(Onboarding.id).where(Onboarding.client_id == client.id))
    if exists or client.phase != "onboarding" or client.guardian_id is None:
        return False
    guardian = db.session.get(User, client.guardian_id)
    now = utcnow()
    onboarding = start_onboarding(manager, client_id=client.id, guardian_id=guardian.id,
                                  kickoff_planned_on=None, now=now)
    add_plan_version(guardian, onboarding, entries=DEMO_PLAN, note="Agreed at the kickoff", now=now)
    change_stage_state(guardian, onboarding, "kickoff", to_state="done",
                       actual_on=local_today(now), reason="", now=now)
    # Most start data is in; two items are still missing, which the client sees in the portal.
    for item in checklist(onboarding, "start_data")[:-2]:
        set_item_state(guardian, onboarding, item.id, "done", now)
    today = local_today(now)
    configuration = working_day_on_or_after(today + timedelta(days=1))
    training = working_day_on_or_after(today + timedelta(days=8))
    update_stage(guardian, onboarding, "configuration", planned_on=configuration, owner_id=guardian.id,
                 notes="", now=now)
    update_stage(guardian, onboarding, "training", planned_on=training, owner_id=guardian.id, notes="",
                 now=now)
    return True
