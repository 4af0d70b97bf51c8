"""Plans, subscriptions and usage over the API: the managers' services and the web report's figures."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest

from tests.api.support import error_of

TODAY = date(2026, 11, 10)
GOLD = {
    "name": "Gold",
    "period": "quarter",
    "covered_categories": ["configuration_change", "question"],
    "allowance_minutes": 1200,
    "allowance_tickets": 20,
    "billing_increment": 30,
    "rollover_cap_minutes": 120,
    "overage_policy": "bill",
    "hourly_rate": "180.5",
    "currency": "EUR",
}


@pytest.fixture
def today(clock):
    return clock.on(TODAY)


def test_a_manager_creates_and_lists_plans(app, world, api, tokens, today):
    response = api.post("/api/v1/plans", tokens.manager, json=GOLD)
    assert response.status_code == 201
    gold = response.get_json()
    assert gold | {"id": 0, "created_at": ""} == {
        "id": 0, "name": "Gold", "period": "quarter", "active": True, "terms_from": "2026-11-10",
        "covered_categories": ["question", "configuration_change"], "allowance_minutes": 1200,
        "allowance_tickets": 20, "billing_increment": 30, "rollover_cap_minutes": 120, "overage_policy": "bill",
        "hourly_rate": "180.50", "currency": "EUR", "created_at": "",
    }
    # Only what is required: no allowances, the documented defaults.
    basic = api.post("/api/v1/plans", tokens.admin, json={
        "name": "Basic", "period": "month", "covered_categories": ["question"], "overage_policy": "reject",
    }).get_json()
    assert (basic["allowance_minutes"], basic["allowance_tickets"], basic["billing_increment"],
            basic["rollover_cap_minutes"], basic["hourly_rate"], basic["currency"]) == (None, None, 15, 0, None, "PLN")
    whole = api.post("/api/v1/plans", tokens.manager, json={**GOLD, "name": "Whole", "hourly_rate": 200}).get_json()
    assert whole["hourly_rate"] == "200.00"
    items = api.get("/api/v1/plans", tokens.manager).get_json()["items"]
    assert [p["name"] for p in items] == ["Basic", "Gold", "Whole"]
    assert items[1] == gold


@pytest.mark.parametrize(
    "change, field",
    [
        ({"overage_policy": "bill", "hourly_rate": None}, "hourly_rate"),
        ({"rollover_cap_minutes": 1201}, "rollover_cap_minutes"),
        ({"allowance_minutes": None}, "rollover_cap_minutes"),  # a cap needs an allowance
        ({"name": "gold"}, "name"),  # taken, whatever the case
        ({"name": "   "}, "name"),
        ({"covered_categories": []}, "covered_categories"),
        ({"covered_categories": ["question", "question"]}, "covered_categories"),
        ({"covered_categories": ["feature"]}, "covered_categories"),
        ({"covered_categories": "question"}, "covered_categories"),
        ({"billing_increment": 20}, "billing_increment"),
        ({"hourly_rate": "1.234"}, "hourly_rate"),
        ({"hourly_rate": 180.5}, "hourly_rate"),  # decimals travel as text
        ({"hourly_rate": -1}, "hourly_rate"),
        ({"currency": "eur"}, "currency"),
        ({"period": "year"}, "period"),
        ({"allowance_minutes": 100_001}, "allowance_minutes"),
        ({"colour": "gold"}, "colour"),
    ],
)
def test_bad_plans_are_refused_field_by_field(app, world, api, tokens, today, change, field):
    assert api.post("/api/v1/plans", tokens.manager, json=GOLD).status_code == 201
    response = api.post("/api/v1/plans", tokens.manager, json={**GOLD, "name": "Other", **change})
    assert response.status_code == 422, response.get_json()
    assert field in error_of(response)["fields"]


@pytest.mark.parametrize("who", ["acme_user", "acme_admin", "agent"])
def test_only_managers_keep_plans_and_subscriptions(app, world, api, tokens, today, who):
    token = getattr(tokens, who)
    assert api.get("/api/v1/plans", token).status_code == 403
    assert api.post("/api/v1/plans", token, json=GOLD).status_code == 403
    body = {"plan_id": 1, "starts_on": "2026-11-10"}
    for slug in ("acme", "globex", "nope"):
        assert api.get(f"/api/v1/clients/{slug}/subscriptions", token).status_code == 403
        assert api.post(f"/api/v1/clients/{slug}/subscriptions", token, json=body).status_code == 403


def test_a_manager_subscribes_a_client_and_overlaps_are_refused(app, world, api, tokens, today):
    gold = api.post("/api/v1/plans", tokens.manager, json=GOLD).get_json()
    url = "/api/v1/clients/acme/subscriptions"
    response = api.post(url, tokens.manager, json={"plan_id": gold["id"], "starts_on": "2026-12-01",
                                                   "ends_on": "2027-02-28"})
    assert response.status_code == 201
    first = response.get_json()
    assert first | {"id": 0, "created_at": ""} == {
        "id": 0, "client": "acme", "plan_id": gold["id"], "plan": "Gold", "starts_on": "2026-12-01",
        "ends_on": "2027-02-28", "created_at": "",
    }
    response = api.post(url, tokens.manager, json={"plan_id": gold["id"], "starts_on": "2027-02-01"})
    assert response.status_code == 409 and error_of(response)["code"] == "conflict"
    assert "Gold" in error_of(response)["message"] and "starts_on" in error_of(response)["fields"]
    later = api.post(url, tokens.manager, json={"plan_id": gold["id"], "starts_on": "2027-03-01", "ends_on": None})
    assert later.status_code == 201 and later.get_json()["ends_on"] is None
    assert api.get(url, tokens.manager).get_json()["items"] == [first, later.get_json()]
    assert api.get("/api/v1/clients/globex/subscriptions", tokens.manager).get_json() == {"items": []}


GOLD_ID = object()  # stands for the id of the plan the test creates


@pytest.mark.parametrize(
    "body, field",
    [
        ({"plan_id": 999_999, "starts_on": "2026-12-01"}, "plan_id"),
        ({"starts_on": "2026-12-01"}, "plan_id"),
        ({"plan_id": "1", "starts_on": "2026-12-01"}, "plan_id"),
        ({"plan_id": GOLD_ID, "starts_on": "2026-11-09"}, "starts_on"),  # the past is never rewritten
        ({"plan_id": GOLD_ID, "starts_on": "2026-12-01", "ends_on": "2026-11-30"}, "ends_on"),
        ({"plan_id": GOLD_ID, "starts_on": "1.12.2026"}, "starts_on"),
        ({"plan_id": GOLD_ID}, "starts_on"),
        ({"plan_id": GOLD_ID, "starts_on": "2026-12-01", "client": "globex"}, "client"),
    ],
)
def test_bad_subscriptions_are_refused_field_by_field(app, world, api, tokens, today, body, field):
    gold = api.post("/api/v1/plans", tokens.manager, json=GOLD).get_json()
    body = {name: gold["id"] if value is GOLD_ID else value for name, value in body.items()}
    response = api.post("/api/v1/clients/acme/subscriptions", tokens.manager, json=body)
    assert response.status_code == 422, response.get_json()
    assert field in error_of(response)["fields"]


def test_a_plan_off_sale_takes_no_new_subscriptions_and_unknown_clients_are_404(app, world, api, tokens, today):
    from plans.services import update_plan

    gold = api.post("/api/v1/plans", tokens.manager, json=GOLD).get_json()
    update_plan(gold["id"], name="Gold", active=False)
    response = api.post("/api/v1/clients/acme/subscriptions", tokens.manager,
                        json={"plan_id": gold["id"], "starts_on": "2026-12-01"})
    assert response.status_code == 422 and "plan_id" in error_of(response)["fields"]
    assert api.get("/api/v1/plans", tokens.manager).get_json()["items"][0]["active"] is False
    body = {"plan_id": gold["id"], "starts_on": "2026-12-01"}
    assert api.post("/api/v1/clients/nope/subscriptions", tokens.manager, json=body).status_code == 404
    assert api.get("/api/v1/clients/nope/subscriptions", tokens.manager).status_code == 404
    assert api.get("/api/v1/clients/NOPE/usage", tokens.manager).status_code == 404


# -- usage ---------------------------------------------------------------------------------------


@pytest.fixture
def month_of_work(cov, world, clock):
    """ACME: Standard plan (600 min a month, 60 roll over, 180 PLN/h) from 1 October. October: A
    uses 540 (60 roll into November). November: B uses 300, C 390 (360 from the allowance, 30
    billed = 90 PLN), D is a bug with 50 free minutes, all logged through the API."""
    plan = cov.plan(allowance_minutes=600, rollover_cap_minutes=60, hourly_rate="180")
    cov.production(world.acme, date(2026, 1, 5))
    cov.subscribe(world.acme, plan, date(2026, 10, 1))
    clock.on(date(2026, 10, 5))
    a = cov.file(world.acme_user, "question", "A")
    cov.log(a, 540)
    clock.on(date(2026, 11, 3))
    b = cov.file(world.acme_user, "question", "B")
    c = cov.file(world.acme_colleague, "configuration_change", "C")
    d = cov.file(world.acme_user, "bug", "D")
    g = cov.file(world.globex_user, "question", "G")
    return {"b": b, "c": c, "d": d, "g": g}


def _web_csv(web, login, world, period):
    login(world.manager)
    response = web.get(f"/manager/usage.csv?period={period}")
    assert response.status_code == 200
    return {row["client"]: row for row in csv.DictReader(io.StringIO(response.get_data(as_text=True)))}


def _as_csv_row(usage):
    """The API's figures in the columns of the manager's CSV report."""
    minutes, tickets = usage["minutes"], usage["tickets"]
    text = lambda value: "" if value is None else str(value)  # noqa: E731
    return {
        "client": usage["client"],
        "plans": "; ".join(usage["plans"]),
        "periods": "; ".join(p["label"] for p in usage["plan_periods"]),
        "allowance_minutes": text(minutes["allowance"]),
        "rollover_minutes": text(minutes["rollover"]),
        "used_minutes": str(minutes["used"]),
        "remaining_minutes": text(minutes["remaining"]),
        "allowance_tickets": text(tickets["allowance"]),
        "tickets_counted": str(tickets["counted"]),
        "free_minutes": str(minutes["free"]),
        "overage_minutes": str(minutes["overage"]),
        "billable_minutes": str(minutes["billable"]),
        "pending_minutes": str(minutes["pending"]),
        "goodwill_minutes": str(minutes["goodwill"]),
        "unbilled_minutes": str(minutes["unbilled"]),
        "overage_value": usage["overage_value"]["amount"],
        "currency": usage["overage_value"]["currency"] or "",
        **{f"tickets_{c}": str(n) for c, n in tickets["by_category"].items()},
        **{f"source_{s}": str(n) for s, n in tickets["by_source"].items()},
    }


def test_usage_has_the_web_report_s_numbers(app, world, api, tokens, month_of_work, clock, web, login):
    work = month_of_work
    for ticket, minutes in ((work["b"], 300), (work["c"], 390), (work["d"], 50), (work["g"], 20)):
        response = api.post(f"/api/v1/tickets/{ticket.id}/time-entries", tokens.agent,
                            json={"minutes": minutes, "date": "2026-11-03"})
        assert response.status_code == 201
    clock.on(date(2026, 11, 10))

    usage = api.get("/api/v1/clients/acme/usage?period=2026-11", tokens.manager).get_json()
    assert (usage["client"], usage["period"], usage["starts_on"], usage["ends_on"]) == (
        "acme", "2026-11", "2026-11-01", "2026-11-30",
    )
    assert usage["minutes"] == {
        "allowance": 600, "rollover": 60, "used": 660, "remaining": 0, "free": 50, "overage": 30,
        "billable": 30, "pending": 0, "goodwill": 0, "unbilled": 0,
    }
    assert usage["overage_value"] == {"amount": "90.00", "currency": "PLN", "mixed_currencies": False}
    assert usage["tickets"] == {
        "filed": 3, "allowance": None, "counted": 2,
        "by_category": {"question": 1, "configuration_change": 1, "bug": 1},
        "by_source": {"bug_fix": 1, "onboarding": 0, "post_onboarding_package": 0, "support_plan": 2, "none": 0},
    }
    assert usage["plans"] == ["Standard"]
    assert usage["plan_periods"] == [{
        "plan": "Standard", "label": "2026-11", "starts_on": "2026-11-01", "ends_on": "2026-11-30",
        "allowance_minutes": 600, "rollover_in_minutes": 60, "used_minutes": 660, "remaining_minutes": 0,
        "allowance_tickets": None, "used_tickets": 2,
    }]

    for period in ("2026-11", "2026-10", "2026-Q4"):
        web_rows = _web_csv(web, login, world, period)
        for slug in ("acme", "globex"):
            api_usage = api.get(f"/api/v1/clients/{slug}/usage?period={period}", tokens.manager).get_json()
            if slug in web_rows:
                assert _as_csv_row(api_usage) == web_rows[slug], (period, slug)
            else:  # the report leaves out a client with no plan and no work; the API says zero
                assert period == "2026-10" and slug == "globex"
                assert (api_usage["minutes"]["free"], api_usage["tickets"]["filed"]) == (0, 0)
    assert _web_csv(web, login, world, "2026-Q4")["globex"]["free_minutes"] == "20"
    # The client's admin reads the same figures; the default period is the current month.
    assert api.get("/api/v1/clients/acme/usage?period=2026-11", tokens.acme_admin).get_json() == usage
    assert api.get("/api/v1/clients/acme/usage", tokens.acme_admin).get_json() == usage


def test_a_client_without_plan_or_work_has_zero_usage(app, world, api, tokens, today):
    usage = api.get("/api/v1/clients/globex/usage?period=2026-09", tokens.manager).get_json()
    assert usage["plans"] == [] and usage["plan_periods"] == []
    assert usage["minutes"]["allowance"] is None and usage["minutes"]["used"] == 0
    assert usage["tickets"]["filed"] == 0 and usage["overage_value"]["amount"] == "0.00"


def test_usage_is_for_managers_and_that_client_s_admins(app, world, api, tokens, today):
    assert api.get("/api/v1/clients/acme/usage", tokens.manager).status_code == 200
    assert api.get("/api/v1/clients/acme/usage", tokens.admin).status_code == 200
    assert api.get("/api/v1/clients/acme/usage", tokens.acme_admin).status_code == 200
    response = api.get("/api/v1/clients/acme/usage", tokens.acme_user)
    assert response.status_code == 403 and error_of(response)["code"] == "forbidden"
    assert api.get("/api/v1/clients/acme/usage", tokens.agent).status_code == 403
    for token in (tokens.globex_admin, tokens.globex_user):  # another company's slug, or none: not found
        for slug in ("acme", "nope"):
            response = api.get(f"/api/v1/clients/{slug}/usage", token)
            assert response.status_code == 404, (slug, response.status_code)
            assert "ACME" not in response.get_data(as_text=True)


@pytest.mark.parametrize("period", ["2026-13", "2026-00", "2026-Q5", "11-2026", "2026-11-01", "0000-01", "2026-11&period=2026-10"])
def test_a_bad_period_is_422(app, world, api, tokens, today, period):
    response = api.get(f"/api/v1/clients/acme/usage?period={period}", tokens.manager)
    assert response.status_code == 422, response.get_json()
    assert "period" in error_of(response)["fields"]
