"""Samples for the e-mail channel's tests: messages built with the email package, and the mail
Opiekun itself wrote (the embedded transport's .eml files) to answer."""

from __future__ import annotations

import email
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any


def mail(
    *,
    sender: str = "anna@acme.example",
    to: str = "support@vendor.example",
    subject: str = "The label printer prints blank pages",
    body: str | None = "Since this morning every label comes out blank.\n\nAnna",
    html: str | None = None,
    message_id: str | None = "auto",
    headers: dict[str, str] | None = None,
    attachments: list[tuple[str, bytes, str]] = (),  # type: ignore[assignment]
) -> bytes:
    """A message as a mail client would send it."""
    message = EmailMessage(policy=policy.SMTP)
    if sender:
        message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime(2026, 12, 1, 9, 0, tzinfo=UTC))
    if message_id == "auto":
        message["Message-ID"] = make_msgid(domain="client.example")
    elif message_id:
        message["Message-ID"] = message_id
    for name, value in (headers or {}).items():
        message[name] = value
    if body is not None:
        message.set_content(body)
        if html is not None:
            message.add_alternative(html, subtype="html")
    elif html is not None:
        message.set_content(html, subtype="html")
    for filename, data, kind in attachments:
        maintype, _, subtype = kind.partition("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return bytes(message)


def sent_mail(outbox: Path, to: str) -> list[EmailMessage]:
    """The messages Opiekun wrote to `to` (embedded transport: .eml files), oldest first."""
    found = []
    for path in sorted(outbox.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        if to.lower() in str(message["To"]).lower():
            found.append(message)
    return found


def reply_to(original: Any, *, sender: str, body: str, headers: dict[str, str] | None = None,
             to: str | None = None, keep_threading: bool = True) -> bytes:
    """A reply to one of our messages, quoting it, as a mail client writes it."""
    quoted = "\n".join("> " + line for line in original.get_body(("plain",)).get_content().splitlines())
    extra = dict(headers or {})
    if keep_threading:
        extra["In-Reply-To"] = str(original["Message-ID"])
        extra["References"] = f"{original['References']} {original['Message-ID']}"
    return mail(
        sender=sender,
        to=to or str(original["Reply-To"] or original["From"]),
        subject="Re: " + str(original["Subject"]),
        body=f"{body}\n\nOn Mon, 1 Dec 2026 at 10:00, Opiekun <helpdesk@localhost> wrote:\n{quoted}\n",
        headers=extra,
    )
