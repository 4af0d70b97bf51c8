"""Coverage, SLA and time entries over the API: the same decisions and ledger as the web pages."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import event

from tests.api.support import error_of

DAY = date(2026, 11, 10)


@pytest.fixture
def allowance_of_an_hour(cov, world, clock):
    """ACME in production with a plan of 60 minutes a month; beyond it a manager approves."""
    plan = cov.plan(allowance_minutes=60, overage_policy="approval", hourly_rate="", billing_increment=15)
    cov.production(world.acme, date(2026, 1, 5))
    cov.subscribe(world.acme, plan, date(2026, 10, 1))
    clock.on(DAY)
    return plan


def _log(api, token, ticket_id, minutes, day=DAY, **extra):
    return api.post(f"/api/v1/tickets/{ticket_id}/time-entries", token,
                    json={"minutes": minutes, "date": day.isoformat(), **extra})


def test_time_entries_consume_the_allowance_and_the_ticket_s_coverage_follows(
    app, world, api, tokens, cov, allowance_of_an_hour
):
    from plans.services import decisions_for_ticket

    ticket = cov.file(world.acme_user, "question")
    filed = api.get(f"/api/v1/tickets/{ticket.id}", tokens.acme_user).get_json()["coverage"]
    assert filed == {"source": "support_plan", "covered": True, "approval": None,
                     "reason": "Covered by your Standard plan for November"}

    response = _log(api, tokens.agent, ticket.id, 40, note="Remote session")
    assert response.status_code == 201
    entry = response.get_json()
    assert (entry["ticket_id"], entry["minutes"], entry["billed_minutes"], entry["date"], entry["note"]) == (
        ticket.id, 40, 45, "2026-11-10", "Remote session",
    )
    assert entry["author"]["id"] == world.agent.id
    assert entry["coverage"] == {
        "source": "support_plan", "covered": True, "approval": None,
        "reason": "Covered by your Standard plan for November",
        "covered_minutes": 45, "overage_minutes": 0, "charges": [{"charge": "allowance", "minutes": 45}],
    }
    assert entry["ticket"]["coverage"]["covered"] is True

    # 15 minutes are left: the next 30 are split, and the rest waits for a manager.
    entry = _log(api, tokens.agent, ticket.id, 30).get_json()
    assert (entry["coverage"]["covered_minutes"], entry["coverage"]["overage_minutes"]) == (15, 15)
    assert entry["coverage"]["charges"] == [{"charge": "allowance", "minutes": 15}, {"charge": "pending", "minutes": 15}]
    assert entry["ticket"]["coverage"]["approval"] == "pending"

    # Used up: the decision itself now says so, and the ticket (read back) shows it.
    entry = _log(api, tokens.agent, ticket.id, 10).get_json()
    assert entry["coverage"]["source"] == "support_plan" and entry["coverage"]["covered"] is False
    assert "used up" in entry["coverage"]["reason"]
    assert entry["coverage"]["charges"] == [{"charge": "pending", "minutes": 15}]
    ticket_now = api.get(f"/api/v1/tickets/{ticket.id}", tokens.acme_user).get_json()
    assert ticket_now == {**entry["ticket"], "updated_at": ticket_now["updated_at"]}
    assert ticket_now["coverage"] == {
        "source": "support_plan", "covered": False, "approval": "pending", "reason": entry["coverage"]["reason"],
    }
    # The same records as the agent's page writes: one decision per entry, the history names the token.
    assert [d.trigger for d in decisions_for_ticket(ticket.id)] == ["filed", "time_entry", "time_entry", "time_entry"]
    from tickets.access import history

    logged = [e for e in history(world.agent, ticket) if e.kind == "time_logged"]
    assert [(e.via, e.data["minutes"]) for e in logged] == [("api: agent script", m) for m in (40, 30, 10)]


def test_a_bug_s_time_is_free_and_a_reclassification_shows_at_once(app, world, api, tokens, cov, allowance_of_an_hour):
    ticket = cov.file(world.acme_user, "question")
    response = api.patch(f"/api/v1/tickets/{ticket.id}", tokens.agent, json={"category": "bug", "reason": "A crash"})
    assert response.get_json()["coverage"] == {
        "source": "bug_fix", "covered": True, "approval": None, "reason": "Bug fixes are always free",
    }
    entry = _log(api, tokens.agent, ticket.id, 7).get_json()
    assert (entry["billed_minutes"], entry["coverage"]["charges"]) == (7, [{"charge": "free", "minutes": 7}])


def test_the_reason_is_in_the_token_user_s_language(app, world, api, tokens, cov, allowance_of_an_hour):
    from helpdesk.extensions import db

    world.acme_user.language = "pl"
    db.session.commit()
    ticket = cov.file(world.acme_admin, "bug")
    assert api.get(f"/api/v1/tickets/{ticket.id}", tokens.acme_user).status_code == 404  # not hers
    english = api.get(f"/api/v1/tickets/{ticket.id}", tokens.acme_admin)
    assert english.get_json()["coverage"]["reason"] == "Bug fixes are always free"  # the admin has no language set
    own = cov.file(world.acme_user, "bug")
    items = api.get("/api/v1/tickets", tokens.acme_user).get_json()["items"]
    assert [(t["id"], t["coverage"]["reason"]) for t in items] == [(own.id, "Poprawki błędów są zawsze bezpłatne")]


def test_the_list_loads_the_page_s_decisions_in_one_query(app, world, api, tokens, cov, allowance_of_an_hour):
    from helpdesk.extensions import db

    made = [cov.file(world.acme_user, category) for category in ("bug", "question", "configuration_change") * 2]
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        items = api.get("/api/v1/tickets", tokens.agent).get_json()["items"]
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert [t["id"] for t in items] == [t.id for t in reversed(made)]
    assert all(t["coverage"]["reason"] for t in items)
    assert sum("FROM coverage_decisions" in s for s in statements) == 1


def test_sla_instants_and_the_paused_and_breached_flags(app, world, api, tokens, cov, allowance_of_an_hour, clock):
    from helpdesk.clock import utcnow
    from helpdesk.extensions import db
    from tickets.models import Ticket
    from tickets.sla.jobs import sweep

    ticket = cov.file(world.acme_user, "bug")
    body = api.get(f"/api/v1/tickets/{ticket.id}", tokens.acme_user).get_json()
    stored = db.session.get(Ticket, ticket.id)
    assert stored.first_response_due_at is not None and stored.resolution_due_at is not None
    assert body["sla"] == {
        "first_response_due": stored.first_response_due_at.isoformat(),
        "resolution_due": stored.resolution_due_at.isoformat(),
        "paused": False,
        "breached": False,
    }
    # Waiting on the client: the clocks pause and their due instants are unknown until they resume.
    body = api.patch(f"/api/v1/tickets/{ticket.id}", tokens.agent, json={"status": "waiting_on_client"}).get_json()
    assert body["sla"] == {"first_response_due": None, "resolution_due": None, "paused": True, "breached": False}
    body = api.post(f"/api/v1/tickets/{ticket.id}/replies", tokens.acme_user, json={"body": "Here it is."}).get_json()
    assert body["status"] == "open" and body["sla"]["paused"] is False
    assert body["sla"]["resolution_due"] is not None
    clock.on(date(2026, 12, 30))  # weeks later: the sweep records the breaches
    sweep(utcnow())
    body = api.get(f"/api/v1/tickets/{ticket.id}", tokens.acme_user).get_json()
    assert body["sla"]["breached"] is True
    listed = api.get("/api/v1/tickets?status=open", tokens.agent).get_json()["items"]
    assert [t["sla"]["breached"] for t in listed] == [True]


def test_who_may_log_time_and_on_what(app, world, api, tokens, cov, allowance_of_an_hour, file_ticket):
    ticket = cov.file(world.acme_user, "question")
    other = cov.file(world.globex_user, "question")
    for token in (tokens.acme_user, tokens.acme_admin):
        assert _log(api, token, ticket.id, 10).status_code == 403  # staff only, even on one's own ticket
        assert _log(api, token, other.id, 10).status_code == 403
    assert _log(api, tokens.manager, other.id, 10).status_code == 201  # staff work every company's tickets
    assert _log(api, tokens.agent, 999_999, 10).status_code == 404


@pytest.mark.parametrize(
    "body, field",
    [
        ({"minutes": 30, "date": "2026-11-11"}, "date"),  # tomorrow
        ({"minutes": 30, "date": "2026-10-01"}, "date"),  # before the ticket was filed
        ({"minutes": 30, "date": "2026-11-10", "note": "x" * 501}, "note"),
        ({"minutes": 1441, "date": "2026-11-10"}, "minutes"),
    ],
)
def test_refused_entries_store_nothing(app, world, api, tokens, cov, allowance_of_an_hour, count_rows, body, field):
    from plans.models import CoverageDecision, UsageEntry
    from tickets.models import TimeEntry

    ticket = cov.file(world.acme_user, "question")
    before = [count_rows(m) for m in (TimeEntry, CoverageDecision, UsageEntry)]
    response = api.post(f"/api/v1/tickets/{ticket.id}/time-entries", tokens.agent, json=body)
    assert response.status_code == 422
    assert set(error_of(response)["fields"]) == {field}
    assert [count_rows(m) for m in (TimeEntry, CoverageDecision, UsageEntry)] == before


def test_a_filing_reads_the_subscription_its_plan_and_the_plan_s_versions_in_one_statement(
    app, world, api, tokens, allowance_of_an_hour
):
    from helpdesk.extensions import db

    api.post("/api/v1/tickets", tokens.acme_user, json={"subject": "Warm", "description": "Up.", "category": "question"})
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(" ".join(statement.split()))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        response = api.post("/api/v1/tickets", tokens.acme_user,
                            json={"subject": "Labels", "description": "Blank.", "category": "question"})
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert response.status_code == 201
    assert response.get_json()["coverage"]["source"] == "support_plan"  # the versions were there to decide with
    reads = [s for s in statements if s.startswith("SELECT") and ("FROM subscriptions" in s or "FROM plan_versions" in s)]
    assert len(reads) == 1 and "plan_versions" in reads[0], reads
