"""Receiving one e-mail: from raw bytes to the right record, once.

`receive_message(raw)` decides where a message belongs (a new ticket, a reply, a reopening, a
new ticket linked to a closed one, a pending contact, the unrecognised list, an ignored
automatic reply, a bounce, a loop held for review) and writes the record of that decision
(`InboundMessage`, with the reason in words) together with the ticket or reply, in ONE
transaction that it commits itself.

**Once.** The record's Message-ID is unique in the database (a message without one gets an id
derived from a hash of its bytes). The record is inserted before anything else, so a second
receiver of the same message (a poller killed between the commit and moving the message on the
server, two pollers on two hosts) waits on or fails at that unique key, rolls back everything it
did, and gets `duplicate`: nothing is added twice. There is no check-then-insert window.

**Never lost.** Bad mail never raises: it is recorded as `failed` with the reason (nothing
half-made: the ticket and the record are one transaction) and listed for admins. Only a failure
of the infrastructure (the database or the file storage cannot be reached) raises, so that the
caller leaves the message on the server and tries again later.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError

from helpdesk.accounts import User, create_user, user_by_email
from helpdesk.clock import utcnow
from helpdesk.companies import Client
from helpdesk.extensions import db
from helpdesk.i18n import _
from helpdesk.notifications.mail import mail_domain
from helpdesk.notifications.models import Delivery, OutboxEntry
from helpdesk.storage import storage
from helpdesk.uploads import CheckedFile, UploadError, check_file
from tickets import client_rules, services
from tickets.access import visible_tickets
from tickets.inbound import reading, rules
from tickets.inbound.models import ClientEmailDomain, InboundMailbox, InboundMessage
from tickets.inbound.vocabulary import MailOutcome
from tickets.models import Attachment, Ticket, TicketEvent, TicketLink
from tickets.services import Actor

log = logging.getLogger(__name__)

VIA = "email"
TOO_LARGE = object()


@dataclass(frozen=True)
class Receipt:
    """What became of a message: the outcome, the key it was recorded under, the ticket, and why."""

    outcome: MailOutcome
    message_id: str
    ticket_id: int | None
    reason: str


class _Refused(Exception):
    """Bad mail found while processing: recorded as failed with this reason."""


def receive_message(raw: bytes, *, mailbox_address: str | None = None, now: datetime | None = None) -> Receipt:
    """Record one raw message and file it where it belongs; see the module docstring."""
    now = now or utcnow()
    raw = bytes(raw or b"")
    limit = current_app.config["MAIL_IN_MAX_BYTES"]
    too_large = len(raw) > limit
    try:
        parsed = reading.parse(raw, headers_only=too_large)
        found_id = reading.header(parsed, "Message-ID").strip()
    except Exception:
        parsed, found_id = None, ""
    message_id = rules.stored_message_id(found_id) if found_id else rules.derived_message_id(raw)
    earlier = _recorded(message_id)
    if earlier is not None:
        return earlier
    try:
        if parsed is None:
            raise _Refused("the message cannot be parsed")
        if too_large:
            raise _Refused(f"the message is too large ({len(raw) // (1024 * 1024)} MB; the limit is "
                           f"{limit // (1024 * 1024)} MB)")
        receipt = _process(raw, parsed, message_id, mailbox_address, now)
        db.session.commit()
        return receipt
    except (OperationalError, InterfaceError, OSError):
        db.session.rollback()
        raise  # the database or the storage is down: the caller keeps the message and retries
    except IntegrityError:
        db.session.rollback()
        earlier = _recorded(message_id)
        if earlier is not None:
            return earlier  # another receiver recorded it first
        log.warning("message %s could not be filed", message_id, exc_info=True)
        return _record_failed(raw, parsed, message_id, mailbox_address, now, "the message could not be stored")
    except _Refused as refused:
        db.session.rollback()
        return _record_failed(raw, parsed, message_id, mailbox_address, now, str(refused))
    except Exception as exc:  # bad mail that tripped something: recorded, never raised
        db.session.rollback()
        log.warning("message %s could not be filed", message_id, exc_info=True)
        return _record_failed(raw, parsed, message_id, mailbox_address, now,
                              f"the message could not be processed ({type(exc).__name__})")


def _recorded(message_id: str) -> Receipt | None:
    row = db.session.execute(
        select(InboundMessage.outcome, InboundMessage.ticket_id).where(InboundMessage.message_id == message_id)
    ).first()
    if row is None:
        return None
    return Receipt(MailOutcome.DUPLICATE, message_id, row.ticket_id,
                   f"already received (recorded as {MailOutcome(row.outcome).label.msgid.lower()})")


def _record_failed(raw: bytes, parsed: Any, message_id: str, mailbox: str | None, now: datetime, reason: str) -> Receipt:
    """The failed message's own record, in a transaction of its own."""
    sender = subject = ""
    if parsed is not None:
        sender = reading.parseaddr(reading.header(parsed, "From"))[1].lower()[:254]
        subject = reading.one_line(reading.header(parsed, "Subject"))
    keep = len(raw) <= current_app.config["MAIL_IN_MAX_BYTES"]
    try:
        db.session.add(InboundMessage(
            message_id=message_id, outcome=MailOutcome.FAILED.value, reason=reason, sender=sender,
            subject=subject, mailbox_address=_address(mailbox), size=len(raw),
            storage_key=storage().save(raw) if keep and raw else None, received_at=now,
        ))
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        earlier = _recorded(message_id)
        if earlier is not None:
            return earlier
        raise
    return Receipt(MailOutcome.FAILED, message_id, None, reason)


def _address(value: str | None) -> str | None:
    return value.strip().lower()[:254] if value else None


# -- deciding --------------------------------------------------------------------------------


class _Work:
    """The record being written, and the receipt it turns into."""

    def __init__(self, raw: bytes, read: reading.Reading, message_id: str, mailbox: str | None, now: datetime) -> None:
        self.raw, self.read, self.now = raw, read, now
        self.record = InboundMessage(
            message_id=message_id, outcome=MailOutcome.FAILED.value, reason="", sender=read.sender[:254],
            sender_name=read.sender_name, subject=read.subject, mailbox_address=_address(mailbox),
            size=len(raw), received_at=now,
        )

    def done(self, outcome: MailOutcome, reason: str, *, ticket: Ticket | None = None, user: User | None = None,
             client_id: int | None = None, keep_raw: bool = False) -> Receipt:
        record = self.record
        record.outcome, record.reason = outcome.value, reason
        record.ticket_id = ticket.id if ticket is not None else None
        record.user_id = user.id if user is not None else None
        record.client_id = client_id if client_id is not None else (user.client_id if user is not None else None)
        if keep_raw:
            record.storage_key = storage().save(self.raw)
        return Receipt(outcome, record.message_id, record.ticket_id, reason)


def _process(raw: bytes, parsed: Any, message_id: str, mailbox: str | None, now: datetime) -> Receipt:
    read = reading.read(raw, parsed)
    work = _Work(raw, read, message_id, mailbox, now)
    db.session.add(work.record)
    db.session.flush()  # the unique Message-ID first: a second receiver stops here
    automatic = rules.classify_automatic(read.headers, content_type=read.content_type, report_type=read.report_type,
                                         sender=read.sender, subject=read.subject)
    if automatic is not None and automatic.kind == rules.BOUNCE:
        return _bounce(work)
    if automatic is not None:
        return work.done(MailOutcome.AUTO_REPLY_IGNORED, f"Automatic mail ({automatic.reason}): no ticket, no notice.")
    if not read.sender or "@" not in read.sender:
        raise _Refused("the message has no sender address (From)")
    if _loop(work):
        return work.done(MailOutcome.HELD_LOOP, _loop_reason(), user=user_by_email(read.sender), keep_raw=True)
    user = user_by_email(read.sender)
    ticket, how = _matched_ticket(read)
    if ticket is not None:
        return _reply(work, user, ticket, how)
    if user is not None and user.active and user.is_client:
        return _new_ticket(work, user, mailbox)
    if user is not None and user.active:
        return work.done(MailOutcome.UNRECOGNISED,
                         f"{read.sender} is a staff member and the message refers to no ticket of ours.",
                         user=user, keep_raw=True)
    return _unknown_sender(work, user)


def _bounce(work: _Work) -> Receipt:
    addresses = rules.bounced_recipients(work.read.delivery_status)
    reason = f"Delivery failed for {', '.join(addresses)}" if addresses else "A delivery report naming no failed address"
    if addresses:
        db.session.execute(
            update(User)
            .where(func.lower(User.email).in_(addresses))
            .values(email_undeliverable_at=work.now,
                    email_undeliverable_reason=reading.one_line(f"{work.read.subject} ({work.record.message_id})", 500))
        )
        reason += "; marked undeliverable on the user's profile."
    return work.done(MailOutcome.BOUNCE, reason)


def _loop(work: _Work) -> bool:
    config = current_app.config
    limit, minutes = config["MAIL_IN_LOOP_LIMIT"], config["MAIL_IN_LOOP_MINUTES"]
    earlier = list(db.session.scalars(
        select(InboundMessage.received_at)
        .where(InboundMessage.sender == work.read.sender,
               InboundMessage.received_at > work.now - timedelta(minutes=minutes),
               InboundMessage.id != work.record.id)
        .limit(limit + 1)
    ))
    return rules.held_for_loop(earlier, work.now, limit=limit, minutes=minutes)


def _loop_reason() -> str:
    config = current_app.config
    return (f"More than {config['MAIL_IN_LOOP_LIMIT']} messages from this sender within "
            f"{config['MAIL_IN_LOOP_MINUTES']} minutes: held for review (a mail loop?).")


def _matched_ticket(read: reading.Reading) -> tuple[Ticket | None, str]:
    """The first candidate (rules.reply_candidates) that names a ticket that exists, and how."""
    candidates = rules.reply_candidates(
        in_reply_to=read.in_reply_to, references=read.references, recipients=read.recipients,
        subject=read.subject, domain=mail_domain(), secret=current_app.config["SECRET_KEY"],
    )
    for candidate in candidates:
        ticket_id = candidate.ticket_id
        if candidate.kind == "sent":
            ticket_id = db.session.scalar(
                select(OutboxEntry.ticket_id)
                .join(Delivery, Delivery.outbox_id == OutboxEntry.id)
                .where(OutboxEntry.id == candidate.outbox_id, Delivery.id == candidate.delivery_id)
            )
        if ticket_id is None:
            continue
        ticket = db.session.scalar(select(Ticket).where(Ticket.id == ticket_id).with_for_update(of=Ticket))
        if ticket is not None:
            return ticket, _HOW[candidate.kind]
    return None, ""


_HOW = {
    "sent": "In-Reply-To/References names a message we sent",
    "thread": "In-Reply-To/References names the ticket's thread",
    "token": "sent to the ticket's reply address",
    "subject": "the ticket number in the subject",
}


def _may_see(user: User, ticket: Ticket) -> bool:
    return db.session.scalar(visible_tickets(user).with_only_columns(Ticket.id).where(Ticket.id == ticket.id)) is not None


def _reply(work: _Work, user: User | None, ticket: Ticket, how: str) -> Receipt:
    read = work.read
    if user is None or not user.active or not _may_see(user, ticket):
        return work.done(
            MailOutcome.UNRECOGNISED,
            f"Refers to {ticket.number} ({how}), but {read.sender} may not see that ticket.",
            keep_raw=True,
        )
    actor = Actor(user, via=VIA)
    body, files, refused = _content(work, reply=True)
    # The portal's rule (tickets.client_rules), not a second copy of it: reply, reopen or follow-up.
    outcome = client_rules.reply_outcome(ticket.status, ticket.resolved_at, work.now,
                                         current_app.config["REOPEN_WINDOW_DAYS"])
    if user.is_client and outcome is client_rules.ReplyOutcome.NEW_LINKED:
        return _linked_ticket(work, user, ticket, how, body, files, refused)
    reopening = user.is_client and outcome is client_rules.ReplyOutcome.REOPEN
    message = services.add_message(actor, ticket, body=_with_notes(body, refused), files=files, commit=False)
    _keep_original(work, ticket, user, message.id)
    if reopening:
        return work.done(MailOutcome.REOPENED, f"A reply to resolved {ticket.number} ({how}): reopened.",
                         ticket=ticket, user=user)
    who = "Public reply by staff" if user.is_staff else "Reply"
    return work.done(MailOutcome.REPLY_ADDED, f"{who} on {ticket.number} ({how}).", ticket=ticket, user=user)


def _linked_ticket(work: _Work, user: User, old: Ticket, how: str, body: str, files: list[CheckedFile],
                   refused: list[str]) -> Receipt:
    note = _("Follow-up to %(number)s, which was closed.", number=old.number)
    subject = work.read.subject or old.subject
    ticket = services.file_ticket(
        Actor(user, via=VIA), subject=subject, description=_with_notes(f"{body}\n\n{note}", refused),
        category=old.category, files=files, category_to_confirm=True, commit=False,
    )
    # the same link as a portal reply after the window (tickets.services.client_reply): both pages show it
    db.session.add(TicketLink(ticket_id=ticket.id, reopened_from_id=old.id, created_at=work.now))
    for ticket_id, data in ((ticket.id, {"follows": old.id}), (old.id, {"followed_by": ticket.id})):
        db.session.add(TicketEvent(ticket_id=ticket_id, actor_id=user.id, via=VIA, kind="linked", data=data,
                                   created_at=work.now))
    _keep_original(work, ticket, user, None)
    state = "closed" if old.status == "closed" else "resolved too long ago to reopen"
    return work.done(MailOutcome.LINKED_TICKET_CREATED,
                     f"A reply to {old.number} ({how}), which is {state}: new ticket {ticket.number} linked to it.",
                     ticket=ticket, user=user)


def mailbox_category(address: str | None) -> str:
    """The default category of the mailbox at `address`; unknown or None: the first active
    mailbox's, else "question"."""
    found = None
    if address:
        found = db.session.scalar(select(InboundMailbox.category).where(
            func.lower(InboundMailbox.address) == address.strip().lower(), InboundMailbox.active.is_(True)))
    if found is None:
        found = db.session.scalar(select(InboundMailbox.category).where(InboundMailbox.active.is_(True))
                                  .order_by(InboundMailbox.id).limit(1))
    return found or "question"


def _new_ticket(work: _Work, user: User, mailbox: str | None) -> Receipt:
    body, files, refused = _content(work, reply=False)
    category = mailbox_category(mailbox)
    ticket = services.file_ticket(
        Actor(user, via=VIA), subject=work.read.subject or _("(no subject)"),
        description=_with_notes(body, refused), category=category, files=files, category_to_confirm=True,
        commit=False,
    )
    _keep_original(work, ticket, user, None)
    reason = f"A new message from client user {user.email}: ticket {ticket.number}, category {category} to confirm."
    if refused:
        reason += f" {len(refused)} attachment(s) refused."
    return work.done(MailOutcome.TICKET_CREATED, reason, ticket=ticket, user=user)


def _unknown_sender(work: _Work, user: User | None) -> Receipt:
    sender = work.read.sender
    if user is not None:  # a deactivated account
        return work.done(MailOutcome.UNRECOGNISED, f"{sender} belongs to a deactivated account.", keep_raw=True)
    domain = sender.rpartition("@")[2]
    client = db.session.execute(
        select(Client.id, Client.name).join(ClientEmailDomain, ClientEmailDomain.client_id == Client.id)
        .where(ClientEmailDomain.domain == domain)
    ).first()
    if client is not None:
        return work.done(
            MailOutcome.PENDING_CONTACT,
            f"{sender} is not a user, but {domain} is an e-mail domain of {client.name}: a pending contact "
            "waits for a client admin or an agent to confirm it.",
            client_id=client.id, keep_raw=True,
        )
    return work.done(MailOutcome.UNRECOGNISED,
                     f"{sender} is not a user and {domain} is no client's e-mail domain.", keep_raw=True)


# -- the message's content -------------------------------------------------------------------


def _content(work: _Work, *, reply: bool) -> tuple[str, list[CheckedFile], list[str]]:
    """The text to store (quotes and signature stripped), the accepted files, the refusals."""
    config = current_app.config
    limit = config["REPLY_MAX_CHARS"] if reply else config["DESCRIPTION_MAX_CHARS"]
    body = reading.strip_reply(work.read.text)
    if not body.strip():
        body = _("(The message has no text.)")
    note = _("(Shortened: the whole message is attached as an .eml file.)")
    if len(body) > limit - 2000:
        body = body[: limit - 2000 - len(note) - 2].rstrip() + "\n\n" + note
    files: list[CheckedFile] = []
    refused: list[str] = []
    for part in work.read.attachments:
        if len(files) >= config["ATTACHMENT_MAX_FILES"]:
            refused.append(_("%(name)s: at most %(count)s files per message.", name=reading.one_line(part.filename),
                             count=config["ATTACHMENT_MAX_FILES"]))
            continue
        try:
            files.append(check_file(part.filename, part.data, config["ATTACHMENT_MAX_BYTES"]))
        except UploadError as exc:
            refused.append(exc.message)
    return body, files, refused


def _with_notes(body: str, refused: list[str]) -> str:
    if not refused:
        return body
    lines = "\n".join(f"- {reading.one_line(line, 300)}" for line in refused[:20])
    return f"{body}\n\n{_('Attachments not accepted:')}\n{lines}"


def _keep_original(work: _Work, ticket: Ticket, user: User, message_id: int | None) -> None:
    """The original message, for audit: an internal attachment (staff only) of the ticket."""
    db.session.add(Attachment(
        ticket_id=ticket.id, message_id=message_id, uploaded_by_id=user.id,
        filename=f"message-{work.now:%Y%m%d-%H%M%S}.eml", content_type="message/rfc822", size=len(work.raw),
        storage_key=storage().save(work.raw), internal=True, created_at=work.now,
    ))


# -- filing what waited for an agent ---------------------------------------------------------


def file_waiting(actor: User, record: InboundMessage, client: Client, *, now: datetime | None = None) -> Ticket:
    """An agent (or the company's client admin) files an unrecognised message or confirms a
    pending contact: the sender becomes a contact (client user) of `client` and the message a
    ticket filed by them. Commits."""
    now = now or utcnow()
    if record.storage_key is None or record.handled_at is not None:
        raise services.Conflict(_("This message was already handled."))
    with storage().open(record.storage_key) as handle:
        raw = handle.read()
    parsed = reading.parse(raw)
    read = reading.read(raw, parsed)
    user = user_by_email(read.sender)
    if user is None:
        user = create_user(email=read.sender, password=secrets.token_urlsafe(24), role="client",
                           client_slug=client.slug, name=read.sender_name, commit=False)
        db.session.flush()
    elif not user.is_client or user.client_id != client.id:
        raise services.Conflict(_("%(email)s is already a user of another company or of the staff.", email=read.sender))
    work = _Work(raw, read, record.message_id, record.mailbox_address, now)
    work.record = record
    receipt = _new_ticket(work, user, record.mailbox_address)
    record.reason = f"{receipt.reason} Filed by {actor.email}."
    record.handled_at, record.handled_by_id, record.handled_action = now, actor.id, "filed"
    db.session.commit()
    return db.session.get(Ticket, receipt.ticket_id)


def discard_waiting(actor: User, record: InboundMessage, *, now: datetime | None = None) -> None:
    """An agent discards a message waiting for review. Commits."""
    if record.handled_at is not None:
        return
    record.handled_at, record.handled_by_id, record.handled_action = now or utcnow(), actor.id, "discarded"
    db.session.commit()
