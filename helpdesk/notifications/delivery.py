"""The delivery job: take an outbox id, send what is not yet sent, record every attempt.

Idempotence comes from the delivery log. A job claims its deliveries with one conditional UPDATE
(pending, or sending with an expired lease) that commits before it talks to SMTP or a webhook, so
two jobs for the same entry never send the same delivery at the same time, and a job run again
after success finds nothing to claim. Each result is committed as soon as it is known, and only
while the job still holds the lease.

The guarantee: every delivery is attempted until it is sent, refused for good or out of attempts.
A worker that dies mid-delivery leaves a "sending" row whose lease runs out; the sweep relays the
entry again and the next job sends it. A second copy can only reach a mailbox if the process dies
after the SMTP server accepted the message and before the "sent" commit (one database round trip);
that copy carries the same Message-ID (and a webhook the same id), by which mail stores and
receivers drop duplicates.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from flask import current_app
from rq import get_current_job
from sqlalchemy import Connection, and_, bindparam, case, exists, func, or_, select, update

from helpdesk.clock import utcnow
from helpdesk.extensions import db
from helpdesk.notifications import mail, webhooks
from helpdesk.notifications.models import Delivery, OutboxEntry, WebhookEndpoint
from helpdesk.notifications.outbox import mark_for_relay

log = logging.getLogger(__name__)

NOTHING, DONE, RETRY, BUSY = "nothing", "done", "retry", "busy"
OPEN_STATES = ("pending", "sending")


class DeliveryDeferred(Exception):
    """Raised by the job so that RQ runs it again after the next backoff interval."""


def max_attempts() -> int:
    return len(current_app.config["NOTIFY_RETRY_INTERVALS"]) + 1


def _interval_after(attempts: int) -> float:
    intervals = current_app.config["NOTIFY_RETRY_INTERVALS"]
    if not intervals:
        return 0.0
    return float(intervals[min(max(attempts - 1, 0), len(intervals) - 1)])


DELIVERIES = Delivery.__table__
ENTRIES = OutboxEntry.__table__
ENDPOINTS = WebhookEndpoint.__table__
CLAIM_COLUMNS = (DELIVERIES.c.id, DELIVERIES.c.outbox_id, DELIVERIES.c.channel, DELIVERIES.c.target,
                 DELIVERIES.c.recipient_index, DELIVERIES.c.endpoint_id, DELIVERIES.c.attempts,
                 DELIVERIES.c.lease_until)
ENTRY_COLUMNS = tuple(c.label(f"entry_{c.name}") for c in ENTRIES.c)
# PostgreSQL: SET LOCAL synchronous_commit TO OFF, inside the claim's own statement (true for
# every row the claim takes, so it has run whenever something was claimed)
SYNC_COMMIT_OFF = func.set_config("synchronous_commit", "off", True).is_not(None)


@dataclass
class Claim:
    """A delivery this job holds, as read back from its claim."""

    id: int
    outbox_id: int
    channel: str
    target: str
    recipient_index: int | None
    endpoint_id: int | None
    attempts: int
    lease_until: datetime
    state: str = "sending"
    last_error: str | None = None
    message_id: str | None = None


def deliver(entry_id: int) -> str:
    """Send every delivery of the entry that is due; returns what is left to do.

    Two short transactions for a one-recipient entry: claim and read the entry; then the result
    and, with the last result, the entry's closing. Core statements on one connection, no ORM.
    On PostgreSQL each is one statement committed by itself (autocommit): two round trips to the
    database per delivery where BEGIN, the claim, COMMIT, BEGIN, the result, the closing and
    COMMIT were seven.
    """
    with db.engine.connect() as conn:
        return _deliver(conn, entry_id)


def _deliver(conn: Connection, entry_id: int) -> str:
    now = utcnow()
    lease = now + timedelta(seconds=current_app.config["NOTIFY_LEASE_SECONDS"])
    params = {"entry_id": entry_id, "now": now, "lease": lease}
    postgresql = conn.dialect.name == "postgresql"
    if postgresql:
        # One statement, committed by itself: the claim, the entry it belongs to (UPDATE ...
        # FROM), and the setting that lets its commit skip the wait for the disk. If the
        # database crashes before the claim is flushed, this worker's connection dies with it,
        # its result is never written, and the delivery is tried again: the same "sent but not
        # recorded" case as a worker dying mid-send. Results are committed durably; they are
        # what keeps a message from going twice.
        conn.execution_options(isolation_level="AUTOCOMMIT")
        rows = conn.execute(CLAIM_WITH_ENTRY, params).all()
        if not rows:
            return _settle_unclaimed(conn, entry_id)
        entry: Any = SimpleNamespace(**{c.name: rows[0]._mapping[f"entry_{c.name}"] for c in ENTRIES.c})
    else:
        rows = conn.execute(CLAIM, params).all()
        if not rows:
            return _settle_unclaimed(conn, entry_id)
        entry = conn.execute(select(ENTRIES).where(ENTRIES.c.id == entry_id)).one()
    conn.commit()  # the lease is visible to every other worker before anything is sent
    claims = sorted((Claim(*row[:len(CLAIM_COLUMNS)]) for row in rows), key=lambda c: c.id)
    retrying = []
    for number, claim in enumerate(claims, start=1):
        if _lease_kept(conn, claim):  # else another job has taken it over and records the result
            _attempt(conn, entry, claim)
            if postgresql and number == len(claims):
                if not retrying:
                    return _record_last(conn, entry_id, claim)
                conn.commit()  # (no round trip in autocommit) the last result and the entry's
                # next relay in one transaction
                conn.execution_options(isolation_level=conn.default_isolation_level)
            if _record(conn, claim) and claim.state == "pending":
                retrying.append(claim)
        if number < len(claims):
            conn.commit()  # each result is kept as soon as it is known
    outcome = BUSY  # unless closed below: another job holds a lease
    if retrying:
        conn.execute(update(ENTRIES).where(ENTRIES.c.id == entry_id)
                     .values(due_at=_retry_due(max(c.attempts for c in retrying))))
        outcome = RETRY
    elif _close_if_final(conn, entry_id):
        outcome = DONE
    conn.commit()  # the last result and the entry's state together
    return outcome


def _retry_due(attempts: int) -> datetime:
    """When an entry whose delivery failed for now is relayed again (RQ's retry comes first)."""
    grace = current_app.config["NOTIFY_RELAY_GRACE_SECONDS"] if current_app.config.get("REDIS_URL") else 0
    return utcnow() + timedelta(seconds=_interval_after(attempts) + grace)


def _record_last(conn: Connection, entry_id: int, claim: Claim) -> str:
    """PostgreSQL, the last result when no other delivery of the entry waits for a retry: the
    result and the entry's closing (or, to be tried again, its next relay) in one statement that
    commits by itself, so they are kept together as before."""
    values = {**_result_values(claim), "entry_id": entry_id}
    if claim.state == "pending":
        return RETRY if conn.execute(RECORD_AND_DUE, {**values, "due": _retry_due(claim.attempts)}).first() else BUSY
    return DONE if conn.execute(RECORD_AND_CLOSE, {**values, "finished_at": utcnow()}).first() else BUSY


def _lease_kept(conn: Connection, claim: Claim) -> bool:
    """Before a send, make sure the lease outlasts it; False if another job has taken it over.

    A job with many recipients may reach its last ones late: their lease is renewed first (one
    conditional UPDATE, only when less than the time one send may take is left).
    """
    config = current_app.config
    margin = timedelta(seconds=2 * max(float(config["SMTP_TIMEOUT"]), float(config["WEBHOOK_TIMEOUT"])))
    now = utcnow()
    if claim.lease_until - now > margin:
        return True
    lease = now + timedelta(seconds=config["NOTIFY_LEASE_SECONDS"])
    renewed = conn.execute(
        update(DELIVERIES)
        .where(DELIVERIES.c.id == claim.id, DELIVERIES.c.state == "sending",
               DELIVERIES.c.lease_until == claim.lease_until)
        .values(lease_until=lease)
    ).rowcount
    conn.commit()
    if renewed:
        claim.lease_until = lease
    return bool(renewed)


def _record(conn: Connection, claim: Claim) -> bool:
    """Write the attempt's result, unless the lease was lost meanwhile; True if written."""
    return bool(conn.execute(RECORD, _result_values(claim)).rowcount)


def _result_values(claim: Claim) -> dict[str, Any]:
    now = utcnow()
    return {"claim_id": claim.id, "held_until": claim.lease_until, "new_state": claim.state,
            "error": claim.last_error, "msg_id": claim.message_id,
            "sent": now if claim.state == "sent" else None, "at": now}


def _attempt(conn: Connection, entry: Any, claim: Claim) -> None:
    try:
        if claim.channel == "email":
            claim.message_id = _send_mail(entry, claim)
        else:
            endpoint = None
            if claim.endpoint_id is not None:
                endpoint = conn.execute(select(ENDPOINTS).where(ENDPOINTS.c.id == claim.endpoint_id)).one_or_none()
            if endpoint is None:
                raise webhooks.WebhookFailed("endpoint removed", permanent=True)
            webhooks.post(endpoint, entry)
            claim.message_id = webhooks.webhook_id(entry.id)
    except mail.MessageNotBuilt as exc:  # the same data would fail again: dead at once, for an admin
        _failed(claim, str(exc), permanent=True, dead=True)
    except (mail.SendError, webhooks.WebhookFailed) as exc:
        _failed(claim, str(exc), permanent=exc.permanent)
    except Exception as exc:  # a template or data bug: keep trying, and show it to an admin
        log.exception("delivery %s of notification %s failed", claim.id, entry.id)
        _failed(claim, f"{type(exc).__name__}: {exc}", permanent=False)
    else:
        claim.state, claim.last_error = "sent", None


def _failed(claim: Claim, error: str, *, permanent: bool, dead: bool = False) -> None:
    if dead:
        claim.state = "dead"
    elif permanent:
        claim.state = "failed"
    elif claim.attempts >= max_attempts():
        claim.state = "dead"
    else:
        claim.state = "pending"
    claim.last_error = error[:2000]
    log.warning("delivery %s (%s %s) %s: %s", claim.id, claim.channel, claim.target, claim.state, error)


def _send_mail(entry: Any, claim: Claim) -> str:
    recipient = entry.recipients[claim.recipient_index or 0]
    rendered = mail.render(entry.event, recipient, entry.values, entry.ticket_id)
    msg_id = mail.message_id(entry.id, claim.id)
    message = mail.build_message(
        rendered, to=recipient["email"], name=recipient.get("name") or "", msg_id=msg_id,
        thread=entry.thread, event=entry.event, ticket_id=entry.ticket_id,
    )
    mail.transport().send(message, recipient["email"], f"{entry.id}-{claim.id}.eml")
    return msg_id


def _closing(many: bool = False) -> Any:
    """The UPDATE that closes an entry if none of its deliveries is still open (dead if one is);
    `many`: each of a list of entries (`entry_ids`), in one statement."""
    entry_id = ENTRIES.c.id if many else bindparam("entry_id")
    still_open = exists().where(DELIVERIES.c.outbox_id == entry_id, DELIVERIES.c.state.in_(OPEN_STATES))
    any_dead = exists().where(DELIVERIES.c.outbox_id == entry_id, DELIVERIES.c.state == "dead")
    return (
        update(ENTRIES)
        .where(ENTRIES.c.id.in_(bindparam("entry_ids", expanding=True)) if many else ENTRIES.c.id == entry_id,
               ENTRIES.c.state == "pending", ~still_open)
        .values(state=case((any_dead, "dead"), else_="done"), finished_at=bindparam("finished_at"))
    )


def _claim() -> Any:
    """The UPDATE that claims an entry's due deliveries (pending, or left behind by a job whose
    lease ran out) and returns them."""
    now = bindparam("now", type_=DELIVERIES.c.updated_at.type)
    claimable = or_(DELIVERIES.c.state == "pending",
                    and_(DELIVERIES.c.state == "sending", DELIVERIES.c.lease_until < now))
    return (
        update(DELIVERIES)
        .where(DELIVERIES.c.outbox_id == bindparam("entry_id"), claimable)
        .values(state="sending", lease_until=bindparam("lease"), attempts=DELIVERIES.c.attempts + 1, updated_at=now)
        .returning(*CLAIM_COLUMNS)
    )


def _record_statement() -> Any:
    """The UPDATE that writes an attempt's result, only while the job still holds its lease."""
    return (
        update(DELIVERIES)
        .where(DELIVERIES.c.id == bindparam("claim_id"), DELIVERIES.c.state == "sending",
               DELIVERIES.c.lease_until == bindparam("held_until", type_=DELIVERIES.c.lease_until.type))
        .values(state=bindparam("new_state"), last_error=bindparam("error"), message_id=bindparam("msg_id"),
                sent_at=bindparam("sent"), lease_until=None, updated_at=bindparam("at"))
    )


def _record_and_close() -> tuple[Any, Any]:
    """PostgreSQL: the last result together with the entry's closing, or with its next relay.

    The result is a data-modifying WITH; the entry's UPDATE sees the deliveries as they were
    before it, so the recorded one is left out of its checks and counted by its new state. An
    entry closes only if none of its other deliveries is open; a result not written (the lease
    was lost) leaves that delivery open to the job that holds it, and the entry with it.
    """
    entry_id = bindparam("entry_id")
    recorded = _record_statement().returning(DELIVERIES.c.id, DELIVERIES.c.state).cte("recorded")
    others = DELIVERIES.c.id.not_in(select(recorded.c.id))
    still_open = exists().where(DELIVERIES.c.outbox_id == entry_id, DELIVERIES.c.state.in_(OPEN_STATES), others)
    any_dead = or_(exists().where(DELIVERIES.c.outbox_id == entry_id, DELIVERIES.c.state == "dead", others),
                   exists().where(recorded.c.state == "dead"))
    close = (
        update(ENTRIES).add_cte(recorded)
        .where(ENTRIES.c.id == entry_id, ENTRIES.c.state == "pending", ~still_open)
        .values(state=case((any_dead, "dead"), else_="done"), finished_at=bindparam("finished_at"))
        .returning(ENTRIES.c.id)
    )
    due = (
        update(ENTRIES).add_cte(recorded)
        .where(ENTRIES.c.id == entry_id, select(recorded.c.id).exists())
        .values(due_at=bindparam("due", type_=ENTRIES.c.due_at.type))
        .returning(ENTRIES.c.id)
    )
    return close, due


# Built once (the statements of an inline delivery cost more to build than to run on SQLite).
CLAIM = _claim()
CLAIM_WITH_ENTRY = CLAIM.where(ENTRIES.c.id == DELIVERIES.c.outbox_id, SYNC_COMMIT_OFF).returning(*ENTRY_COLUMNS)
RECORD = _record_statement()
RECORD_AND_CLOSE, RECORD_AND_DUE = _record_and_close()
CLOSING = _closing()
CLOSING_MANY = _closing(many=True)
LOCAL_DUE = (
    select(*CLAIM_COLUMNS, DELIVERIES.c.state, *ENTRY_COLUMNS)
    .where(DELIVERIES.c.outbox_id.in_(bindparam("entry_ids", expanding=True)), DELIVERIES.c.state.in_(OPEN_STATES),
           ENTRIES.c.id == DELIVERIES.c.outbox_id, ENTRIES.c.state == "pending")
    .order_by(DELIVERIES.c.id)
)
LOCAL_RESULT = (
    update(DELIVERIES)
    .where(DELIVERIES.c.id == bindparam("claim_id"), DELIVERIES.c.state == "pending")
    .values(state=bindparam("new_state"), attempts=DELIVERIES.c.attempts + 1,
            last_error=bindparam("error"), message_id=bindparam("msg_id"), sent_at=bindparam("sent"),
            lease_until=None, updated_at=bindparam("at"))
)


def _close_if_final(conn: Connection, entry_id: int) -> bool:
    """One statement: the entry becomes done (or dead) if none of its deliveries is still open."""
    return bool(conn.execute(CLOSING, {"entry_id": entry_id, "finished_at": utcnow()}).rowcount)


def _settle_unclaimed(conn: Connection, entry_id: int) -> str:
    """Nothing to claim: the entry is finished, or someone else holds its deliveries."""
    state = conn.scalar(select(ENTRIES.c.state).where(ENTRIES.c.id == entry_id))
    if state != "pending":
        conn.rollback()
        return NOTHING
    closed = _close_if_final(conn, entry_id)  # e.g. a job died before closing a finished entry
    conn.commit()
    return DONE if closed else BUSY


def deliver_job(entry_id: int) -> str:
    """The RQ job. Raises DeliveryDeferred while attempts remain, so RQ retries with backoff."""
    outcome = deliver(entry_id)
    job = get_current_job()
    if outcome == RETRY and job is not None and job.retries_left:
        raise DeliveryDeferred(f"notification {entry_id}: some deliveries will be tried again")
    return outcome


def noop_job() -> None:
    """A job that does nothing: the benchmark's yardstick for RQ's own cost."""


def retry_entry(entry: OutboxEntry) -> OutboxEntry:
    """An admin sends a dead (or partly refused) entry again: fresh attempts; commits and relays."""
    now = utcnow()
    db.session.execute(
        update(Delivery)
        .where(Delivery.outbox_id == entry.id, Delivery.state.in_(("dead", "failed")))
        .values(state="pending", attempts=0, lease_until=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    entry.state, entry.finished_at = "pending", None
    entry.due_at = now + timedelta(seconds=current_app.config["NOTIFY_RELAY_GRACE_SECONDS"])
    mark_for_relay(db.session(), entry.id)
    db.session.commit()
    return entry


def deliver_local(entry_ids: list[int]) -> list[int]:
    """The embedded default's inline delivery to files: every e-mail of these entries in one commit.

    Without SMTP the "send" is a file named after its delivery, written again whole if repeated,
    so no lease is needed to keep a message from going twice: the deliveries due are read (no
    lock), their files written, then every result and each entry's closing are written in one
    short transaction (one commit per request instead of one per recipient plus the claim's; on
    SQLite each is a turn of the one write lock). A result is written only if the delivery is
    still pending: a sweep that took it meanwhile records its own (the same file). A process
    that dies before the commit leaves the rows pending for the sweep, which writes the same
    files again. Returns the ids of the entries left to `deliver`.
    """
    if not entry_ids or not isinstance(mail.transport(), mail.FileTransport):
        return list(entry_ids)
    now = utcnow()
    with db.engine.connect() as conn:
        rows = conn.execute(LOCAL_DUE, {"entry_ids": list(entry_ids)}).all()
        conn.rollback()  # end the read (PostgreSQL); nothing is held while the files are written
        # Left to `deliver`: a webhook (a real send), and a delivery another job holds or left
        # behind (its lease: `deliver` takes it over once expired).
        remote = {row.outbox_id for row in rows if row.channel != "email" or row.state != "pending"}
        claims: list[Claim] = []
        entries: dict[int, Any] = {}
        for row in rows:
            if row.outbox_id in remote:
                continue
            entry = entries.get(row.outbox_id)
            if entry is None:
                entry = entries[row.outbox_id] = SimpleNamespace(
                    **{c.name: row._mapping[f"entry_{c.name}"] for c in ENTRIES.c})
            claim = Claim(*row[:len(CLAIM_COLUMNS)])
            claim.attempts += 1  # this attempt, as the claim would have counted it
            _attempt(conn, entry, claim)
            claims.append(claim)
        retrying: dict[int, int] = {}
        result = LOCAL_RESULT

        def values(claim: Claim) -> dict[str, Any]:
            return {"claim_id": claim.id, "new_state": claim.state, "error": claim.last_error,
                    "msg_id": claim.message_id, "sent": now if claim.state == "sent" else None, "at": utcnow()}

        sent = [values(c) for c in claims if c.state == "sent"]
        if sent:
            conn.execute(result, sent)  # one executemany
        for claim in claims:
            if claim.state != "sent":
                written = conn.execute(result, values(claim)).rowcount
                if written and claim.state == "pending":
                    retrying[claim.outbox_id] = max(retrying.get(claim.outbox_id, 0), claim.attempts)
        for entry_id in retrying:
            conn.execute(update(ENTRIES).where(ENTRIES.c.id == entry_id)
                         .values(due_at=utcnow() + timedelta(seconds=_interval_after(retrying[entry_id]))))
        finished = [entry_id for entry_id in entries if entry_id not in retrying]
        if len(finished) == 1:
            _close_if_final(conn, finished[0])
        elif finished:  # a sweep's or a bulk action's entries: one statement for all
            conn.execute(CLOSING_MANY, {"entry_ids": finished, "finished_at": utcnow()})
        conn.commit()
    done = set(entries) | {row.outbox_id for row in rows}
    # The entries nothing was read for (finished, or their deliveries taken): `deliver` settles them.
    return [i for i in entry_ids if i in remote or i not in done]
