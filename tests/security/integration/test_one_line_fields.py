"""One-line fields refuse line breaks and other control characters, on the web and in the API.

A subject or a name with CR/LF used to reach e-mail headers raw (an extra `Reply-To:` line, a
`Bcc:` line). Every one-line field is checked by the service with `helpdesk.text.one_line_error`;
here every one of them is fed such a value through the web form (422, the message next to the
field, what was typed kept) and through the API (422 with the field named).
"""

from __future__ import annotations

import html
import re
from typing import Any

import pytest

from tests.api.support import *  # noqa: F403
from tests.onboarding.support import NOW, at, start
from tests.samples import text_of

INJECTION = "Printer down\r\nBcc: eve@evil.example"
MESSAGE = "Must be one line of text, without line breaks, tabs or other control characters."


def _error_next_to(response: Any, field_id: str) -> str | None:
    found = re.search(rf'<p class="field-error" id="{re.escape(field_id)}-error">([^<]*)</p>', text_of(response))
    return html.unescape(found.group(1)) if found else None


def _plan(world: Any) -> Any:
    from plans import services

    return services.create_plan(actor_id=world.manager.id, name="Standard", period="month", values={
        "covered_categories": ["question"], "allowance_minutes": "600", "allowance_tickets": "",
        "billing_increment": "15", "rollover_cap_minutes": "0", "overage_policy": "bill", "hourly_rate": "180",
        "currency": "PLN",
    })


def _policy_form(bad: str) -> dict[str, str]:
    from sqlalchemy import select

    from helpdesk.calendars.models import ALWAYS_OPEN, Calendar
    from helpdesk.extensions import db

    always = db.session.scalar(select(Calendar.id).where(Calendar.name == ALWAYS_OPEN))
    form = {"name": bad, "calendar_id": str(always), "warning_percent": "75"}
    for priority in ("low", "normal", "high", "urgent"):
        form[f"first_response_{priority}"], form[f"resolution_{priority}"] = "60", "240"
    return form


# Each case: who posts, where, what (the bad value in one field), the field's id on the page,
# and a value typed into another field that must still be in the form.
WEB_CASES: dict[str, Any] = {
    "ticket subject": lambda w, bad: (w.acme_user, "/portal/tickets/new", {
        "subject": bad, "description": "Kept description 7731", "category": "bug", "priority": "high"},
        "subject", "Kept description 7731"),
    "own display name": lambda w, bad: (w.acme_user, "/preferences", {
        "name": bad, "language": "", "timezone": "Europe/Warsaw"}, "name", "Europe/Warsaw"),
    "new user's name": lambda w, bad: (w.admin, "/admin/users/new", {
        "email": "kept-7731@acme.example", "name": bad, "password": "long enough pass", "role": "client",
        "client": "acme"}, "name", "kept-7731@acme.example"),
    "user's name": lambda w, bad: (w.admin, f"/admin/users/{w.acme_user.id}", {
        "email": w.acme_user.email, "name": bad, "role": "client", "client": "acme", "active": "y"},
        "name", "anna@acme.example"),
    "new company's name": lambda w, bad: (w.admin, "/admin/clients/new", {
        "slug": "kept-7731", "name": bad, "guardian": "", "active": "y"}, "name", "kept-7731"),
    "company's name": lambda w, bad: (w.admin, f"/admin/clients/{w.acme.id}", {
        "slug": "acme", "name": bad, "guardian": "", "active": "y"}, "name", "acme"),
    "new plan's name": lambda w, bad: (w.manager, "/manager/plans/new", {
        "name": bad, "period": "month", "covered_categories": ["question"], "allowance_minutes": "7731",
        "allowance_tickets": "", "billing_increment": "15", "rollover_cap_minutes": "0", "overage_policy": "bill",
        "hourly_rate": "180", "currency": "PLN"}, "name", "7731"),
    "plan's name": lambda w, bad: (w.manager, f"/manager/plans/{_plan(w).id}/settings", {
        "name": bad, "active": "y"}, "name", None),
    "calendar's name": lambda w, bad: (w.admin, "/admin/calendars/new", {
        "name": bad, "timezone": "Europe/Warsaw", "country": "PL", "monday": "07:31-16:00", "tuesday": "",
        "wednesday": "", "thursday": "", "friday": "", "saturday": "", "sunday": "", "closed_dates": "",
        "open_dates": ""}, "name", "07:31-16:00"),
    "SLA policy's name": lambda w, bad: (w.manager, "/manager/sla/policies/new", {
        **_policy_form(bad), "warning_percent": "73"}, "name", "73"),
    "webhook's description": lambda w, bad: (w.admin, "/admin/notifications/webhooks", {
        "url": "https://hooks.example.com/kept-7731", "events": ["ticket.filed"], "description": bad},
        "description", "https://hooks.example.com/kept-7731"),
    "API token's name": lambda w, bad: (w.agent, "/preferences/tokens/", {"name": bad}, "name", None),
    "start data label": lambda w, bad: (w.agent, f"/onboarding/{start(w).id}/start-data", {
        "label": bad, "required": "y"}, "label", None),
    "Success Plan entry": lambda w, bad: (w.agent, f"/onboarding/{start(w).id}/plan", {
        "entries-0-section": "integration", "entries-0-kind": "marketplace", "entries-0-name": bad,
        "entries-0-timing": "at_start", "note": "Kept note 7731"}, "entries-0-name", "Kept note 7731"),
    "meeting location": lambda w, bad: (w.agent, f"/onboarding/{start(w).id}/meetings", {
        "kind": "kickoff", "day": "2026-03-05", "start_time": "10:00", "duration_minutes": "60",
        "location": bad, "notes": "Kept notes 7731", "participants": [str(w.agent.id)]},
        "location", "Kept notes 7731"),
}


@pytest.mark.parametrize("bad", [INJECTION, "Tab\there", "Line\u2028separator", "Next\x85line"],
                         ids=["crlf", "tab", "u2028", "c1"])
@pytest.mark.parametrize("case", sorted(WEB_CASES))
def test_every_one_line_web_field_refuses_control_characters(app, web, world, login, case, bad):
    with at(NOW):
        user, url, data, field_id, kept = WEB_CASES[case](world, bad)
        login(user)
        response = web.post(url, data=data)
    assert response.status_code == 422, text_of(response)[:2000]
    assert _error_next_to(response, field_id) == MESSAGE
    if kept is not None:
        assert html.escape(kept) in response.get_data(as_text=True)


def test_the_refused_values_are_not_stored(app, web, world, login):
    from sqlalchemy import func, select

    from helpdesk.extensions import db
    from tickets.models import Ticket

    login(world.acme_user)
    web.post("/portal/tickets/new", data={"subject": INJECTION, "description": "x", "category": "bug",
                                          "priority": "high"})
    web.post("/preferences", data={"name": INJECTION, "language": "", "timezone": "Europe/Warsaw"})
    db.session.rollback()
    assert db.session.scalar(select(func.count(Ticket.id))) == 0
    assert db.session.get(type(world.acme_user), world.acme_user.id).name == "Anna"


def test_a_plain_one_line_value_is_still_accepted(app, web, world, login):
    login(world.acme_user)
    response = web.post("/portal/tickets/new", data={
        "subject": "Zażółć gęślą jaźń — 50% <b>off</b>", "description": "Line one\r\nLine two\ttabbed",
        "category": "bug", "priority": "high"})
    assert response.status_code == 302


# -- the API ---------------------------------------------------------------------------------

API_CASES: dict[str, Any] = {
    "ticket subject": ("acme_user", "POST", "/api/v1/tickets",
                       lambda bad: {"subject": bad, "description": "d", "category": "bug"}, "subject"),
    "new company's name": ("manager", "POST", "/api/v1/clients", lambda bad: {"slug": "kept", "name": bad}, "name"),
    "company's name": ("manager", "PATCH", "/api/v1/clients/acme", lambda bad: {"name": bad}, "name"),
    "new plan's name": ("manager", "POST", "/api/v1/plans", lambda bad: {
        "name": bad, "period": "month", "covered_categories": ["question"], "allowance_minutes": 600,
        "billing_increment": 15, "overage_policy": "bill", "hourly_rate": "180"}, "name"),
}


@pytest.mark.parametrize("bad", [INJECTION, "Line\u2028separator"], ids=["crlf", "u2028"])
@pytest.mark.parametrize("case", sorted(API_CASES))
def test_every_one_line_api_field_refuses_control_characters(api, world, tokens, case, bad):
    who, method, url, body, field = API_CASES[case]
    response = api.call(method, url, getattr(tokens, who), json=body(bad))
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.get_json()["error"]["fields"][field] == MESSAGE


def test_an_api_token_name_refuses_control_characters(app, world):
    from helpdesk.api.tokens import TokenError, issue_token

    with pytest.raises(TokenError) as refused:
        issue_token(world.agent, INJECTION)
    assert (refused.value.field, str(refused.value)) == ("name", MESSAGE)
