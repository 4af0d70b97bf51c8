"""Usage report, drill-down, CSV, statement and the client admin's usage page, checked against
figures computed by hand from the work logged."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest

from plans import reports
from plans.periods import Period


@pytest.fixture
def month_of_work(cov, world, clock):
    """ACME: Standard plan (600 min a month, 60 roll over, 180 PLN/h) from 1 October.
    October: ticket A uses 540 (60 roll into November). November: B uses 300, C 390 (360 from
    the allowance, 30 billed = 90 PLN), D is a bug with 50 free minutes. Globex is onboarding:
    one question with 20 free minutes."""
    plan = cov.plan(allowance_minutes=600, rollover_cap_minutes=60, hourly_rate="180")
    cov.production(world.acme, date(2026, 1, 5))
    cov.subscribe(world.acme, plan, date(2026, 10, 1))
    clock.on(date(2026, 10, 5))
    a = cov.file(world.acme_user, "question", "A")
    cov.log(a, 540)
    clock.on(date(2026, 11, 3))
    b = cov.file(world.acme_user, "question", "B")
    cov.log(b, 300)
    c = cov.file(world.acme_colleague, "configuration_change", "C")
    cov.log(c, 390)
    d = cov.file(world.acme_user, "bug", "D")
    cov.log(d, 50)
    clock.on(date(2026, 11, 4))
    g = cov.file(world.globex_user, "question", "G")
    cov.log(g, 20)
    clock.on(date(2026, 11, 10))
    return {"a": a, "b": b, "c": c, "d": d, "g": g}


def line_of(lines, slug):
    return next(line for line in lines if line.slug == slug)


def test_monthly_report_equals_the_hand_computed_sums(month_of_work):
    lines = reports.usage_report(Period.from_label("2026-11"))
    acme = line_of(lines, "acme")
    assert (acme.allowance_minutes, acme.rollover_minutes, acme.sums.used, acme.remaining_minutes) == (600, 60, 660, 0)
    assert (acme.sums.free, acme.sums.overage, acme.sums.billable, acme.sums.pending) == (50, 30, 30, 0)
    assert (acme.sums.value, acme.sums.currency, acme.sums.tickets_counted) == (Decimal("90.00"), "PLN", 2)
    assert acme.plans == ["Standard"] and [p.period.label for p in acme.periods] == ["2026-11"]
    assert acme.by_category == {"question": 1, "configuration_change": 1, "bug": 1}
    assert acme.by_source == {"bug_fix": 1, "onboarding": 0, "post_onboarding_package": 0, "support_plan": 2, "none": 0}
    globex = line_of(lines, "globex")
    assert (globex.allowance_minutes, globex.sums.used, globex.sums.free, globex.plans) == (None, 0, 20, [])
    assert globex.by_source["onboarding"] == 1
    october = line_of(reports.usage_report(Period.from_label("2026-10")), "acme")
    assert (october.allowance_minutes, october.rollover_minutes, october.sums.used) == (600, 0, 540)
    assert october.by_category["question"] == 1


def test_quarter_report_adds_up_the_months(month_of_work):
    acme = line_of(reports.usage_report(Period.from_label("2026-Q4")), "acme")
    assert [p.period.label for p in acme.periods] == ["2026-10", "2026-11", "2026-12"]
    assert (acme.allowance_minutes, acme.rollover_minutes, acme.sums.used) == (1800, 60, 1200)
    assert (acme.sums.free, acme.sums.overage, acme.sums.value) == (50, 30, Decimal("90.00"))
    assert acme.by_category == {"question": 2, "configuration_change": 1, "bug": 1}


def _csv(response):
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_report_page_drill_down_and_csv(month_of_work, world, web, login):
    login(world.manager)
    page = web.get("/manager/usage?period=2026-11").get_data(as_text=True)
    assert "ACME Logistics" in page and "Globex Trading" in page and "11 h" in page and "90" in page
    rows = {r["client"]: r for r in _csv(web.get("/manager/usage.csv?period=2026-11"))}
    assert rows["acme"]["used_minutes"] == "660" and rows["acme"]["rollover_minutes"] == "60"
    assert rows["acme"]["overage_value"] == "90.00" and rows["acme"]["source_support_plan"] == "2"
    assert rows["globex"]["free_minutes"] == "20" and rows["globex"]["allowance_minutes"] == ""
    acme = world.acme.id
    for charge, total in (("allowance", 660), ("free", 50), ("overage", 30), ("billable", 30)):
        ledger = _csv(web.get(f"/manager/usage/{acme}/entries?period=2026-11&charge={charge}&format=csv"))
        assert sum(int(r["minutes"]) for r in ledger) == total, charge
    drill = web.get(f"/manager/usage/{acme}/entries?period=2026-11&charge=billable").get_data(as_text=True)
    assert f"/agent/tickets/{month_of_work['c'].id}" in drill and "90" in drill
    tickets = web.get(f"/manager/usage/{acme}/tickets?period=2026-11&source=support_plan").get_data(as_text=True)
    assert f"OP-{month_of_work['b'].id}" in tickets and f"OP-{month_of_work['c'].id}" in tickets
    assert f"OP-{month_of_work['d'].id}" not in tickets
    assert web.get("/manager/usage?period=2026-13").status_code == 400
    assert web.get("/manager/usage?period=2026-11-15..2026-12-14").status_code == 400
    assert web.get(f"/manager/usage/{acme}/entries?period=2026-11&charge=bogus").status_code == 400
    assert web.get("/manager/usage/999999/entries?period=2026-11").status_code == 404
    empty = web.get("/manager/usage?period=2025-01")
    assert empty.status_code == 200 and "No plans, tickets or usage" in empty.get_data(as_text=True)


def test_statement_traces_every_minute_to_a_ticket(month_of_work, world, web, login):
    line, groups = reports.statement(Period.from_label("2026-11"), world.acme.id)
    work = {month_of_work[k].id: m for k, m in (("b", 300), ("c", 390), ("d", 50))}
    assert {g.ticket_id: g.minutes for g in groups} == work
    assert sum(g.minutes for g in groups) == line.sums.used + line.sums.free + line.sums.overage
    assert sum((g.value for g in groups), Decimal(0)) == line.sums.value
    login(world.manager)
    page = web.get(f"/manager/usage/{world.acme.id}/statement?period=2026-11").get_data(as_text=True)
    for ticket_id in work:
        assert f"OP-{ticket_id} in total" in page
    missing = web.get(f"/manager/usage/{world.globex.id}/statement?period=2026-09")
    assert missing.status_code == 404 and "had no support plan and no recorded work" in missing.get_data(as_text=True)


def test_client_admin_sees_this_and_past_periods(month_of_work, world, web, login):
    login(world.acme_admin)
    page = web.get("/portal/usage").get_data(as_text=True)
    assert "This period: November 2026" in page and "October 2026" in page
    detail = web.get("/portal/usage?period=2026-11").get_data(as_text=True)
    assert f"/portal/tickets/{month_of_work['c'].id}" in detail and "Billable" in detail
    assert f"/portal/tickets/{month_of_work['a'].id}" not in detail  # October's work
    before = web.get("/portal/usage?period=2026-09")
    assert before.status_code == 404 and "no support plan for the period September 2026" in before.get_data(as_text=True)
    assert web.get("/portal/usage?period=soon").status_code == 400
    login(world.acme_user)
    assert web.get("/portal/usage").status_code == 403
    login(world.globex_admin)
    own = web.get("/portal/usage")
    assert own.status_code == 200 and "no support plan yet" in own.get_data(as_text=True)
    assert "ACME" not in own.get_data(as_text=True)
    assert web.get("/portal/usage?period=2026-11").status_code == 404
