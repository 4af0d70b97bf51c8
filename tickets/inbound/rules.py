"""The e-mail channel's decisions, as pure functions (no Flask, no database, no clock).

- **Automatic mail** (`classify_automatic`): a delivery status report (a bounce) or a message
  that says it was sent by a machine (Auto-Submitted other than `no`, X-Autoreply,
  X-Autorespond, Precedence bulk/junk/list/auto_reply, a List-Id, an out-of-office subject)
  never makes a ticket, a reply or a notification.
- **Which ticket a reply belongs to** (`reply_candidates`), in this order: the Message-IDs in
  In-Reply-To, then References from the newest to the oldest, that we sent (`<opiekun.<outbox
  id>.<delivery id>@domain>` or the ticket's thread id `<opiekun.ticket-<id>@domain>`); then a
  signed reply address `support+<token>@...` among the recipients; then a ticket number
  (`OP-42`) in the subject. The caller takes the first candidate that names a ticket that exists.
- **Mail loops** (`held_for_loop`): more than `limit` messages from one sender within `minutes`
  (this one included) are held for review.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from helpdesk.notifications.reply_token import read_reply_token, token_of

AUTO_REPLY = "auto_reply"
BOUNCE = "bounce"

_BULK_PRECEDENCE = {"bulk", "junk", "list", "auto_reply"}
_AUTO_SUBJECT = re.compile(
    r"^\s*(auto(matic)?[ -]?reply|out of (the )?office|autoreply|odpowied[źz] automatyczna|"
    r"automatyczna odpowied[źz]|poza biurem|nieobecno[śs][ćc])\b",
    re.IGNORECASE,
)
_BOUNCE_SENDERS = re.compile(r"^(mailer-daemon|postmaster)@", re.IGNORECASE)
_OUR_ID = re.compile(r"^<?opiekun\.(?:(\d{1,10})\.(\d{1,10})|ticket-(\d{1,10}))@([^>\s]+)>?$", re.IGNORECASE)
_NUMBER = re.compile(r"\bOP-(\d{1,10})\b", re.IGNORECASE)
_ANGLED = re.compile(r"<[^<>\s]+>")
MAX_ID = 2**31 - 1


@dataclass(frozen=True)
class Automatic:
    kind: str  # AUTO_REPLY or BOUNCE
    reason: str  # which header or part said so (English, for the record)


def classify_automatic(
    headers: Mapping[str, str], *, content_type: str, report_type: str | None, sender: str, subject: str
) -> Automatic | None:
    """Whether the message was written by a machine; None for mail a person wrote.

    `headers` maps lower-case header names to their (first) value.
    """
    if content_type.lower() == "multipart/report" and (report_type or "").lower() == "delivery-status":
        return Automatic(BOUNCE, "a delivery status report (multipart/report)")
    if _BOUNCE_SENDERS.match(sender or "") and content_type.lower().startswith("multipart/"):
        return Automatic(BOUNCE, f"sent by {sender}")
    auto_submitted = (headers.get("auto-submitted") or "").strip().lower()
    if auto_submitted and auto_submitted != "no":
        return Automatic(AUTO_REPLY, f"Auto-Submitted: {auto_submitted}")
    for name in ("x-autoreply", "x-autorespond", "x-opiekun-event"):
        if headers.get(name) is not None:
            return Automatic(AUTO_REPLY, f"header {name}")
    precedence = (headers.get("precedence") or "").strip().lower()
    if precedence in _BULK_PRECEDENCE:
        return Automatic(AUTO_REPLY, f"Precedence: {precedence}")
    if headers.get("list-id") is not None:
        return Automatic(AUTO_REPLY, "mailing list (List-Id)")
    if _AUTO_SUBJECT.match(subject or ""):
        return Automatic(AUTO_REPLY, "an out-of-office subject")
    return None


def bounced_recipients(delivery_status: str) -> list[str]:
    """The addresses a delivery status report (RFC 3464) says failed for good (Action: failed)."""
    found: list[str] = []
    for block in re.split(r"\r?\n\s*\r?\n", delivery_status or ""):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            name, sep, value = line.partition(":")
            if sep:
                fields[name.strip().lower()] = value.strip()
        recipient = fields.get("final-recipient") or fields.get("original-recipient")
        if not recipient or fields.get("action", "").lower() != "failed":
            continue
        address = recipient.partition(";")[2].strip() or recipient
        address = address.strip("<> ").lower()
        if "@" in address and address not in found:
            found.append(address)
    return found


@dataclass(frozen=True)
class Candidate:
    """A way to the ticket a reply belongs to: `sent` (outbox id, delivery id), `thread`,
    `token` or `subject` (a ticket id)."""

    kind: str
    ticket_id: int | None = None
    outbox_id: int | None = None
    delivery_id: int | None = None


def message_ids(value: str | None) -> list[str]:
    """The `<...>` ids in a header value, in order."""
    return _ANGLED.findall(value or "")


def _ours(message_id: str, domain: str) -> Candidate | None:
    found = _OUR_ID.match(message_id.strip())
    if found is None or found.group(4).lower() != domain.lower():
        return None
    if found.group(3):
        ticket_id = int(found.group(3))
        return Candidate("thread", ticket_id=ticket_id) if 0 < ticket_id <= MAX_ID else None
    outbox_id, delivery_id = int(found.group(1)), int(found.group(2))
    if not (0 < outbox_id <= MAX_ID and 0 < delivery_id <= MAX_ID):
        return None
    return Candidate("sent", outbox_id=outbox_id, delivery_id=delivery_id)


def reply_candidates(
    *, in_reply_to: str | None, references: str | None, recipients: Iterable[str], subject: str, domain: str, secret: str
) -> list[Candidate]:
    """Every way this message names one of our tickets, strongest first (see the module docstring)."""
    found: list[Candidate] = []
    for message_id in [*message_ids(in_reply_to), *reversed(message_ids(references))]:
        candidate = _ours(message_id, domain)
        if candidate is not None and candidate not in found:
            found.append(candidate)
    for address in recipients:
        token = token_of(address)
        ticket_id = read_reply_token(token, secret) if token else None
        if ticket_id is not None and ticket_id <= MAX_ID:
            candidate = Candidate("token", ticket_id=ticket_id)
            if candidate not in found:
                found.append(candidate)
    for match in _NUMBER.finditer(subject or ""):
        ticket_id = int(match.group(1))
        if 0 < ticket_id <= MAX_ID:
            found.append(Candidate("subject", ticket_id=ticket_id))
            break
    return found


def held_for_loop(earlier: Sequence[datetime], now: datetime, *, limit: int, minutes: int) -> bool:
    """True when this message and the sender's `earlier` ones within `minutes` before `now`
    are more than `limit`."""
    since = now - timedelta(minutes=minutes)
    return 1 + sum(1 for moment in earlier if since < moment <= now) > limit


def derived_message_id(raw: bytes) -> str:
    """An id for a message that has none: the same bytes always get the same id."""
    return f"<sha256.{hashlib.sha256(raw).hexdigest()}@opiekun.invalid>"


def stored_message_id(message_id: str, limit: int = 255) -> str:
    """The Message-ID as the unique key stores it: trimmed, and hashed when too long to store."""
    message_id = message_id.strip()
    if len(message_id) <= limit and message_id.isprintable():
        return message_id
    return f"<sha256.{hashlib.sha256(message_id.encode('utf-8', 'replace')).hexdigest()}@opiekun.invalid>"
