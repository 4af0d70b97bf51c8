"""Writing to the outbox in the caller's transaction, and relaying it after the commit.

`notify()` adds an `OutboxEntry` and its deliveries to `db.session`; it never commits. After the
outermost commit (`helpdesk.transactions.on_commit_batch`), the ids written in the transaction
are relayed: enqueued on RQ when REDIS_URL is set, else delivered inline. A relay that fails (Redis down, process killed) loses nothing: the
row stays pending, and the periodic sweep (one worker per window) relays rows whose `due_at` has passed;
a relay that fails on Redis makes its rows due at once, so they go with the next sweep.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import redis
from flask import current_app
from rq import Queue, Retry
from sqlalchemy import event as sa_event
from sqlalchemy import select, update
from sqlalchemy.orm import Session, object_session

from helpdesk.accounts import User
from helpdesk.clock import utcnow
from helpdesk.extensions import db
from helpdesk.jobs import named_queue, redis_connection
from helpdesk.notifications.events import EVENT_TYPES, is_essential
from helpdesk.notifications.models import Delivery, NotificationMute, OutboxEntry, WebhookEndpoint
from helpdesk.transactions import on_commit_batch

log = logging.getLogger(__name__)

QUEUE = "notifications"
SWEEP_BATCH = 500
# A queue this long is probably holding the rows the sweep finds; relaying them again would
# only double the work.
SWEEP_MAX_QUEUE_DEPTH = 10_000


@dataclass(frozen=True)
class Recipient:
    """Who gets a message, with all the job needs to write it for them."""

    email: str
    name: str = ""
    language: str = "en"
    user_id: int | None = None
    role: str | None = None  # client, agent, manager, admin; None for an outside address
    timezone: str = "Europe/Warsaw"


def recipient_for(user: User) -> Recipient:
    """The recipient for a user: their address, name, language (default English) and timezone."""
    language = user.language if user.language in ("en", "pl") else "en"
    return Recipient(
        email=user.email,
        name=user.display_name,
        language=language,
        user_id=user.id,
        role=user.role,
        timezone=user.timezone or "Europe/Warsaw",
    )


def recipients_for(users: Iterable[User | None]) -> list[Recipient]:
    """Recipients for the active users among `users`, each address once."""
    seen: set[str] = set()
    found = []
    for user in users:
        if user is None or not user.active or user.email.lower() in seen:
            continue
        seen.add(user.email.lower())
        found.append(recipient_for(user))
    return found


def recipients_for_ids(user_ids: Iterable[int]) -> list[Recipient]:
    """Recipients for the active users with these ids, in the order given, each address once."""
    ids = list(dict.fromkeys(user_ids))
    if not ids:
        return []
    found = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids)))}
    return recipients_for(found.get(i) for i in ids)


def _plain(value: Any) -> Any:
    """Values as JSON can hold them: instants and dates as ISO text, decimals as text."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime in notification values: pass an aware instant")
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _muted(event: str, recipients: list[Recipient]) -> set[int]:
    ids = [r.user_id for r in recipients if r.user_id is not None and not is_essential(event, r.role)]
    if not ids:
        return set()
    rows = db.session.scalars(
        select(NotificationMute.user_id).where(
            NotificationMute.event == event, NotificationMute.user_id.in_(ids)
        )
    )
    return set(rows)


def notify(
    event: str,
    *,
    recipients: list[Recipient],
    values: dict[str, Any],
    ticket_id: int | None = None,
    thread: str | None = None,
) -> OutboxEntry:
    """Write a notification to the outbox in the current transaction (the caller commits).

    `values` are what the templates show (JSON-able; instants become ISO text). Recipients who
    turned this kind of notice off are left out unless it is essential for them. Every active
    webhook endpoint subscribed to `event` gets a delivery too. `thread` groups e-mails in mail
    clients; it defaults to one thread per ticket.
    """
    if event not in EVENT_TYPES:
        raise ValueError(f"unknown notification event {event!r}")
    now = utcnow()
    muted = _muted(event, recipients)
    chosen: list[Recipient] = []
    seen: set[str] = set()
    for recipient in recipients:
        address = recipient.email.strip().lower()
        if not address or address in seen or recipient.user_id in muted:
            continue
        seen.add(address)
        chosen.append(recipient)
    if thread is None and ticket_id is not None:
        thread = f"ticket-{ticket_id}"
    entry = OutboxEntry(
        event=event,
        ticket_id=ticket_id,
        thread=thread,
        recipients=[asdict(r) for r in chosen],
        values=_plain(values),
        state="pending",
        created_at=now,
        due_at=now + timedelta(seconds=current_app.config["NOTIFY_RELAY_GRACE_SECONDS"]),
    )
    for index, recipient in enumerate(chosen):
        entry.deliveries.append(
            Delivery(channel="email", target=recipient.email.strip().lower(), recipient_index=index,
                     state="pending", updated_at=now)
        )
    for endpoint in [] if EVENT_TYPES[event].private else subscribed_endpoints(event):
        entry.deliveries.append(
            Delivery(channel="webhook", target=f"endpoint:{endpoint.id}", endpoint_id=endpoint.id,
                     state="pending", updated_at=now)
        )
    if not entry.deliveries:
        entry.state, entry.finished_at = "done", now  # kept as a record; nothing to send
    db.session.add(entry)
    return entry


def subscribed_endpoints(event: str) -> list[WebhookEndpoint]:
    endpoints = db.session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.active.is_(True)))
    return [e for e in endpoints if event in (e.events or [])]


# -- relaying after commit -------------------------------------------------------------------


def mark_for_relay(session: Session, entry_id: int) -> None:
    """Relay this entry after the outermost commit of `session` (notify() does it for new rows)."""
    on_commit_batch(relay, entry_id, session)


@sa_event.listens_for(OutboxEntry, "after_insert")
def _remember_new_entry(mapper: Any, connection: Any, target: OutboxEntry) -> None:
    session = object_session(target)
    if session is not None and target.state == "pending":
        mark_for_relay(session, target.id)


def relay(ids: list[int]) -> None:
    """Hand committed outbox ids to RQ, or deliver them now when there is no Redis.

    Never raises: the web request that caused the notification has already succeeded.
    """
    ids = sorted(set(ids))
    if not ids:
        return
    if current_app.config.get("REDIS_URL"):
        try:
            enqueue(ids)
        except redis.RedisError as exc:
            log.warning("Redis unreachable, %d notification(s) wait for the sweep: %s", len(ids), exc)
            due_now(ids)
    else:
        deliver_inline(ids)


def due_now(ids: list[int]) -> None:
    """Make pending rows due for the next sweep: their relay failed, so waiting out the grace
    period (meant for relays still in flight) would only delay them. Never raises."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    with app.app_context():  # a session of its own: the caller's may be between transactions
        try:
            db.session.execute(
                update(OutboxEntry)
                .where(OutboxEntry.id.in_(ids), OutboxEntry.state == "pending")
                .values(due_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            db.session.commit()
        except Exception:  # the grace period still brings them back, only later
            log.warning("could not mark %d notification(s) due now", len(ids), exc_info=True)
            db.session.rollback()


def retry_policy() -> Retry | None:
    intervals = [int(s) for s in current_app.config["NOTIFY_RETRY_INTERVALS"]]
    return Retry(max=len(intervals), interval=intervals) if intervals else None


def enqueue(ids: list[int], connection: redis.Redis | None = None) -> None:
    """One round trip to Redis for any number of outbox ids."""
    from helpdesk.notifications.delivery import deliver_job

    queue = named_queue(QUEUE, connection)
    retry = retry_policy()
    jobs = [
        Queue.prepare_data(
            deliver_job, (entry_id,), retry=retry, description=f"notification {entry_id}",
            result_ttl=0, failure_ttl=7 * 24 * 3600,
        )
        for entry_id in ids
    ]
    with queue.connection.pipeline() as pipe:
        queue.enqueue_many(jobs, pipeline=pipe)
        pipe.execute()


def deliver_inline(ids: list[int]) -> None:
    """The embedded default: deliver each entry now, in a fresh app context of its own."""
    from helpdesk.notifications.delivery import deliver

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    for entry_id in ids:
        with app.app_context():
            try:
                deliver(entry_id)
            except Exception:
                log.exception("inline delivery of notification %s failed", entry_id)
                db.session.rollback()


# -- the sweep -------------------------------------------------------------------------------


def sweep(limit: int = SWEEP_BATCH) -> int:
    """Relay pending entries whose `due_at` has passed; returns how many. Safe on many hosts.

    The periodic job `notifications-sweep` (every NOTIFY_SWEEP_SECONDS, one worker per window).
    """
    now = utcnow()
    due = list(
        db.session.scalars(
            select(OutboxEntry.id)
            .where(OutboxEntry.state == "pending", OutboxEntry.due_at <= now)
            .order_by(OutboxEntry.due_at)
            .limit(limit)
        )
    )
    db.session.rollback()  # end the read; nothing is held while we talk to Redis
    if not due:
        return 0
    if current_app.config.get("REDIS_URL"):
        connection = redis_connection()
        if named_queue(QUEUE, connection).count > SWEEP_MAX_QUEUE_DEPTH:
            return 0
        enqueue(due, connection)
    grace = timedelta(seconds=current_app.config["NOTIFY_RELAY_GRACE_SECONDS"])
    db.session.execute(
        update(OutboxEntry)
        .where(OutboxEntry.id.in_(due), OutboxEntry.state == "pending")
        .values(due_at=now + grace)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    if not current_app.config.get("REDIS_URL"):
        deliver_inline(due)
    log.info("sweep relayed %d notification(s)", len(due))
    return len(due)
