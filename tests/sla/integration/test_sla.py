"""SLA clocks on real databases: due instants, pauses, recomputation, facts, timers, the sweep."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, func, select

from helpdesk.clock import frozen

WARSAW = ZoneInfo("Europe/Warsaw")
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)


def warsaw(*args: int) -> datetime:
    return datetime(*args, tzinfo=WARSAW)


def utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


# Monday 12 January 2026, 09:00 in Warsaw; the default calendar is Mon-Fri 08:00-16:00.
MON_9 = warsaw(2026, 1, 12, 9, 0)


def make_policy(name: str, calendar: str = "24/7", first: int = 60, resolution: int = 240, percent: int = 80,
                sources: tuple[str, ...] = ()) -> Any:
    """A policy with the same targets for every priority, mapped to `sources`."""
    from helpdesk.calendars.models import builtin_calendars
    from helpdesk.calendars.policies import PRIORITIES, PolicyInput, save_policy
    from helpdesk.extensions import db
    from tickets.sla.policies import save_source_mapping, source_mapping

    calendars = builtin_calendars()
    db.session.commit()
    targets = {}
    for priority in PRIORITIES:
        targets[f"first_response_{priority}"] = first
        targets[f"resolution_{priority}"] = resolution
    policy = save_policy(None, PolicyInput(name, calendars[calendar].id, percent, targets))
    if sources:
        mapping = {k: ("" if v is None else str(v)) for k, v in source_mapping().items()}
        mapping.update({source: str(policy.id) for source in sources})
        save_source_mapping(mapping)
    return policy


def facts(ticket_id: int) -> list[tuple[str, str, datetime]]:
    from helpdesk.extensions import db
    from tickets.models import SlaEvent

    db.session.expire_all()
    rows = db.session.scalars(select(SlaEvent).where(SlaEvent.ticket_id == ticket_id).order_by(SlaEvent.id))
    return [(e.clock, e.kind, e.instant) for e in rows]


def history_kinds(ticket_id: int) -> list[str]:
    from helpdesk.extensions import db
    from tickets.models import TicketEvent

    return list(db.session.scalars(
        select(TicketEvent.kind).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)
    ))


def fresh(ticket: Any) -> Any:
    from helpdesk.extensions import db
    from tickets.models import Ticket

    db.session.expire_all()
    return db.session.get(Ticket, ticket.id)


# -- due instants and clocks -----------------------------------------------------------------


def test_filing_stores_due_instants_from_the_default_policy(app, world, make_ticket):
    from helpdesk.extensions import db
    from tickets.models import SlaClock

    with frozen(MON_9):
        ticket = make_ticket(world.acme_user, priority="normal")
    ticket = fresh(ticket)
    # Standard policy, normal priority: first response 4 business hours, resolution 32.
    assert ticket.sla_source == "onboarding" and ticket.sla_policy_id is not None
    assert ticket.first_response_due_at == utc(warsaw(2026, 1, 12, 13, 0))
    assert ticket.resolution_due_at == utc(warsaw(2026, 1, 16, 9, 0))
    assert ticket.next_deadline_at == ticket.first_response_due_at
    assert ticket.sla_check_at == utc(warsaw(2026, 1, 12, 12, 12))  # the warning at 80 % of 4 h
    assert ticket.sla_state == "running"
    clocks = {c.kind: c for c in db.session.scalars(select(SlaClock).where(SlaClock.ticket_id == ticket.id))}
    assert set(clocks) == {"first_response", "resolution"}
    assert (clocks["first_response"].target_minutes, clocks["resolution"].target_minutes) == (240, 1920)


def test_first_public_agent_reply_meets_the_first_response_clock(app, world, make_ticket):
    from tickets.models import SlaClock
    from tickets.services import Actor, add_message

    with frozen(MON_9):
        ticket = make_ticket(world.acme_user)
    with frozen(MON_9 + HOUR):
        add_message(Actor(world.agent), ticket, body="Looking into it.", internal=True)
    assert fresh(ticket).first_responded_at is None
    with frozen(MON_9 + 2 * HOUR):
        add_message(Actor(world.agent), ticket, body="Here is how.")
    with frozen(MON_9 + 3 * HOUR):
        add_message(Actor(world.agent2), ticket, body="And one more thing.")
    ticket = fresh(ticket)
    assert ticket.first_responded_at == utc(MON_9 + 2 * HOUR)
    assert ticket.status == "open"
    # The queue now looks at the resolution clock only.
    assert ticket.next_deadline_at == ticket.resolution_due_at
    from helpdesk.extensions import db

    clock = db.session.scalar(select(SlaClock).where(SlaClock.ticket_id == ticket.id, SlaClock.kind == "first_response"))
    assert (clock.state, clock.outcome, clock.stopped_at) == ("stopped", "met", utc(MON_9 + 2 * HOUR))


def test_waiting_on_the_client_pauses_and_the_client_reply_resumes(app, world, make_ticket):
    from helpdesk.extensions import db
    from tickets.models import SlaPause
    from tickets.services import Actor, add_message, change_status

    with frozen(MON_9):
        ticket = make_ticket(world.acme_user)
    with frozen(MON_9 + HOUR):  # 10:00: asks the client something (no public reply yet)
        change_status(Actor(world.agent), ticket, "waiting_on_client")
    paused = fresh(ticket)
    assert paused.sla_state == "paused"
    assert paused.next_deadline_at is None and paused.sla_check_at is None
    assert paused.first_response_due_at is None  # unknown until the clock resumes
    # The client answers on Tuesday at 11:00: 6 h on Monday and 3 h on Tuesday were paused.
    with frozen(warsaw(2026, 1, 13, 11, 0)):
        add_message(Actor(world.acme_user), ticket, body="Here is the export.")
    ticket = fresh(ticket)
    assert ticket.status == "open" and ticket.sla_state == "running"
    assert ticket.first_response_due_at == utc(warsaw(2026, 1, 13, 14, 0))  # 3 h were left
    assert ticket.sla_paused_seconds == 9 * 3600
    pauses = db.session.scalars(select(SlaPause).where(SlaPause.ticket_id == ticket.id)).all()
    assert [(p.reason, p.started_at, p.ended_at) for p in pauses] == [
        ("waiting_on_client", utc(MON_9 + HOUR), utc(warsaw(2026, 1, 13, 11, 0)))
    ]


def test_resolving_stops_the_clocks_and_a_client_reply_reopens_and_resumes_them(app, world, make_ticket):
    from tickets.services import Actor, add_message, change_status

    with frozen(MON_9):
        ticket = make_ticket(world.acme_user)
    with frozen(MON_9 + HOUR):
        add_message(Actor(world.agent), ticket, body="Fixed, I think.")
        change_status(Actor(world.agent), ticket, "resolved")
    resolved = fresh(ticket)
    assert resolved.sla_state == "stopped" and resolved.next_deadline_at is None
    resolution_due = resolved.resolution_due_at
    with frozen(warsaw(2026, 1, 13, 9, 0)):  # a business day later, within the reopen window
        add_message(Actor(world.acme_user), ticket, body="Still broken.")
    ticket = fresh(ticket)
    assert ticket.status == "open" and ticket.sla_state == "running"
    # The time it spent resolved does not count: Monday 10:00-16:00 and Tuesday 08:00-09:00.
    assert resolution_due == utc(warsaw(2026, 1, 16, 9, 0))
    assert ticket.resolution_due_at == utc(warsaw(2026, 1, 16, 16, 0))
    assert ticket.next_deadline_at == ticket.resolution_due_at


def test_priority_change_recomputes_from_the_history_and_the_history_says_so(app, world, make_ticket):
    from helpdesk.extensions import db
    from tickets.models import TicketEvent
    from tickets.services import Actor, add_message, change_priority, change_status

    with frozen(MON_9):
        ticket = make_ticket(world.acme_user, priority="low")  # 8 h first response
    with frozen(MON_9 + HOUR):
        change_status(Actor(world.agent), ticket, "waiting_on_client")
    with frozen(MON_9 + 2 * HOUR):
        add_message(Actor(world.acme_user), ticket, body="Answer.")
    with frozen(MON_9 + 3 * HOUR):
        change_priority(Actor(world.agent), ticket, "high")  # 2 h: 1 h counted, 1 h paused
    ticket = fresh(ticket)
    assert ticket.first_response_due_at == utc(warsaw(2026, 1, 12, 12, 0))
    event_row = db.session.scalar(select(TicketEvent).where(
        TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "sla_recomputed"))
    assert event_row.actor_id == world.agent.id and event_row.internal
    assert event_row.data["reason"] == "priority"
    # Low: 8 h from Monday 09:00 plus the hour paused is Tuesday 10:00; high: Monday 12:00.
    assert event_row.data["first_response_due"] == {
        "from": utc(warsaw(2026, 1, 13, 10, 0)).isoformat(),
        "to": utc(warsaw(2026, 1, 12, 12, 0)).isoformat(),
    }
    page = history_kinds(ticket.id)
    assert page.index("priority_changed") < page.index("sla_recomputed")


def test_reclassifying_as_a_bug_switches_to_the_bug_fix_policy(app, world, make_ticket):
    from helpdesk.extensions import db
    from tickets.models import TicketEvent
    from tickets.services import Actor, reclassify

    bugs = make_policy("Bugs around the clock", "24/7", first=30, resolution=120, sources=("bug_fix",))
    with frozen(MON_9):
        ticket = make_ticket(world.acme_user, category="question")
    before = fresh(ticket)
    assert before.sla_source == "onboarding" and before.sla_policy_id != bugs.id
    standard = before.sla_policy_id
    with frozen(MON_9 + 10 * MINUTE):
        reclassify(Actor(world.agent), ticket, "bug", "It is a defect.")
    ticket = fresh(ticket)
    assert (ticket.sla_source, ticket.sla_policy_id) == ("bug_fix", bugs.id)
    assert ticket.first_response_due_at == utc(MON_9 + 30 * MINUTE)
    assert ticket.resolution_due_at == utc(MON_9 + 120 * MINUTE)
    recomputed = db.session.scalar(select(TicketEvent).where(TicketEvent.kind == "sla_recomputed"))
    assert recomputed.data["reason"] == "category"
    assert recomputed.data["policy"] == {"from": standard, "to": bugs.id}


def test_uncovered_tickets_get_no_sla_when_the_manager_says_so(app, world, make_ticket):
    from helpdesk.extensions import db
    from tickets.models import SlaClock
    from tickets.sla.policies import save_source_mapping

    world.acme.phase = "production"  # since 2020: the package is long over, and there is no plan
    world.acme.protocol_signed_on = date(2020, 1, 6)
    db.session.commit()
    save_source_mapping({"bug_fix": "default", "onboarding": "default", "post_onboarding_package": "default",
                         "none": ""})
    ticket = fresh(make_ticket(world.acme_user, category="question"))
    assert ticket.sla_source == "none" and ticket.sla_policy_id is None and ticket.sla_state is None
    assert ticket.first_response_due_at is None and ticket.next_deadline_at is None
    assert db.session.scalar(select(func.count(SlaClock.id))) == 0
    bug = fresh(make_ticket(world.acme_user, category="bug"))
    assert bug.sla_source == "bug_fix" and bug.sla_policy_id is not None


# -- facts -----------------------------------------------------------------------------------


def test_warning_and_breach_are_recorded_once_each(app, world, make_ticket):
    from helpdesk.extensions import db
    from tickets.models import SlaEvent, Ticket
    from tickets.sla.jobs import process_ticket, sweep
    from tickets.sla.refresh import notification_for

    make_policy("Fast", "24/7", first=10, resolution=600, sources=("onboarding",))
    with frozen(MON_9):
        ticket = make_ticket(world.acme_user)
    assert process_ticket(ticket.id, utc(MON_9 + 7 * MINUTE)) == 0
    assert process_ticket(ticket.id, utc(MON_9 + 8 * MINUTE)) == 1  # 80 % of 10 minutes
    assert process_ticket(ticket.id, utc(MON_9 + 9 * MINUTE)) == 0
    assert fresh(ticket).sla_state == "warning"
    assert fresh(ticket).sla_check_at == utc(MON_9 + 10 * MINUTE)
    assert sweep(utc(MON_9 + 10 * MINUTE)).facts == 1
    for _ in range(2):
        assert sweep(utc(MON_9 + 30 * MINUTE)).facts == 0
        assert process_ticket(ticket.id, utc(MON_9 + 30 * MINUTE)) == 0
    assert facts(ticket.id) == [
        ("first_response", "warning", utc(MON_9 + 8 * MINUTE)),
        ("first_response", "breach", utc(MON_9 + 10 * MINUTE)),
    ]
    assert history_kinds(ticket.id).count("sla_breached") == 1
    assert history_kinds(ticket.id).count("sla_warning") == 1
    ticket = fresh(ticket)
    assert ticket.sla_state == "breached"
    assert ticket.sla_check_at == utc(MON_9 + 480 * MINUTE)  # next: the resolution's warning
    fact = db.session.scalar(select(SlaEvent).where(SlaEvent.kind == "breach"))
    name, recipients, values = notification_for(db.session.get(Ticket, ticket.id), fact)
    assert name == "sla.breached"
    assert recipients == [world.manager.id]  # nobody assigned, no guardian
    assert values["clock"] == "first_response" and values["number"] == ticket.number


def test_a_late_sweep_records_the_breach_without_a_stale_warning(app, world, make_ticket):
    from tickets.sla.jobs import sweep

    make_policy("Fast", "24/7", first=10, resolution=600, sources=("onboarding",))
    with frozen(MON_9):
        ticket = make_ticket(world.acme_user)
    result = sweep(utc(MON_9 + 15 * MINUTE))
    assert (result.tickets, result.facts) == (1, 1)
    assert facts(ticket.id) == [("first_response", "breach", utc(MON_9 + 10 * MINUTE))]


def test_a_reply_after_the_due_instant_still_records_the_breach(app, world, make_ticket):
    from tickets.services import Actor, add_message

    make_policy("Fast", "24/7", first=10, resolution=600, sources=("onboarding",))
    with frozen(MON_9):
        ticket = make_ticket(world.acme_user)
    with frozen(MON_9 + 12 * MINUTE):  # no sweep ran in between
        add_message(Actor(world.agent), ticket, body="Sorry for the wait.")
    assert facts(ticket.id) == [("first_response", "breach", utc(MON_9 + 10 * MINUTE))]
    assert fresh(ticket).sla_state == "running"  # that clock stopped; resolution runs on


# -- timers on RQ ----------------------------------------------------------------------------


@pytest.fixture
def rq_app_config(app_config, redis_url):
    app_config["REDIS_URL"] = redis_url
    return app_config


def scheduled(app: Any) -> dict[str, datetime]:
    from rq.registry import ScheduledJobRegistry

    from helpdesk.jobs import get_queue

    registry = ScheduledJobRegistry(queue=get_queue(app))
    return {job_id: registry.get_scheduled_time(job_id) for job_id in registry.get_job_ids()}


def timers_of(app: Any, ticket_id: int) -> dict[str, datetime]:
    return {k: v for k, v in scheduled(app).items() if k.startswith(f"sla-{ticket_id}-")}


def test_timers_have_deterministic_ids_and_follow_the_due_instants(rq_app_config, app, world, make_ticket):
    from rq.job import Job

    from helpdesk.jobs import get_queue
    from tickets.services import Actor, add_message, change_priority, change_status, reclassify

    make_policy("Fast", "24/7", first=10, resolution=600, sources=("onboarding",))
    start = datetime(2026, 1, 12, 8, 0, 0, 400_000, tzinfo=UTC)
    with frozen(start):
        ticket = make_ticket(world.acme_user)
    tid = ticket.id
    second = timedelta(seconds=1) - timedelta(microseconds=400_000)  # rounded up to the whole second
    assert timers_of(app, tid) == {
        f"sla-{tid}-first_response-warning": start + 8 * MINUTE + second,
        f"sla-{tid}-first_response-breach": start + 10 * MINUTE + second,
        f"sla-{tid}-resolution-warning": start + 480 * MINUTE + second,
        f"sla-{tid}-resolution-breach": start + 600 * MINUTE + second,
    }
    assert not any(k.startswith("sla-sweep-") for k in scheduled(app))  # the sweep is periodic, no chain

    with frozen(start + MINUTE):
        change_priority(Actor(world.agent), ticket, "urgent")  # same targets here: nothing moves
    assert timers_of(app, tid)[f"sla-{tid}-first_response-breach"] == start + 10 * MINUTE + second

    # Reclassified as a bug, under a faster policy: the same four ids, superseded with new instants.
    make_policy("Faster", "24/7", first=5, resolution=300, sources=("bug_fix",))
    with frozen(start + 90 * timedelta(seconds=1)):
        reclassify(Actor(world.agent), ticket, "bug", "A defect.")
    assert timers_of(app, tid) == {
        f"sla-{tid}-first_response-warning": start + 4 * MINUTE + second,
        f"sla-{tid}-first_response-breach": start + 5 * MINUTE + second,
        f"sla-{tid}-resolution-warning": start + 240 * MINUTE + second,
        f"sla-{tid}-resolution-breach": start + 300 * MINUTE + second,
    }

    with frozen(start + 2 * MINUTE):
        change_status(Actor(world.agent), ticket, "waiting_on_client")
    assert timers_of(app, tid) == {}  # paused: nothing can be due, and the jobs are gone
    connection = get_queue(app).connection
    assert not any(Job.exists(f"sla-{tid}-{c}-{k}", connection=connection)
                   for c in ("first_response", "resolution") for k in ("warning", "breach"))
    with frozen(start + 32 * MINUTE):
        add_message(Actor(world.acme_user), ticket, body="Back.")
    moved = timers_of(app, tid)
    assert moved[f"sla-{tid}-first_response-breach"] == start + 35 * MINUTE + second  # 2 min ran, 3 left
    assert len(moved) == 4
    with frozen(start + 33 * MINUTE):
        add_message(Actor(world.agent), ticket, body="Answer.")
    assert set(timers_of(app, tid)) == {f"sla-{tid}-resolution-warning", f"sla-{tid}-resolution-breach"}


def test_a_due_timer_runs_on_a_worker_and_records_the_breach(rq_app_config, app, world, make_ticket):
    from rq import SimpleWorker

    from helpdesk.extensions import db
    from helpdesk.jobs import get_queue

    make_policy("Fast", "24/7", first=1, resolution=600, sources=("onboarding",))
    past = datetime.now(UTC) - 5 * MINUTE  # filed five minutes ago: the timers are due already
    with frozen(past):
        ticket = make_ticket(world.acme_user)
    assert f"sla-{ticket.id}-first_response-breach" in scheduled(app)
    db.session.commit()
    queue = get_queue(app)
    SimpleWorker([queue], connection=queue.connection).work(burst=True, with_scheduler=True)
    recorded = facts(ticket.id)
    assert [(c, k) for c, k, _ in recorded] == [("first_response", "breach")]
    assert recorded[0][2] == past + MINUTE
    assert fresh(ticket).sla_state == "breached"
    assert f"sla-{ticket.id}-first_response-breach" not in scheduled(app)
    # Run again: nothing new.
    SimpleWorker([queue], connection=queue.connection).work(burst=True, with_scheduler=True)
    assert len(facts(ticket.id)) == 1


def test_the_sweep_catches_a_lost_timer(rq_app_config, app, world, make_ticket):
    from rq.registry import ScheduledJobRegistry

    from helpdesk.extensions import db
    from helpdesk.jobs import get_queue
    from tickets.sla.jobs import sla_sweep

    make_policy("Fast", "24/7", first=1, resolution=600, sources=("onboarding",))
    with frozen(datetime.now(UTC) - 3 * MINUTE):
        ticket = make_ticket(world.acme_user)
    db.session.commit()
    registry = ScheduledJobRegistry(queue=get_queue(app))
    for job_id in registry.get_job_ids():  # Redis lost every timer
        registry.remove(job_id)
    assert sla_sweep() == 1
    assert [(c, k) for c, k, _ in facts(ticket.id)] == [("first_response", "breach")]
    assert not any(j.startswith("sla-sweep") for j in registry.get_job_ids())  # no chain: the periodic table
    assert sla_sweep() == 0


def test_without_redis_nothing_is_scheduled_and_the_cli_sweeps(app, world, make_ticket):
    from helpdesk.jobs import get_queue

    make_policy("Fast", "24/7", first=1, resolution=600, sources=("onboarding",))
    assert get_queue(app) is None
    with frozen(datetime.now(UTC) - 3 * MINUTE):
        ticket = make_ticket(world.acme_user)
    result = app.test_cli_runner().invoke(args=["sla", "sweep"])
    assert result.exit_code == 0, result.output
    assert "recorded 1 warnings and breaches" in result.output
    assert [(c, k) for c, k, _ in facts(ticket.id)] == [("first_response", "breach")]


# -- the queue -------------------------------------------------------------------------------


@pytest.fixture
def count_statements(app):
    """count_statements() -> a list that collects the SQL statements run while it is open."""
    from helpdesk.extensions import db

    seen: list[str] = []

    def listen(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", listen)
    yield seen
    event.remove(db.engine, "before_cursor_execute", listen)


def test_queue_sorts_by_nearest_due_with_keyset_pages_of_one_query(app, world, make_ticket, count_statements,
                                                                   is_postgres):
    from tickets.queue import QueueFilters, queue_page
    from tickets.services import Actor, change_status

    with frozen(MON_9):
        low = make_ticket(world.acme_user, "low", priority="low")  # 8 h
        urgent = make_ticket(world.acme_user, "urgent", priority="urgent")  # 1 h
        normal = make_ticket(world.acme_user, "normal", priority="normal")  # 4 h
        high = make_ticket(world.acme_user, "high", priority="high")  # 2 h
        done = make_ticket(world.acme_user, "resolved", priority="urgent")
        waiting = make_ticket(world.acme_user, "waiting", priority="urgent")
    with frozen(MON_9 + MINUTE):
        change_status(Actor(world.agent), done, "resolved")
        change_status(Actor(world.agent), waiting, "waiting_on_client")
    expected = [urgent.id, high.id, normal.id, low.id, done.id, waiting.id]  # undated: by id
    seen, cursor, pages = [], None, 0
    agent = world.agent
    assert agent.id  # loaded before counting
    while True:
        count_statements.clear()
        rows, cursor = queue_page(agent, QueueFilters(statuses=("new", "open", "waiting_on_client", "resolved"),
                                                            sort="due", limit=2, cursor=cursor),
                                  now=utc(MON_9 + 2 * MINUTE))
        assert len(count_statements) == 1, count_statements
        if is_postgres:  # SQLite writes "OFFSET 0" after every LIMIT
            assert "OFFSET" not in count_statements[0].upper()
        seen += [t.id for t in rows]
        pages += 1
        if cursor is None:
            break
    assert seen == expected and pages == 3


def test_queue_filters_breached_and_breaching_within(app, world, make_ticket):
    from tickets.queue import QueueFilters, queue_page
    from tickets.sla.jobs import sweep

    with frozen(MON_9):
        urgent = make_ticket(world.acme_user, "urgent", priority="urgent")  # due 10:00
        high = make_ticket(world.acme_user, "high", priority="high")  # due 11:00
        low = make_ticket(world.acme_user, "low", priority="low")  # due 17:00 -> Tuesday 09:00
    now = utc(MON_9 + 75 * MINUTE)  # 10:15
    sweep(now)
    breached, _ = queue_page(world.agent, QueueFilters(sort="due", breached=True), now=now)
    assert [t.id for t in breached] == [urgent.id]
    soon, _ = queue_page(world.agent, QueueFilters(sort="due", breaching_within=1), now=now)
    assert [t.id for t in soon] == [high.id]
    day, _ = queue_page(world.agent, QueueFilters(sort="due", breaching_within=24), now=now)
    assert [t.id for t in day] == [high.id, low.id]


def test_queue_page_shows_business_time_left_and_states(app, web, world, login, make_ticket):
    from tickets.sla.jobs import sweep

    with frozen(MON_9):
        make_ticket(world.acme_user, "Urgent one", priority="urgent")
        make_ticket(world.acme_user, "Low one", priority="low")
    with frozen(warsaw(2026, 1, 12, 15, 30)):
        sweep(utc(warsaw(2026, 1, 12, 15, 30)))
        login(world.agent)
        page = web.get("/agent/queue").get_data(as_text=True)
        bad = web.get("/agent/queue?breaching_within=zero")
    assert page.index("Urgent one") < page.index("Low one")
    assert "Overdue by 5 h 30 min" in page and "sla-breached" in page
    # Low: 8 h from Monday 09:00 is Tuesday 09:00; at 15:30 that is 1 h 30 min of business time.
    assert "1 h 30 min left" in page and "sla-warning" in page
    assert bad.status_code == 400


def test_bad_queue_cursors_and_filters_are_refused(app, world):
    from tickets.access import TicketError
    from tickets.queue import encode_cursor, parse_queue_filters, queue_page

    with app.test_request_context():
        for args in ({"sort": "sideways"}, {"breaching_within": "-1"}, {"breached": "yes"}):
            assert parse_queue_filters(args).errors
        for cursor in (encode_cursor([5]), encode_cursor(["not a date", 5]),
                       encode_cursor(["2026-01-01T00:00:00", 5]), encode_cursor([None, True])):
            with pytest.raises(TicketError):
                queue_page(world.agent, parse_queue_filters({"sort": "due", "cursor": cursor}))


# -- what people see -------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["en", "pl"])
def test_the_queue_badge_says_a_duration_as_the_pages_do(app, language):
    from flask_babel import force_locale

    from tickets.sla.display import SlaWords, duration_text

    with app.test_request_context("/"), force_locale(language):
        words = SlaWords()
        for seconds in (-90, 0, 59, 60, 45 * 60, 3600, 2 * 3600 + 5 * 60, 26 * 3600 + 59 * 60 + 59):
            assert words.duration(seconds) == duration_text(seconds), seconds
        assert words.text("running", 2 * 3600 + 5 * 60) == words.left % {"time": duration_text(7500)}
        assert words.text("running", -45 * 60).endswith(duration_text(45 * 60))


def test_client_sees_when_to_expect_a_first_response(app, web, world, login, make_ticket):
    from tickets.services import Actor, add_message

    with frozen(MON_9):
        ticket = make_ticket(world.acme_user)
    login(world.acme_user)
    page = web.get(f"/portal/tickets/{ticket.id}").get_data(as_text=True)
    assert "Expect our first response by" in page and "12/01/2026, 13:00" in page
    with frozen(MON_9 + HOUR):
        add_message(Actor(world.agent), ticket, body="Hello.")
    page = web.get(f"/portal/tickets/{ticket.id}").get_data(as_text=True)
    assert "Expect our first response by" not in page and "Our first response" in page


def test_agent_ticket_page_shows_clocks_and_sla_history(app, web, world, login, make_ticket):
    from tickets.services import Actor, change_priority

    with frozen(MON_9):
        ticket = make_ticket(world.acme_user, priority="low")
        change_priority(Actor(world.agent), ticket, "urgent")
    login(world.agent)
    page = web.get(f"/agent/tickets/{ticket.id}").get_data(as_text=True)
    assert 'id="sla"' in page and "First response" in page and "Resolution" in page
    assert "recomputed the SLA due times" in page and "priority changed" in page


def test_without_redis_the_worker_runs_the_periodic_sweep_in_its_own_process(app, world, make_ticket):
    from helpdesk.jobs import get_queue

    make_policy("Fast", "24/7", first=1, resolution=600, sources=("onboarding",))
    assert get_queue(app) is None
    with frozen(datetime.now(UTC) - 3 * MINUTE):
        ticket = make_ticket(world.acme_user)
    result = app.test_cli_runner().invoke(args=["worker", "--burst"])  # each periodic job once
    assert result.exit_code == 0, result.output
    assert [(c, k) for c, k, _ in facts(ticket.id)] == [("first_response", "breach")]


def test_jobs_refuse_to_run_outside_an_app():
    from tickets.sla.jobs import sla_timer

    with pytest.raises(RuntimeError, match="flask worker"):
        sla_timer(1, "first_response", "breach")
