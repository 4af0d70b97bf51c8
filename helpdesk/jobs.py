"""Background jobs on RQ: the Redis connection, queues, periodic jobs and the `flask worker` command.

A job takes ids, not objects, and runs in a fresh app context (the worker pushes one per job;
`@app_job` also wraps a job function in one). `get_queue()` is the general queue, None when
REDIS_URL is not set: then nothing is queued, and timer work runs from the command line or inline.
`flask worker` is an RQ worker with the scheduler (for timers and retries with backoff) serving the
general queue and the notifications' queue. Any number of workers, on any number of hosts, may
serve one Redis and one database: every job is safe to run twice.

Periodic jobs (the one mechanism for work that recurs; no system cron): each domain declares
its own in its `init_app` with `periodic(app, name, func=..., every=..., setting=...)`; the
table of them is `periodic_jobs(app)` (and the README's). Time is cut into windows of the job's
interval on Redis's clock (a minute job: each whole minute), and on every tick each worker tries
to claim the current window of each job with one atomic script (`opiekun:periodic:NAME` holds the
last window claimed): the one worker that wins enqueues the job function, by its import path and
with no arguments, on the general queue under the id `periodic-NAME-<window start, ms>`; so
whatever the number of workers and hosts, each window runs once, and the job runs like any other
(any worker, a fresh app context, RQ's failure records). A window whose previous run still waits
in the queue enqueues nothing (no pile-up behind a busy queue). Without REDIS_URL, `flask worker`
runs the same table in its own process (`run_embedded`): each job inline when its window opens.

We use RQ's scheduler but not `rq.cron` (RQ 2.12): its CronScheduler is a separate blocking
process (`rq cron`) with its own signal handlers, marked beta, and every running instance enqueues
every job on its own in-memory clock, so two of them run each job twice; the claim above is
what makes several workers safe.

The scheduler and the periodic ticks run in the worker's main process every second, not in the
child process RQ forks for its scheduler: a SIGKILLed worker took only itself down, and its
orphaned scheduler kept the scheduler locks (and, killed in turn, kept them for a minute, while
its successor asked again only every ten). Now the locks live `SCHEDULER_LOCK_SECONDS` without a
refresh and every worker tries to take free ones on each tick, so a dead worker's successor
schedules within that.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import wraps
from typing import Any, TypeVar

import click
import redis
from flask import Flask, current_app, has_app_context
from flask.cli import with_appcontext
from rq import Queue, SimpleWorker, Worker
from rq.job import Job, JobStatus
from rq.scheduler import RQScheduler
from rq.scripts import acquire_or_refresh_lock
from rq.utils import import_attribute
from rq.utils import now as rq_now

from helpdesk.extensions import db

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger(__name__)

QUEUE_NAME = "opiekun"
SCHEDULER_SECONDS = 1  # how often a worker moves due scheduled jobs to their queues
SCHEDULER_LOCK_SECONDS = 15  # a scheduler lock nobody refreshes is free after this
JOB_NAME = re.compile(r"[A-Za-z0-9-]+")


_clients: dict[tuple[int, str, float], redis.Redis] = {}


def redis_connection(url: str | None = None) -> redis.Redis:
    """A Redis client for REDIS_URL that gives up quickly when Redis is unreachable.

    One client (and connection pool) per process and URL, so a web request that relays a
    notification reuses a connection instead of opening one.
    """
    url = url or current_app.config["REDIS_URL"]
    timeout = float(current_app.config.get("REDIS_CONNECT_TIMEOUT", 1.0))
    key = (os.getpid(), url, timeout)
    client = _clients.get(key)
    if client is None:
        client = _clients[key] = redis.Redis.from_url(
            url, socket_connect_timeout=timeout, socket_timeout=max(timeout, 5.0)
        )
    return client


def named_queue(name: str, connection: redis.Redis | None = None) -> Queue:
    """A queue by name on REDIS_URL (the notifications use their own)."""
    return Queue(name, connection=connection or redis_connection())


def _state(app: Flask) -> dict[str, Any]:
    return app.extensions.setdefault("jobs", {"redis": None, "url": None, "periodic": {}})


def get_redis(app: Flask | None = None) -> redis.Redis | None:
    """The Redis connection of this app (one per app), or None without REDIS_URL."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    url = app.config.get("REDIS_URL")
    if not url:
        return None
    state = _state(app)
    if state["redis"] is None or state["url"] != url:
        state["redis"], state["url"] = redis.Redis.from_url(url), url
    return state["redis"]


def get_queue(app: Flask | None = None) -> Queue | None:
    """The general job queue (RQ_QUEUE), or None when REDIS_URL is unset (nothing is scheduled then)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    connection = get_redis(app)
    if connection is None:
        return None
    return Queue(app.config.get("RQ_QUEUE", QUEUE_NAME), connection=connection)


def app_job(func: F) -> F:
    """Run the job in a fresh app context of the app that runs the worker."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not has_app_context():
            raise RuntimeError("Jobs run inside an app: start workers with `flask worker`.")
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        with app.app_context():
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


# -- periodic jobs ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PeriodicJob:
    """One line of the table: a job function run once per window of `seconds`."""

    name: str
    func: str  # import path of a job function that takes no arguments
    setting: str  # the config key holding the interval in seconds
    domain: str  # the package that registered it

    def seconds(self, app: Flask) -> float:
        return float(app.config[self.setting])


def periodic(app: Flask, name: str, *, func: str, every: float, setting: str) -> PeriodicJob:
    """Run `func` (an import path) once every `every` seconds on some worker; called by `init_app`.

    `setting` names the config key that holds the interval: a test config or an environment
    variable of that name overrides `every` (the default).
    """
    if not JOB_NAME.fullmatch(name):
        raise ValueError(f"periodic job names are letters, digits and dashes: {name!r}")
    if setting not in app.config:
        app.config[setting] = float(os.environ.get(setting) or every)
    job = PeriodicJob(name, func, setting, domain=func.split(".", 1)[0])
    _state(app)["periodic"][name] = job
    return job


def periodic_jobs(app: Flask) -> list[PeriodicJob]:
    """The periodic jobs the domains registered, in the order they did."""
    return list(_state(app)["periodic"].values())


def periodic_job_id(name: str, window_ms: int) -> str:
    return f"periodic-{name}-{window_ms}"


# Claim the current window of a job, on Redis's clock: returns the window's start in milliseconds,
# or nil when this window (or a later one) was claimed already. (A write after TIME in a script
# needs Redis 5 or newer, which replicates a script's effects.)
_CLAIM = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local every = tonumber(ARGV[1])
local start = now - (now % every)
local last = tonumber(redis.call('GET', KEYS[1]) or '-1')
if start <= last then return nil end
redis.call('SET', KEYS[1], string.format('%.0f', start), 'PX', every * 2 + 60000)
return string.format('%.0f', start)
"""


def claim_window(connection: redis.Redis, job: PeriodicJob, seconds: float) -> int | None:
    """The start (ms) of the job's current window if this call claimed it, else None."""
    every_ms = max(1, round(seconds * 1000))
    found = connection.eval(_CLAIM, 1, f"opiekun:periodic:{job.name}", every_ms)
    return int(found) if found else None


_WAITING = {JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED}


def tick_periodic(app: Flask, queue: Queue) -> list[str]:
    """Claim and enqueue every periodic job whose window has opened; returns the job ids enqueued."""
    enqueued = []
    for job in periodic_jobs(app):
        seconds = job.seconds(app)
        window = claim_window(queue.connection, job, seconds)
        if window is None:
            continue
        last_key = f"opiekun:periodic:{job.name}:last-job"
        last = queue.connection.get(last_key)
        waiting = Job.fetch_many([last.decode()], connection=queue.connection)[0] if last else None
        if waiting is not None and waiting.get_status(refresh=False) in _WAITING:
            log.info("periodic %s: the last run still waits in the queue; not enqueued again", job.name)
            continue
        job_id = periodic_job_id(job.name, window)
        queue.enqueue(job.func, job_id=job_id, description=f"{job.func}() [periodic {job.name}]",
                      result_ttl=max(60, int(seconds) * 10), failure_ttl=7 * 24 * 3600,
                      job_timeout=max(180, int(seconds) * 10))
        queue.connection.set(last_key, job_id, ex=max(3600, int(seconds) * 3))
        enqueued.append(job_id)
    return enqueued


def run_periodic_job(app: Flask, job: PeriodicJob) -> None:
    """Run one periodic job in this process, in a fresh app context (the embedded default)."""
    with app.app_context():
        try:
            import_attribute(job.func)()
        except Exception:  # a periodic job must never stop the loop
            log.exception("periodic job %s failed", job.name)
            db.session.rollback()


def run_embedded(app: Flask, burst: bool = False) -> None:
    """Without Redis: run each periodic job when its window opens, in this process, until stopped.

    One such process per installation (what `scripts/run` starts beside the web server); the
    jobs are safe to run twice, so a second one costs work, not correctness.
    """
    last: dict[str, int] = {}
    while True:
        now_ms = int(time.time() * 1000)
        next_ms = now_ms + 60_000
        for job in periodic_jobs(app):
            every_ms = max(1, round(job.seconds(app) * 1000))
            window = now_ms - now_ms % every_ms
            if last.get(job.name) != window:
                last[job.name] = window
                run_periodic_job(app, job)
            next_ms = min(next_ms, window + every_ms)
        if burst:
            return
        time.sleep(max(0.05, (next_ms - int(time.time() * 1000)) / 1000))


def worker_queues(app: Flask) -> list[str]:
    """The queues a worker serves: the general one, then the notifications'."""
    names = [app.config.get("RQ_QUEUE", QUEUE_NAME), *app.config["RQ_QUEUES"]]
    return list(dict.fromkeys(names))


class InlineScheduler(RQScheduler):
    """RQ's scheduler, ticked by the worker's own main process instead of a forked child.

    `tick()` takes or refreshes the scheduler locks (one per queue, as RQ does, so one worker
    schedules a queue at a time) with a short lifetime, then moves the jobs that are due.
    """

    def start(self) -> None:  # type: ignore[override]
        """RQ forks a scheduler process here; ours is ticked by the worker instead."""
        return None

    def acquire_locks(self, auto_start: bool = False) -> set[str]:
        owned = set()
        for name in self._queue_names:
            outcome = acquire_or_refresh_lock(self.connection, self.get_locking_key(name), self.name,
                                              SCHEDULER_LOCK_SECONDS)
            if outcome == "acquired":
                self.log.info("Acquired scheduler lock for %s", name)
            if outcome != "taken":
                owned.add(name)
        if owned != self._acquired_locks:
            self._scheduled_job_registries = []
        self._acquired_locks = owned
        self.lock_acquisition_time = datetime.now()
        return owned

    def tick(self) -> None:
        if not self.acquire_locks():
            return
        if self.last_heartbeat is None or (rq_now() - self.last_heartbeat).total_seconds() > 30:
            self.register_birth()  # RQ's record of who schedules (`rq info`); it lives 61 s
        self.enqueue_scheduled_jobs()


class _AppWorkerMixin:
    """Runs each job in a fresh app context; ticks the scheduler and the periodic jobs between jobs."""

    app: Flask
    _main_pid: int
    _next_run: dict[str, float]
    _periodic_on: bool
    scheduler: InlineScheduler | None

    def setup_app(self, app: Flask) -> None:
        self.app = app
        self._main_pid = os.getpid()
        self._next_run = {}
        self._periodic_on = False
        # Reconnect to a Redis that came back within seconds, not RQ's default minute.
        self.max_connection_wait_time = 5.0  # type: ignore[misc]

    def work(self, burst: bool = False, *args: Any, **kwargs: Any) -> bool:
        # A burst runs the jobs that are due and stops; periodic jobs are for workers that stay.
        self._periodic_on = not burst
        return super().work(burst, *args, **kwargs)  # type: ignore[misc]

    @property
    def dequeue_timeout(self) -> int:
        # Wake up often enough to tick the scheduler and the periodic jobs when no job arrives.
        shortest = 60.0
        if getattr(self, "scheduler", None) is not None:
            shortest = SCHEDULER_SECONDS
        app = getattr(self, "app", None)  # RQ asks for dequeue_timeout before setup_app
        if app is not None and getattr(self, "_periodic_on", False):
            shortest = min([shortest, *(job.seconds(app) for job in periodic_jobs(app))])
        return max(1, min(int(shortest), int(self.worker_ttl) - 15))  # type: ignore[attr-defined]

    def heartbeat(self, *args: Any, **kwargs: Any) -> Any:
        result = super().heartbeat(*args, **kwargs)  # type: ignore[misc]
        # Not from inside RQ's own pipelines (a job being set up), nor from a work horse.
        if os.getpid() == self._main_pid and kwargs.get("pipeline") is None and len(args) < 2:
            self.tick_scheduler()
            self.tick_periodic()
        return result

    def _start_scheduler(self, burst: bool = False, *args: Any, **kwargs: Any) -> None:
        """Instead of RQ's forked scheduler process: one ticked by this process (see the module)."""
        self.scheduler = InlineScheduler(
            self.queues, connection=self.connection,  # type: ignore[attr-defined]
            interval=SCHEDULER_SECONDS, serializer=self.serializer,  # type: ignore[attr-defined]
        )
        self._next_run["scheduler"] = 0.0
        self.tick_scheduler()
        if burst:
            self.stop_scheduler()

    def tick_scheduler(self) -> None:
        if self.scheduler is None or os.getpid() != self._main_pid:
            return
        now = time.monotonic()
        if self._next_run.get("scheduler", 0.0) > now:
            return
        self._next_run["scheduler"] = now + SCHEDULER_SECONDS
        try:
            self.scheduler.tick()
        except redis.RedisError:  # Redis away: the worker's own loop reconnects; try next tick
            log.warning("scheduler tick failed", exc_info=True)

    def stop_scheduler(self) -> None:
        """Release the scheduler locks at once (a warm shutdown or the end of a burst)."""
        scheduler, self.scheduler = self.scheduler, None
        if scheduler is not None:
            try:
                scheduler.stop()
            except redis.RedisError:  # the locks expire on their own
                log.warning("could not release the scheduler locks", exc_info=True)

    def tick_periodic(self) -> list[str]:
        """Claim and enqueue the periodic jobs whose window has opened (see the module)."""
        if not self._periodic_on or os.getpid() != self._main_pid:
            return []
        queue = Queue(self.app.config.get("RQ_QUEUE", QUEUE_NAME), connection=self.connection,  # type: ignore[attr-defined]
                      serializer=self.serializer)  # type: ignore[attr-defined]
        try:
            return tick_periodic(self.app, queue)
        except redis.RedisError:  # Redis away: the next tick claims the window still open
            log.warning("periodic tick failed", exc_info=True)
            return []

    def perform_job(self, job: Any, queue: Queue) -> bool:
        with self.app.app_context():
            if os.getpid() != self._main_pid:
                # A forked work horse must not use the connections its parent opened.
                for engine in db.engines.values():
                    engine.dispose(close=False)
            return super().perform_job(job, queue)  # type: ignore[misc]


class AppWorker(_AppWorkerMixin, Worker):
    """RQ's forking worker: each job in its own work horse process."""


class AppSimpleWorker(_AppWorkerMixin, SimpleWorker):
    """The same without forking: jobs run in the worker process itself."""


def make_worker(app: Flask, queues: list[str] | None = None, connection: redis.Redis | None = None,
                fork: bool | None = None) -> _AppWorkerMixin:
    with app.app_context():
        connection = connection or redis_connection(app.config["REDIS_URL"])
        names = queues or worker_queues(app)
    fork = app.config["WORKER_FORK"] if fork is None else fork
    cls = AppWorker if fork else AppSimpleWorker
    worker = cls([Queue(name, connection=connection) for name in names], connection=connection)
    worker.setup_app(app)
    return worker


@click.command("worker")
@click.option("--queue", "queues", multiple=True, help="Queue to serve (repeatable); default: all.")
@click.option("--burst", is_flag=True, help="Run the jobs that are due, then stop.")
@click.option("--fork/--no-fork", default=None, help="Run each job in a forked process (default: WORKER_FORK).")
@with_appcontext
def worker_command(queues: tuple[str, ...], burst: bool, fork: bool | None) -> None:
    """Run an RQ worker with its scheduler and the periodic jobs; start as many as you like, on any hosts.

    Without REDIS_URL there is no queue: the worker runs the periodic jobs in its own process.
    """
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    db.engine.dispose()  # no connection of the command's own crosses into the jobs
    if get_queue(app) is None:
        names = ", ".join(job.name for job in periodic_jobs(app))
        log.info("REDIS_URL is not set: running the periodic jobs (%s) in this process", names)
        try:
            run_embedded(app, burst=burst)
        except KeyboardInterrupt:
            pass
        return
    worker = make_worker(app, list(queues) or None, fork=fork)
    worker.work(burst=burst, with_scheduler=True)  # type: ignore[attr-defined]


def init_app(app: Flask) -> None:
    _state(app)
    app.config.setdefault("RQ_QUEUE", QUEUE_NAME)
    app.cli.add_command(worker_command)
