"""Writing to the outbox in the caller's transaction, and relaying it after the commit.

`notify()` adds an `OutboxEntry` and its deliveries to `db.session`; it never commits. After the
outermost commit (`helpdesk.transactions.on_commit_batch`), the ids written in the transaction
are relayed: enqueued on RQ when REDIS_URL is set, else delivered inline. A relay that fails (Redis down, process killed) loses nothing: the
row stays pending, and the periodic sweep (one worker per window) relays rows whose `due_at` has passed;
a relay that fails on Redis makes its rows due at once, so they go with the next sweep.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import redis
from flask import Response, current_app, g, has_request_context
from rq import Queue, Retry
from sqlalchemy import event as sa_event
from sqlalchemy import insert, select, text, update
from sqlalchemy.orm import Session, object_session

from helpdesk.accounts import User
from helpdesk.clock import utcnow
from helpdesk.extensions import db
from helpdesk.jobs import named_queue, redis_connection
from helpdesk.notifications import inbox
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


# Recipient's fields as the outbox row stores them (dataclasses.asdict, without its deep copy of
# plain values: a tenth of the sweep's CPU for 10,000 notices).
_RECIPIENT_FIELDS = tuple(f.name for f in fields(Recipient))


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
    """Recipients for the active users among `users`, each address once; an address a bounce
    marked undeliverable (shown on the user's profile) gets nothing."""
    seen: set[str] = set()
    found = []
    for user in users:
        if user is None or not user.active or user.email.lower() in seen or user.email_undeliverable_at is not None:
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
    return _muted_many([(event, recipients)]).get(event, set())


def _muted_many(batch: Iterable[tuple[str, list[Recipient]]]) -> dict[str, set[int]]:
    """Per event, the ids of the recipients who turned it off (one query for any number of events)."""
    wanted: dict[str, set[int]] = {}
    for event, recipients in batch:
        ids = {r.user_id for r in recipients if r.user_id is not None and not is_essential(event, r.role)}
        if ids:
            wanted.setdefault(event, set()).update(ids)
    if not wanted:
        return {}
    user_ids = set().union(*wanted.values())
    rows = db.session.execute(
        select(NotificationMute.event, NotificationMute.user_id).where(
            NotificationMute.event.in_(sorted(wanted)), NotificationMute.user_id.in_(sorted(user_ids))
        )
    )
    muted: dict[str, set[int]] = {}
    for event, user_id in rows:
        if user_id in wanted[event]:
            muted.setdefault(event, set()).add(user_id)
    return muted


@dataclass(frozen=True)
class Notice:
    """One notification of a batch for `notify_many` (the arguments of `notify`)."""

    event: str
    recipients: list[Recipient]
    values: dict[str, Any]
    ticket_id: int | None = None
    thread: str | None = None


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
    notice = Notice(event, recipients, values, ticket_id, thread)
    batch = _COLLECTING.get()
    if batch is not None:
        batch.notices.append(notice)
        return None  # type: ignore[return-value]  # written by `collected` with the rest
    row, deliveries = _rows([notice])[0]
    entry = OutboxEntry(**row)
    entry.deliveries.extend(Delivery(**d) for d in deliveries)
    db.session.add(entry)
    inbox.write(inbox.inbox_rows(event, recipients, row["values"], ticket_id))
    return entry


class NoticeBatch:
    """The notices `notify` collected inside `collected()`; `mark`/`drop_since` let a caller
    forget the ones of a unit of work it rolled back (a ticket's savepoint in a bulk action)."""

    def __init__(self) -> None:
        self.notices: list[Notice] = []

    def mark(self) -> int:
        return len(self.notices)

    def drop_since(self, mark: int) -> None:
        del self.notices[mark:]


_COLLECTING: ContextVar[NoticeBatch | None] = ContextVar("helpdesk.notifications.collecting", default=None)


@contextmanager
def collected() -> Iterator[NoticeBatch]:
    """Collect what `notify` is asked inside, and write it all with one `notify_many` on the way out.

    For a loop that notifies once per item (a bulk action on 100 tickets): the mutes and the
    webhook endpoints are read once and the rows go in one INSERT per table, in the same
    transaction as before (write before the caller commits). Nothing is written if the block raises.
    """
    batch = NoticeBatch()
    token = _COLLECTING.set(batch)
    try:
        yield batch
    finally:
        _COLLECTING.reset(token)
    notify_many(batch.notices)


@dataclass(frozen=True)
class Audience:
    """What `notify_many` reads about its recipients (their mutes, the webhook endpoints), read
    ahead: a filing reads it before its first write, so SQLite's one write lock is held shorter."""

    users: dict[str, frozenset[int]]  # per event, the recipients whose mutes were read
    muted: dict[str, set[int]]
    endpoints: dict[str, list[WebhookEndpoint]]

    def covers(self, notices: list[Notice]) -> bool:
        return all(
            notice.event in self.users and notice.event in self.endpoints
            and {r.user_id for r in notice.recipients if r.user_id is not None} <= self.users[notice.event]
            for notice in notices
        )


def audience(batch: list[tuple[str, list[Recipient]]]) -> Audience:
    """The mutes and webhook endpoints for these (event, recipients), for `notify_many(audience=)`."""
    users: dict[str, set[int]] = {}
    for event, recipients in batch:
        users.setdefault(event, set()).update(r.user_id for r in recipients if r.user_id is not None)
    events = set(users)
    public = {e for e in events if not EVENT_TYPES[e].private}
    endpoints = subscribed_endpoints_many(public) if public else {}
    return Audience({e: frozenset(ids) for e, ids in users.items()}, _muted_many(batch),
                    {e: endpoints.get(e, []) for e in events})


def notify_many(notices: list[Notice], audience: Audience | None = None) -> list[int]:
    """`notify` for many notifications at once; returns the outbox ids.

    The same rows as `notify` writes, but with one query for the mutes, one for the webhook
    endpoints and one INSERT per table whatever the number (the SLA sweep writes thousands; on
    PostgreSQL each takes one array per column). Flushes; relayed after the outermost commit like any other. `audience`: the mutes
    and endpoints read ahead (`audience()`); read here if it does not cover every notice.
    """
    built = _rows(notices, audience if audience is not None and audience.covers(notices) else None)
    if not built:
        return []
    session = db.session()
    if session.get_bind().dialect.name == "postgresql":
        ids = _insert_entries_postgres(session, [row for row, _ in built])
    else:
        ids = _insert_entries(session, [row for row, _ in built])
    deliveries = [dict(d, outbox_id=entry_id) for entry_id, (_, ds) in zip(ids, built, strict=True) for d in ds]
    if deliveries:
        _insert_deliveries(session, deliveries)
    inbox.write([item for notice, (row, _) in zip(notices, built, strict=True)
                 for item in inbox.inbox_rows(notice.event, notice.recipients, row["values"], notice.ticket_id)])
    for entry_id, (row, _) in zip(ids, built, strict=True):
        if row["state"] == "pending":
            mark_for_relay(session, entry_id)
    return ids


def _insert_entries(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    """The rows' ids, in their order: one INSERT ... RETURNING (insertmanyvalues batches)."""
    if len(rows) == 1:  # a filing's one notice: its id, nothing to match (no JSON read back and encoded again)
        return [session.execute(insert(OutboxEntry).returning(OutboxEntry.id), rows[0]).scalar_one()]
    # RETURNING in batches comes back in no promised order (SQLite): match each row by its
    # content. Rows equal in every column are interchangeable, and so are their deliveries.
    waiting: dict[str, list[int]] = {}
    for index, row in enumerate(rows):
        waiting.setdefault(_content_key(row), []).append(index)
    ids: list[int] = [0] * len(rows)
    returned = session.execute(
        insert(OutboxEntry).returning(OutboxEntry.id, OutboxEntry.event, OutboxEntry.ticket_id, OutboxEntry.thread,
                                      OutboxEntry.recipients, OutboxEntry.values),
        rows,
    )
    for entry_id, event, ticket_id, thread, recipients, values in returned:
        key = _content_key({"event": event, "ticket_id": ticket_id, "thread": thread,
                            "recipients": recipients, "values": values})
        ids[waiting[key].pop()] = entry_id
    return ids


# PostgreSQL: one array per column (unnest), a statement of constant text and a handful of
# parameters for any number of rows, where insertmanyvalues built and psycopg parsed 8,000
# placeholders per thousand rows and executemany ran one statement per row (the SLA sweep's
# thousands of notices). The ids are drawn in the statement and returned in the rows' order. JSON
# columns go as one JSON array (json_array_elements): psycopg escapes each text in an array.
_ENTRIES_PG = text(
    "WITH input AS (SELECT nextval(pg_get_serial_sequence('notification_outbox', 'id')) AS id, i.* "
    "FROM ROWS FROM (unnest(CAST(:events AS varchar[])), unnest(CAST(:ticket_ids AS integer[])), "
    "unnest(CAST(:threads AS varchar[])), json_array_elements(CAST(:recipients AS json)), "
    "json_array_elements(CAST(:vals AS json)), unnest(CAST(:states AS varchar[])), "
    "unnest(CAST(:created AS timestamptz[])), unnest(CAST(:due AS timestamptz[])), "
    "unnest(CAST(:finished AS timestamptz[]))) "
    "WITH ORDINALITY AS i(event, ticket_id, thread, recipients, vals, state, created_at, due_at, finished_at, n)), "
    "entries AS (INSERT INTO notification_outbox "
    "(id, event, ticket_id, thread, recipients, \"values\", state, created_at, due_at, finished_at) "
    "SELECT id, event, ticket_id, thread, recipients, vals, state, created_at, due_at, finished_at "
    "FROM input ORDER BY n) "
    "SELECT id FROM input ORDER BY n"
)
_DELIVERIES_PG = text(
    "INSERT INTO notification_deliveries "
    "(outbox_id, channel, target, recipient_index, endpoint_id, state, attempts, updated_at) "
    "SELECT d.outbox_id, d.channel, d.target, d.recipient_index, d.endpoint_id, d.state, 0, d.updated_at "
    "FROM unnest(CAST(:outbox_ids AS integer[]), CAST(:channels AS varchar[]), CAST(:targets AS varchar[]), "
    "CAST(:indexes AS integer[]), CAST(:endpoints AS integer[]), CAST(:states AS varchar[]), "
    "CAST(:updated AS timestamptz[])) "
    "WITH ORDINALITY AS d(outbox_id, channel, target, recipient_index, endpoint_id, state, updated_at, n) ORDER BY d.n"
)


def _insert_entries_postgres(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    """`_insert_entries` on PostgreSQL: one statement, the ids in the rows' order."""
    return list(session.scalars(_ENTRIES_PG, {
        "events": [r["event"] for r in rows], "ticket_ids": [r["ticket_id"] for r in rows],
        "threads": [r["thread"] for r in rows], "recipients": json.dumps([r["recipients"] for r in rows]),
        "vals": json.dumps([r["values"] for r in rows]), "states": [r["state"] for r in rows],
        "created": [r["created_at"] for r in rows], "due": [r["due_at"] for r in rows],
        "finished": [r["finished_at"] for r in rows],
    }))


def _insert_deliveries(session: Session, rows: list[dict[str, Any]]) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_DELIVERIES_PG, {
            "outbox_ids": [r["outbox_id"] for r in rows], "channels": [r["channel"] for r in rows],
            "targets": [r["target"] for r in rows], "indexes": [r["recipient_index"] for r in rows],
            "endpoints": [r["endpoint_id"] for r in rows], "states": [r["state"] for r in rows],
            "updated": [r["updated_at"] for r in rows],
        })
    else:
        session.execute(insert(Delivery), rows)


def _content_key(row: dict[str, Any]) -> str:
    return json.dumps([row["event"], row["ticket_id"], row["thread"], row["recipients"], row["values"]],
                      sort_keys=True, default=str)


def _rows(notices: list[Notice], ahead: Audience | None = None) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Each notice's outbox row and delivery rows, as plain column values."""
    for notice in notices:
        if notice.event not in EVENT_TYPES:
            raise ValueError(f"unknown notification event {notice.event!r}")
    if not notices:
        return []
    now = utcnow()
    due_at = now + timedelta(seconds=current_app.config["NOTIFY_RELAY_GRACE_SECONDS"])
    if ahead is not None:
        muted, endpoints = ahead.muted, ahead.endpoints
    else:
        muted = _muted_many((n.event, n.recipients) for n in notices)
        public_events = {n.event for n in notices if not EVENT_TYPES[n.event].private}
        endpoints = subscribed_endpoints_many(public_events) if public_events else {}
    out = []
    for notice in notices:
        event, ticket_id, thread = notice.event, notice.ticket_id, notice.thread
        off = muted.get(event, set())
        chosen: list[Recipient] = []
        seen: set[str] = set()
        for recipient in notice.recipients:
            address = recipient.email.strip().lower()
            if not address or address in seen or recipient.user_id in off:
                continue
            seen.add(address)
            chosen.append(recipient)
        if thread is None and ticket_id is not None:
            thread = f"ticket-{ticket_id}"
        deliveries: list[dict[str, Any]] = [
            {"channel": "email", "target": r.email.strip().lower(), "recipient_index": index,
             "endpoint_id": None, "state": "pending", "updated_at": now}
            for index, r in enumerate(chosen)
        ]
        deliveries.extend(
            {"channel": "webhook", "target": f"endpoint:{endpoint.id}", "recipient_index": None,
             "endpoint_id": endpoint.id, "state": "pending", "updated_at": now}
            for endpoint in endpoints.get(event, [])
        )
        row = {
            "event": event, "ticket_id": ticket_id, "thread": thread,
            "recipients": [{name: getattr(r, name) for name in _RECIPIENT_FIELDS} for r in chosen],
            "values": _plain(notice.values),
            "state": "pending", "created_at": now, "due_at": due_at, "finished_at": None,
        }
        if not deliveries:
            row["state"], row["finished_at"] = "done", now  # kept as a record; nothing to send
        out.append((row, deliveries))
    return out


def subscribed_endpoints_many(events: set[str]) -> dict[str, list[WebhookEndpoint]]:
    endpoints = list(db.session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.active.is_(True))))
    return {event: [e for e in endpoints if event in (e.events or [])] for event in events}


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
        deliver_after_response(ids)


# -- the embedded default: delivery after the response ---------------------------------------
_PENDING = "notifications_after_response"  # flask.g: ids waiting for the response to be sent
_RESPONDED = "notifications_responded"  # flask.g: the response is built; later ids go at once


def deliver_after_response(ids: list[int]) -> None:
    """Without Redis: deliver after the response has gone to the client, not inside the request.

    In a request, the ids wait in `flask.g` until the response is built (`hand_over`), and are
    delivered when the server closes it (`response.call_on_close`: the client has its answer).
    A request that ends without a response (an unhandled error) delivers them at teardown.
    Outside a request (a CLI command, a job) they are delivered now. A process that dies in
    between loses nothing: the rows stay pending for `sweep`.
    """
    if has_request_context() and current_app.config.get("NOTIFY_AFTER_RESPONSE", True) and not g.get(_RESPONDED):
        g.setdefault(_PENDING, []).extend(ids)
        return
    deliver_inline(ids)


def hand_over(response: Response) -> Response:
    """after_request: deliver the request's notifications once the response is closed."""
    g.setdefault(_RESPONDED, True)
    ids = g.pop(_PENDING, None)
    if ids:
        app = current_app._get_current_object()  # type: ignore[attr-defined]

        def deliver_later() -> None:
            with app.app_context():
                deliver_inline(ids)

        response.call_on_close(deliver_later)
    return response


def deliver_leftovers(_exc: BaseException | None) -> None:
    """teardown_request: a request that built no response still delivers what it committed."""
    ids = g.pop(_PENDING, None)
    if ids:
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
        except Exception:  # the grace period still brings them back, only later (the context's
            # teardown rolls its session back)
            log.warning("could not mark %d notification(s) due now", len(ids), exc_info=True)


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
    """The embedded default: deliver the entries now, in a fresh app context of their own (to
    files: all in one commit, `deliver_local`; otherwise each entry on its own)."""
    from helpdesk.notifications.delivery import deliver, deliver_local

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    with app.app_context():
        try:
            ids = deliver_local(ids)
        except Exception:  # the context's teardown rolls its session back; each entry is tried below
            log.exception("inline delivery of notifications %s to files failed", ids)
    for entry_id in ids:
        with app.app_context():
            try:
                deliver(entry_id)
            except Exception:  # the context's teardown rolls its session back
                log.exception("inline delivery of notification %s failed", entry_id)


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
