"""A real `flask worker` process records a breach whose due instant passes during the test.

The ticket is filed against a 24/7 calendar with a one-minute first-response target, so the
test waits about a minute of real time: the timer job fires at the due instant on the worker's
scheduler, in a process of its own, against the same database and Redis as the test.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def worker_app_config(app_config, redis_url):
    app_config["REDIS_URL"] = redis_url
    return app_config


def test_a_real_worker_records_warning_and_breach_on_time(worker_app_config, app, world, redis_url, migrated,
                                                          tmp_path):
    from helpdesk.extensions import db
    from tests.sla.integration.test_sla import make_policy
    from tickets.models import SlaEvent, TicketEvent
    from tickets.services import Actor, file_ticket

    make_policy("One minute", "24/7", first=1, resolution=600, sources=("onboarding",))
    ticket = file_ticket(Actor(world.acme_user), subject="Labels print blank",
                         description="Every label is blank.", category="question", priority="urgent")
    ticket_id, created, due = ticket.id, ticket.created_at, ticket.first_response_due_at
    assert due - created == timedelta(minutes=1)

    env = {**os.environ, "DATABASE_URL": migrated, "REDIS_URL": redis_url,
           "SECRET_KEY": "worker-test", "PYTHONDONTWRITEBYTECODE": "1"}
    log_path = tmp_path / "worker.log"
    with log_path.open("w") as log:
        worker = subprocess.Popen(
            [str(Path(sys.executable).with_name("flask")), "--app", "app", "worker"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        try:
            facts: list[SlaEvent] = []
            deadline = time.monotonic() + 150
            while time.monotonic() < deadline and worker.poll() is None:
                db.session.rollback()
                facts = list(db.session.scalars(
                    select(SlaEvent).where(SlaEvent.ticket_id == ticket_id).order_by(SlaEvent.id)))
                if any(f.kind == "breach" for f in facts):
                    break
                time.sleep(2)
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()
    output = log_path.read_text()
    assert [(f.clock, f.kind) for f in facts] == [("first_response", "warning"), ("first_response", "breach")], \
        output[-3000:]
    warning, breach = facts
    assert warning.instant == created + timedelta(seconds=48)
    assert breach.instant == due
    # Recorded by its timer at the due instant, well within the two minutes promised.
    assert timedelta(0) <= breach.recorded_at - due < timedelta(seconds=30), output[-3000:]
    assert breach.recorded_at <= datetime.now(UTC)
    history = list(db.session.scalars(
        select(TicketEvent.kind).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)))
    assert history.count("sla_warning") == 1 and history.count("sla_breached") == 1
    assert "sla_timer" in output
