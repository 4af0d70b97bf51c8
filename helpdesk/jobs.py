"""Background jobs on RQ: the Redis connection, queues, and the `flask worker` command.

A job takes ids, not objects, and runs in a fresh app context (the worker pushes one per job;
`@app_job` also wraps a job function in one). `get_queue()` is the general queue, None when
REDIS_URL is not set: then nothing is queued, and timer work runs from the command line or inline.
`flask worker` is an RQ worker with the scheduler (for timers and retries with backoff) serving the
general queue and the notifications' queue; packages add what must happen when a worker starts
with `on_worker_start(app, func)`, and periodic tasks with `every(...)` (such as the notification
sweep), which run in the worker's main process between jobs, so no thread ever sits beside a
fork. Any number of workers, on any number of hosts, may serve one Redis and one database: every
job and every periodic task is safe to run twice.

The scheduler runs the same way, in the worker's main process every second, not in the child
process RQ forks for it: a SIGKILLed worker took only itself down, and its orphaned scheduler
kept the scheduler locks (and, killed in turn, kept them for a minute, while its successor asked
again only every ten). Now the locks live `SCHEDULER_LOCK_SECONDS` without a refresh and every
worker tries to take free ones on each tick, so a dead worker's successor schedules within that.
"""

from __future__ import annotations

import logging
import os
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
from rq.scheduler import RQScheduler
from rq.scripts import acquire_or_refresh_lock
from rq.utils import now as rq_now

from helpdesk.extensions import db

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger(__name__)

QUEUE_NAME = "opiekun"
SCHEDULER_SECONDS = 1  # how often a worker moves due scheduled jobs to their queues
SCHEDULER_LOCK_SECONDS = 15  # a scheduler lock nobody refreshes is free after this


@dataclass
class PeriodicTask:
    name: str
    func: Callable[[], Any]
    seconds_key: str  # config key holding the interval in seconds


_PERIODIC: list[PeriodicTask] = []


def every(seconds_key: str, name: str) -> Callable[[Callable[[], Any]], Callable[[], Any]]:
    """Register `func` to run in every worker every `config[seconds_key]` seconds (and at start)."""

    def decorator(func: Callable[[], Any]) -> Callable[[], Any]:
        if not any(task.name == name for task in _PERIODIC):
            _PERIODIC.append(PeriodicTask(name, func, seconds_key))
        return func

    return decorator


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
    return app.extensions.setdefault("jobs", {"redis": None, "url": None, "startup": []})


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


def on_worker_start(app: Flask, func: Callable[[Queue], None]) -> None:
    """Call `func(queue)` whenever `flask worker` starts (say, to schedule a recurring job)."""
    _state(app)["startup"].append(func)


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
    """Runs each job in a fresh app context, the scheduler and the periodic tasks between jobs."""

    app: Flask
    _main_pid: int
    _next_run: dict[str, float]
    scheduler: InlineScheduler | None

    def setup_app(self, app: Flask) -> None:
        self.app = app
        self._main_pid = os.getpid()
        self._next_run = {}
        # Reconnect to a Redis that came back within seconds, not RQ's default minute.
        self.max_connection_wait_time = 5.0  # type: ignore[misc]

    @property
    def dequeue_timeout(self) -> int:
        # Wake up often enough to run the scheduler and the periodic tasks when no job arrives.
        shortest = min((self._interval(task) for task in _PERIODIC), default=60.0)
        if getattr(self, "scheduler", None) is not None:
            shortest = min(shortest, SCHEDULER_SECONDS)
        return max(1, min(int(shortest), int(self.worker_ttl) - 15))  # type: ignore[attr-defined]

    def _interval(self, task: PeriodicTask) -> float:
        app = getattr(self, "app", None)  # RQ asks for dequeue_timeout before setup_app
        return float(app.config[task.seconds_key]) if app is not None else 60.0

    def heartbeat(self, *args: Any, **kwargs: Any) -> Any:
        result = super().heartbeat(*args, **kwargs)  # type: ignore[misc]
        if os.getpid() == self._main_pid:
            self.run_periodic_tasks()
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

    def run_periodic_tasks(self) -> None:
        self.tick_scheduler()
        now = time.monotonic()
        for task in _PERIODIC:
            if self._next_run.get(task.name, 0.0) > now:
                continue
            self._next_run[task.name] = now + self._interval(task)
            with self.app.app_context():
                try:
                    task.func()
                except Exception:  # a periodic task must never stop the worker
                    # (the app context's teardown rolls its session back)
                    log.exception("periodic task %s failed", task.name)

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
    """Run an RQ worker with its scheduler (needs REDIS_URL); start as many as you like, on any hosts."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    queue = get_queue(app)
    if queue is None:
        raise click.ClickException("REDIS_URL is not set: there is no queue to work on.")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    db.engine.dispose()  # no connection of the command's own crosses into the jobs
    for func in _state(app)["startup"]:
        func(queue)
    worker = make_worker(app, list(queues) or None, fork=fork)
    worker.work(burst=burst, with_scheduler=True)  # type: ignore[attr-defined]


def init_app(app: Flask) -> None:
    _state(app)
    app.config.setdefault("RQ_QUEUE", QUEUE_NAME)
    app.cli.add_command(worker_command)
