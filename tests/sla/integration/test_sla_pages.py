"""SLA from the outside: `flask sla due`, the admin's calendars, the manager's policies and report."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from helpdesk.clock import frozen
from tests.samples import text_of

WARSAW = ZoneInfo("Europe/Warsaw")
MINUTE = timedelta(minutes=1)


def warsaw(*args: int) -> datetime:
    return datetime(*args, tzinfo=WARSAW)


def count(model: Any) -> int:
    from helpdesk.extensions import db

    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model)) or 0


# -- flask sla due ---------------------------------------------------------------------------


def test_due_prints_one_iso_instant_per_start_in_the_calendars_zone(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=[
        "sla", "due", "--calendar", "default", "--minutes", "60",
        "2026-01-16T15:30:00+01:00", "2026-01-12T09:00:00+01:00", "2026-01-16T14:30:00Z",
    ])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "2026-01-19T08:30:00+01:00",  # Friday 15:30 -> Monday
        "2026-01-12T10:00:00+01:00",
        "2026-01-19T08:30:00+01:00",  # 14:30 UTC is 15:30 in Warsaw
    ]
    spring = runner.invoke(args=["sla", "due", "--calendar", "24/7", "--minutes", "90", "2026-03-29T01:30:00+01:00"])
    assert spring.output.strip() == "2026-03-29T04:00:00+02:00"
    holiday = runner.invoke(args=["sla", "due", "--calendar", "default", "--minutes", "0", "2025-12-24T10:00:00+01:00"])
    assert holiday.output.strip() == "2025-12-29T08:00:00+01:00"  # 24-26 December and the weekend


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--calendar", "nope", "--minutes", "60", "2026-01-12T09:00:00+01:00"], "There is no calendar named 'nope'"),
        (["--calendar", "default", "--minutes", "60", "2026-01-12T09:00:00"], "has no time zone offset"),
        (["--calendar", "default", "--minutes", "60", "next tuesday"], "is not an ISO 8601 date and time"),
        (["--calendar", "default", "--minutes", "-5", "2026-01-12T09:00:00+01:00"], "cannot be negative"),
        (["--calendar", "default", "--minutes", "ten", "2026-01-12T09:00:00+01:00"], "is not a valid integer"),
        (["--calendar", "default", "--minutes", "60"], "Missing argument"),
        (["--calendar", "default", "--minutes", "2000000", "2026-01-12T09:00:00+01:00"], "not supported"),
    ],
)
def test_due_refuses_bad_input_with_a_message_and_a_non_zero_exit(app, args, message):
    result = app.test_cli_runner().invoke(args=["sla", "due", *args])
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


# -- the admin's calendars -------------------------------------------------------------------


def calendar_form(**changes: str) -> dict[str, str]:
    form = {
        "name": "Lunch office", "timezone": "Europe/Warsaw", "country": "PL",
        "monday": "08:00-12:00, 12:30-16:30", "tuesday": "08:00-12:00, 12:30-16:30",
        "wednesday": "08:00-12:00, 12:30-16:30", "thursday": "08:00-12:00, 12:30-16:30",
        "friday": "08:00-12:00, 12:30-16:30", "saturday": "", "sunday": "",
        "closed_dates": "2026-01-02", "open_dates": "2026-01-10 10:00-14:00",
    }
    form.update(changes)
    return form


def test_admin_adds_a_calendar_with_a_lunch_break_and_the_cli_uses_it(app, web, world, login):
    from helpdesk.calendars.models import Calendar

    login(world.admin)
    listing = text_of(web.get("/admin/calendars/"))
    assert ">default<" in listing and ">24/7<" in listing
    response = web.post("/admin/calendars/new", data=calendar_form())
    assert response.status_code == 302, text_of(response)[:3000]
    assert count(Calendar) == 3
    result = app.test_cli_runner().invoke(args=[
        "sla", "due", "--calendar", "Lunch office", "--minutes", "240",
        "2026-01-12T09:00:00+01:00",  # 3 h before lunch, 1 h after
        "2026-01-02T09:00:00+01:00",  # an extra closed Friday after New Year's Day and a weekend
        "2026-01-09T15:00:00+01:00",  # 1 h 30 min on Friday, the rest on the extra open Saturday
    ])
    assert result.output.splitlines() == [
        "2026-01-12T13:30:00+01:00", "2026-01-05T12:00:00+01:00", "2026-01-10T12:30:00+01:00",
    ]
    from helpdesk.extensions import db

    made = db.session.scalar(select(Calendar).where(Calendar.name == "Lunch office"))
    edit = text_of(web.get(f"/admin/calendars/{made.id}"))  # ids are not reset between tests
    assert "08:00-12:00, 12:30-16:30" in edit and "2026-01-10 10:00-14:00" in edit


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"monday": "08:00-12:00, 11:00-13:00"}, "monday", "08:00-12:00 and 11:00-13:00 overlap."),
        ({"tuesday": "16:00-08:00"}, "tuesday", "16:00-08:00 ends before it starts."),
        ({"wednesday": "12:30-16:30, 08:00-12:00"}, "wednesday", "List the hours in order"),
        ({"thursday": "nine to five"}, "thursday", "Write working hours as 08:00-16:00"),
        ({"timezone": "Mars/Olympus"}, "timezone", "The time zone Mars/Olympus is unknown"),
        ({"country": "XX"}, "country", "no public holiday list for the country code XX"),
        ({day: "" for day in ("monday", "tuesday", "wednesday", "thursday", "friday")} | {"open_dates": ""},
         "monday", "This calendar has no working time"),
        ({"closed_dates": "2026-02-30"}, "closed_dates", "Write one date per line"),
        ({"open_dates": "2026-01-10 10:00-09:00"}, "open_dates", "10:00-09:00 ends before it starts."),
        ({"name": ""}, "name", "This field is required."),
        ({"name": "default"}, "name", "A calendar with this name already exists."),
    ],
)
def test_a_bad_calendar_gets_a_message_next_to_the_field_and_nothing_is_saved(
    app, web, world, login, changes, field, message
):
    from helpdesk.calendars.models import Calendar, CalendarDate, CalendarHours

    login(world.admin)
    web.get("/admin/calendars/")  # creates the built-in calendars
    before = (count(Calendar), count(CalendarHours), count(CalendarDate))
    response = web.post("/admin/calendars/new", data=calendar_form(**changes))
    assert response.status_code == 422
    page = text_of(response)
    error = re.search(rf'<p class="field-error" id="{field}-error">([^<]*)</p>', page)
    assert error, page[:4000]
    assert message in error.group(1).replace("&#39;", "'")
    assert (count(Calendar), count(CalendarHours), count(CalendarDate)) == before


def test_calendar_messages_are_in_the_admins_language(app, web, world, login, translations):
    from helpdesk.extensions import db

    world.admin.language = "pl"
    db.session.commit()
    login(world.admin)
    response = web.post("/admin/calendars/new", data=calendar_form(monday="08:00-12:00, 11:00-13:00",
                                                                    timezone="Mars/Olympus"))
    page = text_of(response)
    assert response.status_code == 422
    assert "08:00-12:00 i 11:00-13:00 nachodzą na siebie." in page
    assert "Nie znamy strefy czasowej Mars/Olympus" in page


def test_editing_the_default_calendar_keeps_its_name_and_moves_new_due_instants(app, web, world, login):
    from helpdesk.calendars.models import DEFAULT, Calendar

    login(world.admin)
    web.get("/admin/calendars/")
    from helpdesk.extensions import db

    default = db.session.scalar(select(Calendar).where(Calendar.name == DEFAULT))
    response = web.post(f"/admin/calendars/{default.id}", data=calendar_form(name="renamed", monday="07:00-15:00"))
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Calendar, default.id).name == DEFAULT
    result = app.test_cli_runner().invoke(args=["sla", "due", "--calendar", "default", "--minutes", "60",
                                                "2026-01-12T06:00:00+01:00"])
    assert result.output.strip() == "2026-01-12T08:00:00+01:00"


def test_only_admins_edit_calendars(app, web, world, login):
    for user in (world.manager, world.agent, world.acme_user):
        login(user)
        assert web.get("/admin/calendars/").status_code == 403
        assert web.post("/admin/calendars/new", data=calendar_form()).status_code == 403


# -- the manager's policies ------------------------------------------------------------------


def policy_form(**changes: str) -> dict[str, str]:
    from helpdesk.calendars.models import ALWAYS_OPEN, builtin_calendars

    always = builtin_calendars()[ALWAYS_OPEN].id
    form = {"name": "Premium", "calendar_id": str(always), "warning_percent": "75"}
    for priority, (first, resolution) in {"low": (240, 960), "normal": (120, 480), "high": (60, 240),
                                          "urgent": (15, 120)}.items():
        form[f"first_response_{priority}"] = str(first)
        form[f"resolution_{priority}"] = str(resolution)
    form.update(changes)
    return form


def test_manager_adds_a_policy_and_maps_sources_to_it(app, web, world, login, make_ticket):
    from helpdesk.calendars.policies import SlaPolicy
    from helpdesk.extensions import db
    from tickets.sla.policies import SlaSourcePolicy

    login(world.manager)
    page = text_of(web.get("/manager/sla/policies/"))
    assert "Standard" in page and "Bug-fix guarantee" in page
    response = web.post("/manager/sla/policies/new", data=policy_form())
    assert response.status_code == 302, text_of(response)[:3000]
    premium = db.session.scalar(select(SlaPolicy).where(SlaPolicy.name == "Premium"))
    assert premium.minutes("first_response", "urgent") == 15 and premium.warning_percent == 75
    response = web.post("/manager/sla/policies/mapping", data={
        "bug_fix": str(premium.id), "onboarding": "default", "post_onboarding_package": "default", "none": "",
    })
    assert response.status_code == 302
    assert {m.source: m.policy_id for m in db.session.scalars(select(SlaSourcePolicy))} == {
        "bug_fix": premium.id, "none": None,
    }
    with frozen(datetime(2026, 1, 12, 8, 0, tzinfo=UTC)):
        bug = make_ticket(world.acme_user, category="bug", priority="urgent")
    db.session.expire_all()
    assert bug.sla_policy_id == premium.id
    assert bug.first_response_due_at == datetime(2026, 1, 12, 8, 15, tzinfo=UTC)
    # A source other than `none` always has a policy.
    refused = web.post("/manager/sla/policies/mapping", data={
        "bug_fix": "", "onboarding": "default", "post_onboarding_package": "default", "none": "",
    })
    assert refused.status_code == 422 and "This source needs a policy." in text_of(refused)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"first_response_urgent": "0"}, "first_response_urgent", "A target must be more than zero minutes."),
        ({"resolution_low": "-30"}, "resolution_low", "A target must be more than zero minutes."),
        ({"resolution_high": "1.5"}, "resolution_high", "A whole number of business minutes."),
        ({"first_response_normal": ""}, "first_response_normal", "A whole number of business minutes."),
        ({"warning_percent": "100"}, "warning_percent", "A whole number of percent from 1 to 99."),
        ({"calendar_id": "999"}, "calendar_id", "Choose a calendar."),
        ({"name": "Standard"}, "name", "A policy with this name already exists."),
    ],
)
def test_a_bad_policy_gets_a_message_next_to_the_field_and_nothing_is_saved(
    app, web, world, login, changes, field, message
):
    from helpdesk.calendars.policies import SlaPolicy, SlaTarget

    login(world.manager)
    web.get("/manager/sla/policies/")
    before = (count(SlaPolicy), count(SlaTarget))
    response = web.post("/manager/sla/policies/new", data=policy_form(**changes))
    assert response.status_code == 422
    error = re.search(rf'<p class="field-error" id="{field}-error">([^<]*)</p>', text_of(response))
    assert error and message in error.group(1)
    assert (count(SlaPolicy), count(SlaTarget)) == before


def test_only_managers_edit_policies(app, web, world, login):
    login(world.agent)
    assert web.get("/manager/sla/policies/").status_code == 403
    assert web.post("/manager/sla/policies/new", data={}).status_code == 403
    assert web.get("/manager/sla/").status_code == 403


# -- the report ------------------------------------------------------------------------------


def test_sla_report_numbers_by_month_priority_and_client(app, web, world, login, make_ticket):
    from helpdesk.extensions import db
    from tests.sla.integration.test_sla import make_policy
    from tickets.services import Actor, add_message, change_status

    make_policy("Quick", "24/7", first=60, resolution=240, sources=("onboarding", "bug_fix"))
    agent = Actor(world.agent)
    jan = warsaw(2026, 1, 10, 10, 0)
    with frozen(jan):
        met = make_ticket(world.acme_user, "both met", priority="urgent")
    with frozen(jan + 30 * MINUTE):
        add_message(agent, met, body="On it.")
    with frozen(jan + 180 * MINUTE):
        change_status(agent, met, "resolved")
    late_start = warsaw(2026, 1, 31, 23, 30)  # Warsaw's January, already February in UTC
    with frozen(late_start):
        late = make_ticket(world.globex_user, "both late", priority="high")
    with frozen(late_start + 90 * MINUTE):
        add_message(agent, late, body="Sorry.")
    with frozen(late_start + 300 * MINUTE):
        change_status(agent, late, "resolved")
    feb = warsaw(2026, 2, 5, 9, 0)
    with frozen(feb):
        open_one = make_ticket(world.acme_user, "still open", priority="high", category="bug")
    with frozen(feb + 10 * MINUTE):
        add_message(agent, open_one, body="Which version?")
        change_status(agent, open_one, "waiting_on_client")
    with frozen(feb + 70 * MINUTE):
        add_message(Actor(world.acme_user), open_one, body="The latest.")
    db.session.commit()

    login(world.manager)
    with frozen(warsaw(2026, 2, 5, 12, 0)):
        by_month = text_of(web.get("/manager/sla/?by=month&from=2026-01&to=2026-02"))
    assert rows_of(by_month) == {
        "2026-01": ("2", "50.0% (1/2)", "50.0% (1/2)", "0 h"),
        "2026-02": ("1", "100.0% (1/1)", "—", "1 h"),
        "total": ("3", "66.7% (2/3)", "50.0% (1/2)", "1 h"),
    }
    assert by_month.count('class="point-first"') == 2 and by_month.count('class="point-resolution"') == 1
    assert "<title>January 2026: 50.0%</title>" in by_month
    with frozen(warsaw(2026, 2, 5, 12, 0)):
        by_priority = rows_of(text_of(web.get("/manager/sla/?by=priority&from=2026-01&to=2026-02")))
        by_client = rows_of(text_of(web.get("/manager/sla/?by=client&from=2026-01&to=2026-02")))
        by_plan = rows_of(text_of(web.get("/manager/sla/?by=plan&from=2026-01&to=2026-02")))
        bad = web.get("/manager/sla/?by=colour&from=2026-13")
    assert by_priority["urgent"][1:3] == ("100.0% (1/1)", "100.0% (1/1)")
    assert by_priority["high"][1:3] == ("50.0% (1/2)", "0.0% (0/1)")
    assert by_client["ACME Logistics"][:2] == ("2", "100.0% (2/2)")
    assert by_client["Globex Trading"][:3] == ("1", "0.0% (0/1)", "0.0% (0/1)")
    assert set(by_plan) == {"bug_fix", "onboarding", "total"}
    assert bad.status_code == 400


def rows_of(page: str) -> dict[str, tuple[str, ...]]:
    """The report table: data-key -> (tickets, first response met, resolution met, paused)."""
    table = page[page.index('id="sla-report"'):]
    out = {}
    for key, body in re.findall(r'<tr[^>]*data-key="([^"]+)">(.*?)</tr>', table, re.S):
        cells = [" ".join(re.sub(r"<[^>]+>", "", c).split()) for c in re.findall(r"<td[^>]*>(.*?)</td>", body, re.S)]
        out[key] = (cells[1], cells[2], cells[3], cells[4])
    return out
