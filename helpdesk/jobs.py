"""Background jobs on RQ: the queue, the `flask worker` command, and an app context per job.

`get_queue()` is None when REDIS_URL is not set: then nothing is queued, and the work that
would run on a timer runs from the command line or inline instead. Job functions are wrapped
with `@app_job`, which runs each call in a fresh app context (its own database session), so a
job never sees another job's or a request's state. Jobs take ids, re-read what they need and
are safe to run twice.

Packages above the kernel add what must be in place when a worker starts (say, a recurring
job) with `on_worker_start(app, func)`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click
from flask import Flask, current_app, has_app_context
from flask.cli import with_appcontext
from redis import Redis
from rq import Queue, Worker

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger(__name__)

QUEUE_NAME = "opiekun"


def _state(app: Flask) -> dict[str, Any]:
    return app.extensions.setdefault("jobs", {"redis": None, "url": None, "startup": []})


def get_redis(app: Flask | None = None) -> Redis | None:
    """The Redis connection of this app (one per app), or None without REDIS_URL."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    url = app.config.get("REDIS_URL")
    if not url:
        return None
    state = _state(app)
    if state["redis"] is None or state["url"] != url:
        state["redis"], state["url"] = Redis.from_url(url), url
    return state["redis"]


def get_queue(app: Flask | None = None) -> Queue | None:
    """The job queue, or None when REDIS_URL is unset (nothing is scheduled then)."""
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


@click.command("worker")
@click.option("--burst", is_flag=True, help="Run the jobs that are due, then stop.")
@with_appcontext
def worker_command(burst: bool) -> None:
    """Run an RQ worker with its scheduler, for timers and background jobs (needs REDIS_URL)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    queue = get_queue(app)
    if queue is None:
        raise click.ClickException("REDIS_URL is not set: there is no queue to work on.")
    from helpdesk.extensions import db

    # The worker forks a process per job: no database connection may cross the fork.
    db.engine.dispose()
    for func in _state(app)["startup"]:
        func(queue)
    worker = Worker([queue], connection=queue.connection)
    worker.work(with_scheduler=True, burst=burst, logging_level="INFO")


def init_app(app: Flask) -> None:
    _state(app)
    app.config.setdefault("RQ_QUEUE", QUEUE_NAME)
    app.cli.add_command(worker_command)
