"""The web forms refuse a forged choice or a number not in ASCII digits themselves: 422, the
message next to the field (naming the choices as people call them, never the stored codes),
what was typed shown again, and no service called. And no choice field skips validation
unless it is listed below with its reason."""

from __future__ import annotations

import importlib
import pkgutil
import re
from datetime import date

import pytest
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import Form, SelectField, SelectFieldBase
from wtforms.fields.core import UnboundField

from helpdesk.extensions import db
from tests.samples import text_of

# Choice fields that do not validate their choice, each with why. Every one lists rows (people,
# clients, plans) that the view sets; its service checks the id and says what is wrong, after
# checking that the request may act at all (so a stranger gets 403, not a 422 about the list).
UNVALIDATED = {
    ("AssignForm", "assignee"): "staff ids; tickets.services.assign checks them",
    ("BulkForm", "assignee"): "staff ids, 'none' or keep; tickets.bulk assigns each ticket through tickets.services.assign",
    ("BulkForm", "ticket"): "the queue's rows; tickets.agent reads them as ids and tickets.bulk loads each through tickets.access",
    ("RuleForm", "view"): "shared saved views; tickets.autoassign refuses a missing, personal or invalid one when saving",
    ("MacroForm", "set_assignee"): "staff ids or 'me'; tickets.macros checks them when saving",
    ("TriageForm", "set_assignee"): "staff ids, 'none' or keep; tickets.triage assigns through tickets.services.assign",
    ("FollowerForm", "user"): "colleague ids; tickets.followers checks them (same company, active client user)",
    ("SubscriptionForm", "client"): "client ids; plans.services.create_subscription checks them",
    ("SubscriptionForm", "plan"): "plans on sale; the service says when a plan is no longer on sale",
    ("StartOnboardingForm", "client"): "clients without an onboarding; the service says which is taken",
    ("StartOnboardingForm", "guardian"): "guardian ids; the service checks them",
    ("GuardianForm", "guardian"): "guardian ids; 403 for a non-guardian comes first",
    ("StageForm", "owner"): "people of the onboarding; the service checks them",
    ("MeetingForm", "participants"): "people of the onboarding; the service names a stranger",
}


def _form_classes() -> list[type]:
    for package in ("helpdesk", "knowledge", "plans", "tickets"):
        root = importlib.import_module(package)
        for module in pkgutil.walk_packages(root.__path__, f"{package}."):
            importlib.import_module(module.name)
    found, todo = [], [Form]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__module__.split(".")[0] in ("helpdesk", "plans", "tickets") and cls is not FlaskForm:
            found.append(cls)
    return found


def unvalidated_choices(classes) -> set[tuple[str, str]]:
    """(form, field) of every choice field declared with validate_choice=False."""
    bad = set()
    for cls in classes:
        for name in dir(cls):
            field = getattr(cls, name, None)
            if (isinstance(field, UnboundField) and issubclass(field.field_class, SelectFieldBase)
                    and field.kwargs.get("validate_choice", True) is False):
                bad.add((cls.__name__, name))
    return bad


def test_every_choice_field_validates_its_choice_unless_listed_with_a_reason(app):
    classes = _form_classes()
    assert {"NewTicketForm", "TermsFields", "MeetingForm", "UserForm"} <= {c.__name__ for c in classes}
    assert unvalidated_choices(classes) == set(UNVALIDATED)


def test_the_walk_finds_an_unvalidated_choice():
    # the control: a form with a choice field that skips validation is found
    class Careless(Form):
        category = SelectField(choices=["bug"], validate_choice=False)
        priority = SelectField(choices=["low"])

    assert unvalidated_choices([Careless]) == {("Careless", "category")}


def _field_error(page: str, field: str) -> str:
    found = re.search(rf'<p class="field-error" id="{field}(?:-0)?-error">([^<]*)</p>', page)
    return found.group(1) if found else ""


NEW_TICKET = {"subject": "Labels print blank", "description": "Every label is blank.", "category": "bug",
              "priority": "high"}


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"category": "nonsense"}, "category", "Choose one of: Question, Configuration change, Bug."),
        ({"priority": "critical"}, "priority", "Choose one of: Low, Normal, High, Urgent."),
    ],
)
def test_a_forged_choice_on_the_new_ticket_form(web, world, login, change, field, message):
    from tickets.models import Ticket

    login(world.acme_user)
    response = web.post("/portal/tickets/new", data={**NEW_TICKET, **change})
    assert response.status_code == 422
    page = text_of(response)
    assert _field_error(page, field) == message
    assert 'value="Labels print blank"' in page  # nothing typed is lost
    assert db.session.scalar(select(func.count(Ticket.id))) == 0


def test_the_choice_message_is_in_the_readers_language(web, world, login):
    login(world.acme_user)
    response = web.post("/portal/tickets/new", data={**NEW_TICKET, "category": "nonsense"},
                        headers={"Accept-Language": "pl"})
    assert response.status_code == 422
    message = _field_error(text_of(response), "category")
    assert message.startswith("Wybierz") and "Pytanie" in message and "question" not in message


@pytest.mark.parametrize(
    ("action", "data", "message"),
    [
        ("category", {"category": "nonsense", "reason": "why"}, "Choose one of: Question, Configuration change, Bug."),
        ("priority", {"priority": "nonsense"}, "Choose one of: Low, Normal, High, Urgent."),
        ("status", {"status": "nonsense"}, "Choose one of: New, Open, Waiting on client, Resolved, Closed."),
    ],
)
def test_a_forged_choice_on_the_agents_forms(web, world, login, make_ticket, action, data, message):
    from tickets.models import Ticket, TicketEvent

    ticket = make_ticket(world.acme_user)
    before = db.session.scalar(select(func.count(TicketEvent.id)))
    login(world.agent)
    response = web.post(f"/agent/tickets/{ticket.id}/{action}", data=data)
    assert response.status_code == 422
    assert message in text_of(response)
    db.session.expire_all()
    stored = db.session.get(Ticket, ticket.id)
    assert (stored.category, stored.priority, stored.status) == (ticket.category, ticket.priority, ticket.status)
    assert db.session.scalar(select(func.count(TicketEvent.id))) == before


@pytest.mark.parametrize("minutes", ["３０", "٣٠", "1_0", "+5", "1e2"])
def test_a_number_not_in_ascii_digits_on_the_time_form(cov, world, clock, web, login, minutes):
    from tickets.models import TimeEntry

    clock.on(date(2026, 11, 10))
    ticket = cov.file(world.acme_user)
    login(world.agent)
    response = web.post(f"/agent/tickets/{ticket.id}/time", data={"minutes": minutes, "work_date": "2026-11-10"})
    assert response.status_code == 422
    page = text_of(response)
    assert _field_error(page, "minutes") == "Enter a whole number with the digits 0-9."
    assert f'value="{minutes}"' in page  # shown again as typed
    assert db.session.scalar(select(func.count(TimeEntry.id))) == 0


PLAN = {"name": "Standard", "period": "month", "covered_categories": ["question"], "allowance_minutes": "600",
        "billing_increment": "15", "rollover_cap_minutes": "0", "overage_policy": "bill", "hourly_rate": "180",
        "currency": "PLN"}


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"covered_categories": ["nonsense"]}, "covered_categories", "Choose one of: Question, Configuration change, Bug."),
        ({"period": "nonsense"}, "period", "Choose one of: Month, Quarter."),
        ({"sla_policy_id": "999999"}, "sla_policy_id", "Choose an SLA policy from the list."),
        ({"allowance_minutes": "６００"}, "allowance_minutes", "Enter a whole number with the digits 0-9."),
        ({"allowance_tickets": "１０"}, "allowance_tickets", "Enter a whole number with the digits 0-9."),
        ({"hourly_rate": "１８０"}, "hourly_rate", "Enter an amount from 0 to 100000 with at most two decimals."),
        ({"hourly_rate": "1e3"}, "hourly_rate", "Enter an amount from 0 to 100000 with at most two decimals."),
    ],
)
def test_a_forged_choice_or_number_on_the_plan_form(world, clock, web, login, change, field, message):
    from plans.models import SupportPlan

    clock.on(date(2026, 11, 10))
    login(world.manager)
    response = web.post("/manager/plans/new", data={**PLAN, **change})
    assert response.status_code == 422
    page = text_of(response)
    assert _field_error(page, field).startswith(message)
    assert 'value="Standard"' in page
    typed = change[field]
    if isinstance(typed, str):
        assert f'value="{typed}"' in page or field in ("period", "sla_policy_id")
    assert db.session.scalar(select(func.count(SupportPlan.id))) == 0


def test_the_typed_values_reach_the_service(world, clock, web, login):
    from plans.models import SupportPlan

    clock.on(date(2026, 11, 10))
    login(world.manager)
    response = web.post("/manager/plans/new", data={**PLAN, "allowance_minutes": " 600 ", "hourly_rate": "180,5"})
    assert response.status_code == 302
    (version,) = db.session.scalars(select(SupportPlan)).one().versions
    assert (version.allowance_minutes, str(version.hourly_rate)) == (600, "180.50")


@pytest.mark.parametrize(
    ("typed", "data", "error"),
    [
        (" 42 ", 42, None), ("", None, None), ("0", None, "Enter a whole number from 1 to 60."),
        ("-3", None, "Enter a whole number from 1 to 60."), ("61", None, "Enter a whole number from 1 to 60."),
        ("1.5", None, "Enter a whole number with the digits 0-9."), ("４２", None, "Enter a whole number with the digits 0-9."),
        ("1_0", None, "Enter a whole number with the digits 0-9."), ("+5", None, "Enter a whole number with the digits 0-9."),
    ],
)
def test_whole_number_field(app, typed, data, error):
    from werkzeug.datastructures import MultiDict

    from helpdesk.forms import WholeNumberField

    class Small(Form):
        n = WholeNumberField(minimum=1, maximum=60)

    with app.test_request_context():
        form = Small(MultiDict({"n": typed}))
        assert form.validate() is (error is None)
        assert form.n.errors == ([error] if error else [])
        if error is None:
            assert form.n.data == data
        assert form.n._value() == typed  # shown again as typed


@pytest.mark.parametrize(
    ("typed", "data"),
    [("180", "180"), ("180,5", "180.5"), (" 0.99 ", "0.99"), ("", None),
     ("12.345", "bad"), ("1e3", "bad"), ("NaN", "bad"), ("-1", "bad"), ("100001", "bad"), ("１８０", "bad")],
)
def test_amount_field(app, typed, data):
    from decimal import Decimal

    from werkzeug.datastructures import MultiDict

    from helpdesk.forms import AmountField

    class Small(Form):
        rate = AmountField(maximum=Decimal(100_000))

    with app.test_request_context():
        form = Small(MultiDict({"rate": typed}))
        if data == "bad":
            assert not form.validate()
            assert form.rate.errors == ["Enter an amount from 0 to 100000 with at most two decimals."]
        else:
            assert form.validate(), form.rate.errors
            assert form.rate.data == (None if data is None else Decimal(data))
