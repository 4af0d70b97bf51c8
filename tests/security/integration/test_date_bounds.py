"""Dates and instants anyone can send are bounded (2000-01-01 .. 2100-12-31): a 4xx with a message,
never a 500 and never a stored value that breaks a later page (an .ics, a queue sorted by due time)."""

from __future__ import annotations

import base64
import html
import io
import json
import re
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from helpdesk.clock import frozen
from helpdesk.extensions import db
from plans.onboarding.meetings import schedule_meeting
from plans.onboarding.models import OnboardingMeeting
from tests.api.support import *  # noqa: F403  (fixtures)
from tests.api.support import error_of
from tests.onboarding.support import NOW, PDF, start, walk_to

MESSAGE = "Enter a date from 2000-01-01 to 2100-12-31."
EXTREMES = ["0001-01-01", "9999-12-31"]


def crafted_cursor(instant: str = "0001-01-01T00:00:00+14:00", ticket_id: int = 1) -> str:
    """Encoded the way the app encodes cursors (urlsafe base64 of compact JSON, no padding)."""
    raw = json.dumps([instant, ticket_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize("instant", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00",
                                     "1999-12-31T23:59:59+00:00"])
@pytest.mark.parametrize(("who", "url"), [("acme_user", "/portal/?sort=due&cursor={}"),
                                           ("agent", "/agent/queue?sort=due&cursor={}")])
def test_a_crafted_cursor_with_an_extreme_instant_is_a_400(web, world, login, make_ticket, who, url, instant):
    make_ticket(world.acme_user)
    login(getattr(world, who))
    response = web.get(url.format(crafted_cursor(instant)))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "The page cursor is not valid." in page or "Invalid cursor." in page


def test_a_cursor_inside_the_bounds_still_pages(web, world, login, make_ticket):
    make_ticket(world.acme_user)
    login(world.agent)
    assert web.get(f"/agent/queue?sort=due&cursor={crafted_cursor('2030-01-01T00:00:00+14:00')}").status_code == 200


def test_a_crafted_cursor_in_the_api_list_is_refused(app, world, api, tokens):
    response = api.get(f"/api/v1/tickets?cursor={crafted_cursor()}", tokens.agent)
    assert response.status_code in (400, 422)
    assert "cursor" in json.dumps(error_of(response))


def test_a_meeting_on_9999_12_31_is_refused_with_a_field_error(web, world, login):
    with frozen(NOW):
        onboarding = start(world)
        login(world.agent)
        response = web.post(f"/onboarding/{onboarding.id}/meetings", data={
            "kind": "kickoff", "day": "9999-12-31", "start_time": "23:30", "duration_minutes": "480",
            "participants": [str(world.agent.id)],
        })
        assert response.status_code == 422
        page = response.get_data(as_text=True)
        assert re.search(rf'<p class="field-error"[^>]*>[^<]*{re.escape(html.escape(MESSAGE))}', page)
        assert 'value="23:30"' in page  # what was typed is kept
        assert db.session.scalars(select(OnboardingMeeting)).all() == []
        # and the onboarding's calendar still downloads
        assert web.get(f"/onboarding/{onboarding.id}/meetings.ics").status_code == 200


# -- every date a user can send, web and API -----------------------------------------------------


class Setup:
    """What the date-taking pages need: an onboarding at the training stage, a ticket, a plan and a
    subscription. Built through the services, at NOW (2026-03-02)."""

    def __init__(self, world: Any, cov: Any) -> None:
        from tickets.services import Actor, file_ticket

        self.plan = cov.plan(on=date(2026, 1, 1))
        self.subscription = cov.subscribe(world.globex, self.plan, date(2026, 2, 1))
        with frozen(NOW):
            self.onboarding = walk_to(world, "training")
            self.meeting = schedule_meeting(
                world.agent, self.onboarding, kind="other", starts_at=datetime(2026, 3, 10, 9, tzinfo=UTC),
                duration=60, location="", notes="", participant_ids=[str(world.agent.id)], now=NOW,
            )
            self.ticket = file_ticket(Actor(world.acme_user), subject="Help", description="Please.",
                                      category="question")


MEETING = {"kind": "other", "start_time": "10:00", "duration_minutes": "60"}
CALENDAR = {
    "name": "Office", "timezone": "Europe/Warsaw", "country": "PL", "monday": "08:00-16:00",
    "tuesday": "08:00-16:00", "wednesday": "08:00-16:00", "thursday": "08:00-16:00", "friday": "08:00-16:00",
    "saturday": "", "sunday": "", "closed_dates": "", "open_dates": "",
}
TERMS = {
    "covered_categories": ["question"], "allowance_minutes": "600", "allowance_tickets": "",
    "billing_increment": "15", "rollover_cap_minutes": "0", "overage_policy": "bill", "hourly_rate": "180",
    "currency": "PLN",
}

# (name, role, method, url, data as a function of (setup, world, day)); the field named `day` carries the date.
WEB_FIELDS: list[tuple[str, str, str, Any, Any]] = [
    ("onboarding start kickoff_planned_on", "manager", "POST", lambda s: "/onboarding/start",
     lambda s, w, d: {"client": str(w.globex.id), "guardian": str(w.agent.id),
                      "kickoff_planned_on": d}),
    ("onboarding stage planned_on", "agent", "POST", lambda s: f"/onboarding/{s.onboarding.id}/stages/protocol",
     lambda s, w, d: {"planned_on": d, "owner": str(w.agent.id), "notes": ""}),
    ("onboarding stage start actual_on", "agent", "POST",
     lambda s: f"/onboarding/{s.onboarding.id}/stages/follow_up/start",
     lambda s, w, d: {"start-to_state": "in_progress", "start-actual_on": d, "start-reason": "x"}),
    ("onboarding stage done actual_on", "agent", "POST",
     lambda s: f"/onboarding/{s.onboarding.id}/stages/follow_up/complete",
     lambda s, w, d: {"done-to_state": "done", "done-actual_on": d, "done-reason": "x"}),
    ("onboarding training held_on", "agent", "POST", lambda s: f"/onboarding/{s.onboarding.id}/training",
     lambda s, w, d: {"held_on": d, "plan_checked": "y", "access_handed_over": "y", "reason": "x"}),
    ("onboarding protocol signed_on", "agent", "POST", lambda s: f"/onboarding/{s.onboarding.id}/protocol",
     lambda s, w, d: {"signed_on": d, "functions": ["orders_import"], "scan": (io.BytesIO(PDF), "signed.pdf")}),
    ("onboarding new meeting day", "agent", "POST", lambda s: f"/onboarding/{s.onboarding.id}/meetings",
     lambda s, w, d: {**MEETING, "day": d, "participants": [str(w.agent.id)]}),
    ("onboarding moved meeting day", "agent", "POST",
     lambda s: f"/onboarding/{s.onboarding.id}/meetings/{s.meeting.id}",
     lambda s, w, d: {**MEETING, "day": d, "participants": [str(w.agent.id)]}),
    ("agent time entry work_date", "agent", "POST", lambda s: f"/agent/tickets/{s.ticket.id}/time",
     lambda s, w, d: {"minutes": "30", "work_date": d, "note": ""}),
    ("plan terms effective_from", "manager", "POST", lambda s: f"/manager/plans/{s.plan.id}/terms",
     lambda s, w, d: {**TERMS, "effective_from": d}),
    ("subscription starts_on", "manager", "POST", lambda s: "/manager/subscriptions",
     lambda s, w, d: {"client": str(w.acme.id), "plan": str(s.plan.id), "starts_on": d, "ends_on": ""}),
    ("subscription ends_on", "manager", "POST", lambda s: "/manager/subscriptions",
     lambda s, w, d: {"client": str(w.acme.id), "plan": str(s.plan.id), "starts_on": "2026-04-01", "ends_on": d}),
    ("subscription end ends_on", "manager", "POST", lambda s: f"/manager/subscriptions/{s.subscription.id}/end",
     lambda s, w, d: {"ends_on": d}),
    ("client protocol_signed_on", "manager", "POST", lambda s: f"/manager/clients/{s.subscription.client_id}/coverage",
     lambda s, w, d: {"protocol_signed_on": d, "package_months": "1"}),
    ("calendar closed_dates", "admin", "POST", lambda s: "/admin/calendars/new",
     lambda s, w, d: {**CALENDAR, "closed_dates": d}),
    ("calendar open_dates", "admin", "POST", lambda s: "/admin/calendars/new",
     lambda s, w, d: {**CALENDAR, "open_dates": f"{d} 10:00-14:00"}),
    ("usage report period", "manager", "GET", lambda s: "/manager/usage", lambda s, w, d: {"period": d[:7]}),
    ("client usage period", "clientadmin", "GET", lambda s: "/portal/usage",
     lambda s, w, d: {"period": f"{d}..{d}"}),
    ("sla report from", "manager", "GET", lambda s: "/manager/sla/", lambda s, w, d: {"from": d[:7]}),
    ("sla report to", "manager", "GET", lambda s: "/manager/sla/", lambda s, w, d: {"to": d[:7]}),
]


@pytest.mark.parametrize("day", EXTREMES)
@pytest.mark.parametrize(("name", "role", "method", "url", "data"), WEB_FIELDS, ids=[f[0] for f in WEB_FIELDS])
def test_every_web_date_field_refuses_dates_outside_the_bounds(app, world, cov, web, login, name, role, method,
                                                               url, data, day):
    setup = Setup(world, cov)
    user = {"clientadmin": world.acme_admin}.get(role) or getattr(world, role)
    with frozen(NOW):
        login(user)
        values = data(setup, world, day)
        if method == "GET":
            response = web.get(url(setup), query_string=values)
        else:
            response = web.post(url(setup), data=values, content_type="multipart/form-data")
    assert response.status_code in (400, 422), (name, response.status_code)
    assert html.escape(MESSAGE) in response.get_data(as_text=True), name


def _api_fields(setup: Any, world: Any) -> list[tuple[str, str, str, str, Any]]:
    return [
        ("time entry date", "agent", "POST", f"/api/v1/tickets/{setup.ticket.id}/time-entries",
         lambda d: {"minutes": 30, "date": d}),
        ("subscription starts_on", "manager", "POST", "/api/v1/clients/acme/subscriptions",
         lambda d: {"plan_id": setup.plan.id, "starts_on": d}),
        ("subscription ends_on", "manager", "POST", "/api/v1/clients/acme/subscriptions",
         lambda d: {"plan_id": setup.plan.id, "starts_on": "2026-04-01", "ends_on": d}),
        ("client protocol_signed_on", "manager", "PATCH", "/api/v1/clients/acme",
         lambda d: {"protocol_signed_on": d}),
        ("client usage period", "manager", "GET", "/api/v1/clients/globex/usage", lambda d: {"period": d[:7]}),
    ]


API_NAMES = ["time entry date", "subscription starts_on", "subscription ends_on", "client protocol_signed_on",
             "client usage period"]


@pytest.mark.parametrize("day", EXTREMES)
@pytest.mark.parametrize("name", API_NAMES)
def test_every_api_date_field_refuses_dates_outside_the_bounds(app, world, cov, api, tokens, name, day):
    setup = Setup(world, cov)
    [(_, role, method, url, body)] = [f for f in _api_fields(setup, world) if f[0] == name]
    with frozen(NOW):
        if method == "GET":
            response = api.get(f"{url}?{urlencode(body(day))}", getattr(tokens, role))
        else:
            response = api.call(method, url, getattr(tokens, role), json=body(day))
    assert response.status_code in (400, 422), (name, response.status_code)
    assert MESSAGE in json.dumps(error_of(response)), name


@pytest.mark.parametrize("args", [
    ["sla", "due", "--calendar", "default", "--minutes", "60", "9999-12-31T23:00:00+00:00"],
    ["sla", "due", "--calendar", "default", "--minutes", "60", "0001-01-01T00:00:00+14:00"],
    ["onboarding", "remind", "--today", "9999-12-31", "--dry-run"],
])
def test_the_commands_refuse_dates_outside_the_bounds_as_bad_parameters(app, args):
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 2, result.output
    assert MESSAGE in result.output
