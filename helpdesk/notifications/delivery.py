"""The delivery job: take an outbox id, send what is not yet sent, record every attempt.

Idempotence comes from the delivery log. A job claims its deliveries with one conditional UPDATE
(pending, or sending with an expired lease) and commits before it talks to SMTP or a webhook, so
two jobs for the same entry never send the same delivery at the same time, and a job run again
after success finds nothing to claim. Each result is committed as soon as it is known.

The guarantee: every delivery is attempted until it is sent, refused for good or out of attempts.
A worker that dies mid-delivery leaves a "sending" row whose lease runs out; the sweep relays the
entry again and the next job sends it. A second copy can only reach a mailbox if the process dies
after the SMTP server accepted the message and before the "sent" commit (one database round trip);
that copy carries the same Message-ID (and a webhook the same id), by which mail stores and
receivers drop duplicates.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from rq import get_current_job
from sqlalchemy import and_, case, exists, or_, select, update

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


def _claimable(now: datetime) -> Any:
    return or_(Delivery.state == "pending", and_(Delivery.state == "sending", Delivery.lease_until < now))


def deliver(entry_id: int) -> str:
    """Send every delivery of the entry that is due; returns what is left to do.

    Six database round trips for a one-recipient entry: claim and commit, read the entry, then
    per delivery its result, the entry's state and a commit.
    """
    session = db.session()
    previous, session.expire_on_commit = session.expire_on_commit, False  # no reloads after commits
    try:
        return _deliver(entry_id)
    finally:
        session.expire_on_commit = previous


def _deliver(entry_id: int) -> str:
    now = utcnow()
    lease = now + timedelta(seconds=current_app.config["NOTIFY_LEASE_SECONDS"])
    claimed = sorted(db.session.scalars(
        update(Delivery)
        .where(Delivery.outbox_id == entry_id, _claimable(now))
        .values(state="sending", lease_until=lease, attempts=Delivery.attempts + 1, updated_at=now)
        .returning(Delivery),
        execution_options={"populate_existing": True, "synchronize_session": False},
    ), key=lambda d: d.id)
    db.session.commit()  # the lease is visible to every other worker before anything is sent
    if not claimed:
        return _settle_unclaimed(entry_id)
    entry = db.session.get(OutboxEntry, entry_id, populate_existing=True)
    if entry is None:  # cannot happen with the foreign key; say so rather than send blind
        return NOTHING
    retrying: list[Delivery] = []
    outcome = BUSY
    for number, delivery in enumerate(claimed, start=1):
        if _lease_kept(delivery):
            _attempt(entry, delivery)
        if delivery.state == "pending":
            retrying.append(delivery)
        if number == len(claimed):
            db.session.flush()
            outcome = _settle(entry_id, retrying)
        db.session.commit()  # each result is kept as soon as it is known
    return outcome


def _lease_kept(delivery: Delivery) -> bool:
    """Before a send, make sure the lease outlasts it; False if another job has taken it over.

    A job with many recipients may reach its last ones late: their lease is renewed first (one
    conditional UPDATE, only when less than the time one send may take is left).
    """
    config = current_app.config
    margin = timedelta(seconds=2 * max(float(config["SMTP_TIMEOUT"]), float(config["WEBHOOK_TIMEOUT"])))
    now = utcnow()
    if delivery.lease_until is not None and delivery.lease_until - now > margin:
        return True
    lease = now + timedelta(seconds=config["NOTIFY_LEASE_SECONDS"])
    renewed = db.session.execute(
        update(Delivery)
        .where(Delivery.id == delivery.id, Delivery.state == "sending", Delivery.lease_until == delivery.lease_until)
        .values(lease_until=lease)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if renewed:
        delivery.lease_until = lease
        return True
    db.session.expire(delivery)  # someone else holds it now: leave it alone
    return False


def _attempt(entry: OutboxEntry, delivery: Delivery) -> None:
    now = utcnow()
    try:
        if delivery.channel == "email":
            delivery.message_id = _send_mail(entry, delivery)
        else:
            endpoint = db.session.get(WebhookEndpoint, delivery.endpoint_id) if delivery.endpoint_id else None
            if endpoint is None:
                raise webhooks.WebhookFailed("endpoint removed", permanent=True)
            webhooks.post(endpoint, entry)
            delivery.message_id = webhooks.webhook_id(entry.id)
    except (mail.SendError, webhooks.WebhookFailed) as exc:
        _failed(delivery, str(exc), permanent=exc.permanent, now=now)
    except Exception as exc:  # a template or data bug: keep trying, and show it to an admin
        log.exception("delivery %s of notification %s failed", delivery.id, entry.id)
        _failed(delivery, f"{type(exc).__name__}: {exc}", permanent=False, now=now)
    else:
        delivery.state, delivery.sent_at, delivery.last_error = "sent", now, None
        delivery.lease_until, delivery.updated_at = None, now


def _failed(delivery: Delivery, error: str, *, permanent: bool, now: datetime) -> None:
    if permanent:
        delivery.state = "failed"
    elif delivery.attempts >= max_attempts():
        delivery.state = "dead"
    else:
        delivery.state = "pending"
    delivery.last_error = error[:2000]
    delivery.lease_until, delivery.updated_at = None, now
    log.warning("delivery %s (%s %s) %s: %s", delivery.id, delivery.channel, delivery.target, delivery.state, error)


def _send_mail(entry: OutboxEntry, delivery: Delivery) -> str:
    recipient = entry.recipients[delivery.recipient_index or 0]
    rendered = mail.render(entry.event, recipient, entry.values, entry.ticket_id)
    msg_id = mail.message_id(entry.id, delivery.id)
    message = mail.build_message(
        rendered, to=recipient["email"], name=recipient.get("name") or "", msg_id=msg_id,
        thread=entry.thread, event=entry.event, ticket_id=entry.ticket_id,
    )
    mail.transport().send(message, recipient["email"], f"{entry.id}-{delivery.id}.eml")
    return msg_id


def _close_if_final(entry_id: int) -> bool:
    """One statement: the entry becomes done (or dead) if none of its deliveries is still open."""
    still_open = exists().where(Delivery.outbox_id == entry_id, Delivery.state.in_(OPEN_STATES))
    any_dead = exists().where(Delivery.outbox_id == entry_id, Delivery.state == "dead")
    result = db.session.execute(
        update(OutboxEntry)
        .where(OutboxEntry.id == entry_id, OutboxEntry.state == "pending", ~still_open)
        .values(state=case((any_dead, "dead"), else_="done"), finished_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)


def _settle(entry_id: int, retrying: list[Delivery]) -> str:
    """Close the entry when every delivery is final; else say when the sweep should look again."""
    if retrying:
        wait = _interval_after(max(d.attempts for d in retrying))
        grace = current_app.config["NOTIFY_RELAY_GRACE_SECONDS"] if current_app.config.get("REDIS_URL") else 0
        db.session.execute(
            update(OutboxEntry).where(OutboxEntry.id == entry_id)
            .values(due_at=utcnow() + timedelta(seconds=wait + grace))
            .execution_options(synchronize_session=False)
        )
        return RETRY
    return DONE if _close_if_final(entry_id) else BUSY  # BUSY: another job holds a lease


def _settle_unclaimed(entry_id: int) -> str:
    """Nothing to claim: the entry is finished, or someone else holds its deliveries."""
    state = db.session.scalar(select(OutboxEntry.state).where(OutboxEntry.id == entry_id))
    if state != "pending":
        db.session.rollback()
        return NOTHING
    closed = _close_if_final(entry_id)  # e.g. a job died between its last send and this step
    db.session.commit()
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
