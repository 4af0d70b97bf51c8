"""Managers' plans, subscriptions and package dates through the web UI, and bad input."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from helpdesk.extensions import db
from plans.models import PlanVersion, Subscription, SupportPlan

GOOD = {
    "name": "Standard", "period": "month", "covered_categories": ["question", "configuration_change"],
    "allowance_minutes": "600", "allowance_tickets": "", "billing_increment": "15", "rollover_cap_minutes": "120",
    "overage_policy": "bill", "hourly_rate": "180", "currency": "PLN",
}


def counts():
    return tuple(db.session.scalar(select(func.count(m.id))) for m in (SupportPlan, PlanVersion, Subscription))


def test_manager_creates_and_changes_a_plan(world, clock, web, login):
    clock.on(date(2026, 11, 10))
    login(world.manager)
    created = web.post("/manager/plans/new", data=GOOD)
    assert created.status_code == 302
    plan = db.session.scalars(select(SupportPlan)).one()
    (version,) = plan.versions
    assert (plan.name, plan.period, version.effective_from, version.allowance_minutes) == (
        "Standard", "month", date(2026, 11, 10), 600)
    assert version.covered_categories == ["configuration_change", "question"]
    changed = web.post(f"/manager/plans/{plan.id}/terms", data={**GOOD, "effective_from": "2026-12-01",
                                                               "allowance_minutes": "900", "billing_increment": "30"})
    assert changed.status_code == 302
    db.session.expire_all()
    assert [(v.effective_from, v.allowance_minutes, v.billing_increment) for v in plan.versions] == [
        (date(2026, 11, 10), 600, 15), (date(2026, 12, 1), 900, 30)]
    page = web.get(f"/manager/plans/{plan.id}").get_data(as_text=True)
    assert "1 December 2026" in page or "December 1, 2026" in page
    assert web.post(f"/manager/plans/{plan.id}/settings", data={"name": "Standard+", "active": "y"}).status_code == 302
    assert web.get("/manager/plans").status_code == 200
    assert web.get("/manager/plans/4242").status_code == 404


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"allowance_minutes": "", "rollover_cap_minutes": "60"}, "rollover_cap_minutes",
         "A rollover cap needs an allowance in minutes."),
        ({"rollover_cap_minutes": "700"}, "rollover_cap_minutes", "cannot be larger than the allowance"),
        ({"allowance_minutes": "-10"}, "allowance_minutes", "from 0 to 100000"),
        ({"allowance_minutes": "1000000000"}, "allowance_minutes", "from 0 to 100000"),
        ({"allowance_tickets": "many"}, "allowance_tickets", "whole number"),
        ({"hourly_rate": ""}, "hourly_rate", "needs an hourly rate"),
        ({"hourly_rate": "12.345"}, "hourly_rate", "at most two decimals"),
        ({"hourly_rate": "NaN"}, "hourly_rate", "at most two decimals"),
        ({"currency": "złoty"}, "currency", "three-letter currency code"),
        ({"covered_categories": []}, "covered_categories", "at least one category"),
        # a forged choice is refused by the form, naming the choices as people call them
        ({"covered_categories": ["question", "wishes"]}, "covered_categories",
         "Choose one of: Question, Configuration change, Bug."),
        ({"billing_increment": "10"}, "billing_increment",
         "Choose one of: Every started 15 minutes, Every started 30 minutes, Every minute."),
        ({"overage_policy": "hope"}, "overage_policy",
         "Choose one of: Bill at the hourly rate, A manager approves, Not covered."),
        ({"period": "week"}, "period", "Choose one of: Month, Quarter."),
        ({"allowance_minutes": "６００"}, "allowance_minutes", "Enter a whole number with the digits 0-9."),
        ({"hourly_rate": "１８０"}, "hourly_rate", "at most two decimals"),
        ({"name": ""}, "name", "1 to 100 characters"),
    ],
)
def test_bad_plans_are_refused_with_a_clear_message(world, clock, web, login, changes, field, message):
    clock.on(date(2026, 11, 10))
    login(world.manager)
    response = web.post("/manager/plans/new", data={**GOOD, **changes})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True).replace("&#39;", "'")
    assert counts() == (0, 0, 0)


def test_duplicate_names_and_past_changes_are_refused(cov, world, clock, web, login):
    plan = cov.plan()
    clock.on(date(2026, 11, 10))
    login(world.manager)
    assert web.post("/manager/plans/new", data={**GOOD, "name": "standard"}).status_code == 422
    past = web.post(f"/manager/plans/{plan.id}/terms", data={**GOOD, "effective_from": "2026-11-09"})
    assert past.status_code == 422 and "past periods are never rewritten" in past.get_data(as_text=True)
    same_day = web.post(f"/manager/plans/{plan.id}/terms", data={**GOOD, "effective_from": "2026-01-01"})
    assert same_day.status_code == 422
    assert counts() == (1, 1, 0)


def test_subscriptions_refuse_overlaps_and_the_past(cov, world, clock, web, login):
    plan = cov.plan()
    clock.on(date(2026, 11, 10))
    login(world.manager)
    base = {"client": str(world.acme.id), "plan": str(plan.id)}
    assert web.post("/manager/subscriptions", data={**base, "starts_on": "2026-11-10", "ends_on": "2027-01-31"}).status_code == 302
    overlap = web.post("/manager/subscriptions", data={**base, "starts_on": "2027-01-31", "ends_on": ""})
    assert overlap.status_code == 409
    assert "already has the Standard plan from" in overlap.get_data(as_text=True)
    assert web.post("/manager/subscriptions", data={**base, "starts_on": "2027-02-01"}).status_code == 302
    later = web.post("/manager/subscriptions", data={**base, "starts_on": "2028-01-01"})
    assert later.status_code == 409 and "with no end date; end it first" in later.get_data(as_text=True)
    past = web.post("/manager/subscriptions", data={**base, "client": str(world.globex.id), "starts_on": "2026-11-01"})
    assert past.status_code == 422 and "never rewritten" in past.get_data(as_text=True)
    backwards = web.post("/manager/subscriptions", data={**base, "client": str(world.globex.id),
                                                         "starts_on": "2026-12-01", "ends_on": "2026-11-30"})
    assert backwards.status_code == 422
    nobody = web.post("/manager/subscriptions", data={**base, "client": "99999", "starts_on": "2026-12-01"})
    assert nobody.status_code == 422 and "Choose a client" in nobody.get_data(as_text=True)
    assert counts() == (1, 1, 2)
    first, second = db.session.scalars(select(Subscription).order_by(Subscription.starts_on)).all()
    clash = web.post(f"/manager/subscriptions/{first.id}/end", data={"ends_on": "2027-02-15"})
    assert clash.status_code == 409
    assert web.post(f"/manager/subscriptions/{second.id}/end", data={"ends_on": "2027-06-30"}).status_code == 302
    assert web.post(f"/manager/subscriptions/{second.id}/end", data={"ends_on": "2026-01-01"}).status_code == 422
    assert web.post("/manager/subscriptions/4242/end", data={"ends_on": ""}).status_code == 404
    db.session.expire_all()
    assert (first.ends_on, second.ends_on) == (date(2027, 1, 31), date(2027, 6, 30))
    page = web.get("/manager/subscriptions").get_data(as_text=True)
    assert "ACME Logistics" in page


def test_manager_sets_the_protocol_date_and_package_length(world, clock, web, login):
    clock.on(date(2026, 11, 10))
    login(world.manager)
    url = f"/manager/clients/{world.acme.id}/coverage"
    assert "Covered as onboarding work" in web.get(url).get_data(as_text=True)
    assert web.post(url, data={"protocol_signed_on": "2026-11-02", "package_months": "2"}).status_code == 302
    db.session.expire_all()
    assert (world.acme.phase, world.acme.protocol_signed_on, world.acme.package_months) == (
        "production", date(2026, 11, 2), 2)
    assert "post-onboarding package until" in web.get(url).get_data(as_text=True)
    for bad in ({"protocol_signed_on": "2026-11-11", "package_months": "1"},
                {"protocol_signed_on": "2026-11-02", "package_months": "0"},
                {"protocol_signed_on": "2026-11-02", "package_months": "99"},
                {"protocol_signed_on": "yesterday", "package_months": "1"}):
        assert web.post(url, data=bad).status_code == 422, bad
    db.session.expire_all()
    assert (world.acme.protocol_signed_on, world.acme.package_months) == (date(2026, 11, 2), 2)
    assert web.post(url, data={"protocol_signed_on": "", "package_months": "1"}).status_code == 302
    db.session.expire_all()
    assert world.acme.phase == "onboarding"
    assert web.get("/manager/clients/4242/coverage").status_code == 404


def test_a_name_with_a_non_ascii_capital_is_refused_the_second_time(world, clock, web, login):
    # SQLite's lower() folds only ASCII: the check must still see the exact name the unique
    # constraint refuses, or the second plan is a 500 instead of a message.
    clock.on(date(2026, 11, 10))
    login(world.manager)
    assert web.post("/manager/plans/new", data={**GOOD, "name": "Ósemka"}).status_code == 302
    again = web.post("/manager/plans/new", data={**GOOD, "name": "Ósemka"})
    assert again.status_code == 422 and "A plan with this name already exists." in again.get_data(as_text=True)
    other = web.post("/manager/plans/new", data={**GOOD, "name": "Standard"})
    assert other.status_code == 302
    standard = db.session.scalars(select(SupportPlan).where(SupportPlan.name == "Standard")).one()
    renamed = web.post(f"/manager/plans/{standard.id}/settings", data={"name": "Ósemka", "active": "y"})
    assert renamed.status_code == 422 and "A plan with this name already exists." in renamed.get_data(as_text=True)
    assert counts() == (2, 2, 0)


def test_a_plan_of_the_same_name_stored_meanwhile_is_a_message_not_a_500(app, world, clock, web, login, monkeypatch):
    from sqlalchemy import create_engine, text

    from plans.services import plans as plan_services

    real_check = plan_services._check_name

    def check_then_another_manager_saves(fields, name, plan_id=None):
        checked = real_check(fields, name, plan_id)
        other = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
        with other.begin() as conn:  # another request's commit, between our check and our insert
            conn.execute(text("INSERT INTO support_plans (name, period, active, created_at) "
                              "VALUES (:name, 'month', :yes, CURRENT_TIMESTAMP)"), {"name": name, "yes": True})
        other.dispose()
        return checked

    monkeypatch.setattr(plan_services, "_check_name", check_then_another_manager_saves)
    clock.on(date(2026, 11, 10))
    login(world.manager)
    response = web.post("/manager/plans/new", data={**GOOD, "name": "Premium"})
    assert response.status_code == 422
    assert "A plan with this name already exists." in response.get_data(as_text=True)
    assert counts() == (1, 0, 0)  # only the other manager's plan
