"""The manager home's backlog chart: tickets open at the end of each of the last twelve weeks."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from helpdesk.clock import frozen
from tickets.backlog import backlog_weeks
from tickets.services import Actor, change_status

NOW = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)


def test_the_backlog_equals_a_recount_of_open_tickets_at_each_week_end(app, world, make_ticket):
    rng = random.Random(7)
    lives = []  # (filed, finished or None)
    agent = Actor(world.agent)
    for n in range(40):
        filed = NOW - timedelta(days=rng.randint(0, 100), hours=rng.randint(0, 23))
        with frozen(filed):
            ticket = make_ticket(world.acme_user, f"Ticket {n}")
        finished = None
        if rng.random() < 0.6:
            finished = min(filed + timedelta(days=rng.randint(0, 30), hours=rng.randint(1, 20)), NOW)
            with frozen(finished):
                change_status(agent, ticket, rng.choice(["resolved", "closed"]))
        lives.append((filed, finished))

    with app.test_request_context():
        weeks = backlog_weeks(NOW)
    assert len(weeks) == 12 and weeks[-1][0] == NOW.date()
    for day, counted in weeks:
        end = datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC)
        expected = sum(1 for filed, finished in lives if filed < end and (finished is None or finished >= end))
        assert counted == expected, day


def test_the_backlog_page_draws_the_weeks(web, world, login, make_ticket):
    make_ticket(world.acme_user, "Open one")
    login(world.manager)
    assert "/manager/backlog" in web.get("/manager/").get_data(as_text=True)
    page = web.get("/manager/backlog").get_data(as_text=True)
    assert 'id="backlog-chart"' in page and page.count('class="point-0"') == 12
    assert "Open tickets: 1" in page  # the last point's title names its value
