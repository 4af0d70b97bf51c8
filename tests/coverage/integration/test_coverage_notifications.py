"""The hook for notifications: which events coverage raises, and that plans/ stays below tickets/."""

from __future__ import annotations

import ast
import logging
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from helpdesk.extensions import db
from plans.services import AllowanceLevel, allowance_thresholds_crossed

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    ("before", "after", "events"),
    [
        (AllowanceLevel(0, 600), AllowanceLevel(300, 600), []),
        (AllowanceLevel(300, 600), AllowanceLevel(480, 600), ["allowance.warning"]),
        (AllowanceLevel(480, 600), AllowanceLevel(500, 600), []),  # already past 80 %
        (AllowanceLevel(500, 600), AllowanceLevel(600, 600), ["allowance.exhausted"]),
        (AllowanceLevel(100, 600), AllowanceLevel(700, 600), ["allowance.exhausted"]),  # both at once: one event
        (AllowanceLevel(600, 600), AllowanceLevel(700, 600), []),
        (AllowanceLevel(0, None, 3, 5), AllowanceLevel(0, None, 4, 5), ["allowance.warning"]),
        (AllowanceLevel(0, None, 4, 5), AllowanceLevel(0, None, 5, 5), ["allowance.exhausted"]),
        (AllowanceLevel(0, 0), AllowanceLevel(30, 0), []),  # nothing to warn about
    ],
)
def test_allowance_thresholds(before, after, events):
    assert allowance_thresholds_crossed(before, after) == events


def test_coverage_raises_approval_and_allowance_events(cov, world, clock, caplog):
    from plans import services
    from tickets.models import TimeEntry

    caplog.set_level(logging.INFO, logger="plans.services")
    plan = cov.plan(allowance_minutes=100, overage_policy="approval", hourly_rate="")
    cov.production(world.acme, date(2026, 1, 5))
    cov.subscribe(world.acme, plan, date(2026, 10, 1))
    clock.on(date(2026, 11, 10))
    ticket = cov.file(world.acme_user)
    outcomes = []

    def charge(**kwargs):
        outcomes.append(real(**kwargs))
        return outcomes[-1]

    real = services.charge_time_entry
    services.charge_time_entry = charge
    try:
        cov.log(ticket, 45)  # 45 %
        cov.log(ticket, 45)  # 90 %
        cov.log(ticket, 30)  # 10 from the allowance, 20 waiting for approval
    finally:
        services.charge_time_entry = real
    assert [o.events for o in outcomes] == [[], ["allowance.warning"], ["approval.needed", "allowance.exhausted"]]
    assert "coverage event approval.needed" in caplog.text and "manager@vendor.example" in caplog.text
    assert "coverage event allowance.exhausted" in caplog.text and "boss@acme.example" in caplog.text
    assert db.session.scalar(select(func.count(TimeEntry.id))) == 3


def test_plans_imports_nothing_from_tickets():
    for path in sorted((ROOT / "plans").glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            assert not any(n == "tickets" or n.startswith("tickets.") for n in names), path.name
