"""Periodic jobs: one table, run by `flask worker`, once per window however many workers run.

Real `flask worker` processes against the test's database and Redis, with the intervals cut to
a second (SLA_SWEEP_SECONDS, NOTIFY_SWEEP_SECONDS, ONBOARDING_REMIND_SECONDS as environment
variables), so each window opens every second. Executions are counted from RQ's own records:
every run of a job adds a result to its stream, so a window run twice shows two.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from datetime import time as wall_time
from typing import Any

import pytest
import redis
from rq import Queue
from rq.job import Job
from rq.registry import ScheduledJobRegistry
from rq.results import Result
from sqlalchemy import func, select

from helpdesk.extensions import db
from tests.notifications.support import Workers, free_port, wait_until, worker_env

ONE_SECOND = {"SLA_SWEEP_SECONDS": "1", "NOTIFY_SWEEP_SECONDS": "1", "ONBOARDING_REMIND_SECONDS": "1",
              "MAIL_POLL_SECONDS": "1", "MAIL_DROP_SECONDS": "1"}
PERIODIC = ("notifications-sweep", "onboarding-reminders", "sla-sweep", "mail-poll", "mail-drop")


@pytest.fixture
def workers(app: Any, migrated: str, redis_url: str, tmp_path: Any):
    found = Workers(tmp_path / "workers", worker_env(migrated, redis_url, None, tmp_path / "outbox",
                                                     NOTIFY_RELAY_GRACE_SECONDS="120", **ONE_SECOND))
    try:
        yield found
    finally:
        found.stop_all()


def runs(connection: redis.Redis) -> dict[str, dict[int, int]]:
    """Per periodic job name: window start (ms) -> how many times RQ ran that window's job."""
    found: dict[str, dict[int, int]] = {}
    for key in connection.scan_iter("rq:job:periodic-*"):
        job_id = key.decode().removeprefix("rq:job:")
        name, window = job_id.removeprefix("periodic-").rsplit("-", 1)
        count = Result.count(Job.fetch(job_id, connection=connection))
        if count:
            found.setdefault(name, {})[int(window)] = count
    return found


def test_the_domains_declare_their_periodic_jobs_in_one_table(app):
    from helpdesk.jobs import periodic_jobs

    table = {(job.name, job.func, job.setting, job.domain, job.seconds(app)) for job in periodic_jobs(app)}
    assert table == {
        ("notifications-sweep", "helpdesk.notifications.outbox.sweep", "NOTIFY_SWEEP_SECONDS", "helpdesk", 15.0),
        ("sla-sweep", "tickets.sla.jobs.sla_sweep", "SLA_SWEEP_SECONDS", "tickets", 60.0),
        ("onboarding-reminders", "plans.onboarding.reminders.send_reminders_job", "ONBOARDING_REMIND_SECONDS",
         "plans", 3600.0),
        ("mail-poll", "tickets.inbound.poll.mail_poll_job", "MAIL_POLL_SECONDS", "tickets", 30.0),
        ("mail-drop", "tickets.inbound.poll.mail_drop_job", "MAIL_DROP_SECONDS", "tickets", 5.0),
    }


def test_a_real_worker_runs_the_sla_and_notification_sweeps_within_their_interval(
    app, world, workers, redis_url, tmp_path
):
    from helpdesk.notifications.models import Delivery, OutboxEntry
    from tests.sla.integration.test_sla import facts, frozen, make_policy
    from tickets.services import Actor, file_ticket

    # Redis is unreachable while the ticket is filed: no SLA timer is set and the notifications
    # wait in the outbox, so only the sweeps can record the breach and send the mail.
    app.config.update(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0", REDIS_CONNECT_TIMEOUT=0.2)
    make_policy("One minute", "24/7", first=1, resolution=600, sources=("bug_fix",))
    with frozen(datetime.now(UTC) - timedelta(minutes=3)):
        ticket = file_ticket(Actor(world.acme_user), subject="Printer offline", description="Since 9:00.",
                             category="bug", priority="high")
    ticket_id = ticket.id
    db.session.rollback()
    pending = db.session.scalar(select(func.count()).select_from(OutboxEntry).where(OutboxEntry.state == "pending"))
    assert pending and facts(ticket_id) == []
    connection = redis.Redis.from_url(redis_url)
    assert ScheduledJobRegistry("opiekun", connection=connection).get_job_ids() == []

    workers.start()

    def swept() -> bool:
        db.session.rollback()
        done = db.session.scalar(select(func.count()).select_from(OutboxEntry).where(OutboxEntry.state != "done"))
        return done == 0 and [(c, k) for c, k, _ in facts(ticket_id)] == [("first_response", "breach")]

    wait_until(swept, timeout=40, interval=0.2)
    deliveries = list(db.session.scalars(select(Delivery)))
    assert {d.state for d in deliveries} == {"sent"}
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == len(deliveries)
    done = runs(connection)
    assert done.get("sla-sweep") and done.get("notifications-sweep"), workers.logs()


def test_two_workers_run_each_window_of_each_periodic_job_once(app, workers, redis_url):
    connection = redis.Redis.from_url(redis_url)
    workers.start()
    workers.start()
    # Both are up and ticking: each has claimed (or seen claimed) a few windows.
    wait_until(lambda: len(runs(connection).get("sla-sweep", {})) >= 6, timeout=40, interval=0.2)
    time.sleep(1)
    assert all(p.poll() is None for p in workers.processes), workers.logs()
    done = runs(connection)
    assert set(done) == set(PERIODIC), workers.logs()
    for name, windows in done.items():
        assert set(windows.values()) == {1}, (name, windows)  # no window ran twice
        ordered = sorted(windows)
        assert all(b - a >= 1000 for a, b in zip(ordered, ordered[1:], strict=False)), ordered
    # Both workers took part: each one's log names jobs it ran.
    logs = [p.read_text() for p in sorted(workers.folder.glob("worker-*.log"))]
    assert all("periodic-" in log for log in logs), workers.logs()


def _tick_twice_per_window(app, redis_url: str, windows: int) -> redis.Redis:
    """Two workers of this process, each with its own connection, tick one right after the other,
    then a burst worker runs what they enqueued; until every job has run `windows` windows."""
    from helpdesk.jobs import make_worker

    app.config.update(REDIS_URL=redis_url, SLA_SWEEP_SECONDS=1, NOTIFY_SWEEP_SECONDS=1,
                      ONBOARDING_REMIND_SECONDS=1, MAIL_POLL_SECONDS=1, MAIL_DROP_SECONDS=1)
    ticking = [make_worker(app, connection=redis.Redis.from_url(redis_url)) for _ in range(2)]
    for worker in ticking:
        worker._periodic_on = True
    connection = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for worker in ticking:
            worker.tick_periodic()
        make_worker(app, connection=connection).work(burst=True)
        done = runs(connection)
        if len(done) == len(PERIODIC) and all(len(w) >= windows for w in done.values()):
            break
        time.sleep(0.1)
    return connection


def test_workers_ticking_together_enqueue_each_window_once(app, world, redis_url):
    connection = _tick_twice_per_window(app, redis_url, windows=3)
    done = runs(connection)
    assert set(done) == set(PERIODIC)
    for name, windows in done.items():
        assert len(windows) >= 3 and set(windows.values()) == {1}, (name, windows)
    assert Queue("opiekun", connection=connection).count == 0


def test_a_window_whose_last_run_still_waits_in_the_queue_adds_nothing(app, world, redis_url):
    from helpdesk.jobs import make_worker

    app.config.update(REDIS_URL=redis_url, SLA_SWEEP_SECONDS=1, NOTIFY_SWEEP_SECONDS=1,
                      ONBOARDING_REMIND_SECONDS=1, MAIL_POLL_SECONDS=1, MAIL_DROP_SECONDS=1)
    connection = redis.Redis.from_url(redis_url)
    worker = make_worker(app, connection=connection)
    worker._periodic_on = True
    assert len(worker.tick_periodic()) == len(PERIODIC)
    time.sleep(1.1)  # the next window: every job's last run is still queued (no worker runs)
    assert worker.tick_periodic() == []
    assert Queue("opiekun", connection=connection).count == len(PERIODIC)
    make_worker(app, connection=connection).work(burst=True)
    time.sleep(1.1)
    assert len(worker.tick_periodic()) == len(PERIODIC)


def test_control_with_a_claim_per_worker_each_window_runs_twice(app, world, redis_url, monkeypatch):
    """The count above can fail: when each worker claims for itself, every window runs twice.

    (Without the queue guard too: the second worker would find the first one's job still queued.)
    """
    import helpdesk.jobs

    def claim_of_its_own(connection, job, seconds):
        every_ms = max(1, round(seconds * 1000))
        key = f"opiekun:periodic:{job.name}:{id(connection)}"  # one worker's own, not shared
        found = connection.eval(helpdesk.jobs._CLAIM, 1, key, every_ms)
        return int(found) if found else None

    monkeypatch.setattr(helpdesk.jobs, "claim_window", claim_of_its_own)
    monkeypatch.setattr(helpdesk.jobs, "_WAITING", set())
    connection = _tick_twice_per_window(app, redis_url, windows=2)
    done = runs(connection)
    assert set(done) == set(PERIODIC)
    # Every job ran windows twice (one may open between the two workers' ticks).
    assert all(2 in windows.values() for windows in done.values()), done


def _meeting_tomorrow(app, world) -> int:
    """An onboarding whose follow-up meeting is tomorrow at 10:00 in Warsaw (its reminder is due
    today, whatever day it is) and whose other meetings are cancelled; returns the meeting's id."""
    from plans.onboarding import meetings
    from plans.onboarding.dates import local_today
    from tests.onboarding.support import walk_to

    onboarding = walk_to(world, "protocol")
    follow_up, *others = meetings.meetings(onboarding)
    tomorrow = local_today(datetime.now(UTC)) + timedelta(days=1)
    follow_up.starts_at = datetime.combine(tomorrow, wall_time(10), tzinfo=app_zone(app)).astimezone(UTC)
    for meeting in others:
        meeting.cancelled = True
    db.session.commit()
    return follow_up.id


def reminded() -> int:
    from plans.onboarding.models import OnboardingEvent

    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(OnboardingEvent)
                             .where(OnboardingEvent.kind == "reminder_sent")) or 0


def reminder_entries() -> list[Any]:
    from helpdesk.notifications import ONBOARDING_MEETING_REMINDER
    from helpdesk.notifications.models import OutboxEntry

    db.session.rollback()
    return list(db.session.scalars(select(OutboxEntry).where(OutboxEntry.event == ONBOARDING_MEETING_REMINDER)))


def test_the_worker_sends_the_onboarding_reminder_once_without_cron(app, world, workers, redis_url):
    from plans.onboarding.models import OnboardingMeeting

    meeting_id = _meeting_tomorrow(app, world)
    connection = redis.Redis.from_url(redis_url)
    workers.start()
    workers.start()
    wait_until(reminded, timeout=40, interval=0.2)
    # More windows pass, on both workers: nothing more is sent.
    wait_until(lambda: len(runs(connection).get("onboarding-reminders", {})) >= 4, timeout=30, interval=0.2)
    assert reminded() == 1
    entries = reminder_entries()
    assert len(entries) == 1 and entries[0].values["meeting_id"] == meeting_id
    sent_at = db.session.get(OnboardingMeeting, meeting_id).reminder_sent_at
    assert sent_at is not None and sent_at <= datetime.now(UTC)


def test_without_redis_the_worker_runs_the_periodic_jobs_in_its_own_process(app, world, migrated, tmp_path):
    """The embedded default: `flask worker` (what scripts/run starts) with no REDIS_URL."""
    meeting_id = _meeting_tomorrow(app, world)
    env = worker_env(migrated, "", None, tmp_path / "outbox", **ONE_SECOND)
    embedded = Workers(tmp_path / "embedded", env)
    try:
        embedded.start()
        wait_until(reminded, timeout=40, interval=0.2)
        time.sleep(2.5)  # more windows: nothing more is sent
        assert all(p.poll() is None for p in embedded.processes), embedded.logs()
    finally:
        embedded.stop_all()
    assert reminded() == 1
    entries = reminder_entries()
    assert len(entries) == 1 and entries[0].values["meeting_id"] == meeting_id
    assert entries[0].state == "done"  # delivered inline: an .eml in the outbox folder
    assert len(list((tmp_path / "outbox").glob("*.eml"))) >= 1


def app_zone(app):
    from zoneinfo import ZoneInfo

    return ZoneInfo(app.config["ONBOARDING_TIMEZONE"])
