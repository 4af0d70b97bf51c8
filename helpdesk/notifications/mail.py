"""E-mail: rendering a notice in the recipient's language, and handing it to SMTP or to a file.

Messages have a plain-text and an HTML part, both from templates/email/. The Message-ID comes
from the outbox and delivery ids, so a message sent again is recognisably the same message; all
the messages of a ticket carry In-Reply-To and References to the ticket's thread id.
"""

from __future__ import annotations

import email.errors
import os
import smtplib
import ssl
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

from babel.dates import format_datetime as babel_datetime
from flask import current_app
from flask_babel import force_locale, gettext

from helpdesk.clock import utcnow
from helpdesk.i18n import _l
from helpdesk.notifications import events as ev
from helpdesk.notifications.reply_token import reply_address

# Subjects per (event, audience); audience is "client" or "staff".
SUBJECTS: dict[tuple[str, str], Any] = {
    (ev.TICKET_FILED, "client"): _l("[%(number)s] We have received your ticket: %(subject)s"),
    (ev.TICKET_FILED, "staff"): _l("[%(number)s] New ticket from %(client)s: %(subject)s"),
    (ev.TICKET_AGENT_REPLIED, "client"): _l("[%(number)s] New reply to your ticket: %(subject)s"),
    (ev.TICKET_CLIENT_REPLIED, "staff"): _l("[%(number)s] The client replied: %(subject)s"),
    (ev.TICKET_ASSIGNED, "staff"): _l("[%(number)s] Assigned to you: %(subject)s"),
    (ev.TICKET_RESOLVED, "client"): _l("[%(number)s] Your ticket is resolved: %(subject)s"),
    (ev.SLA_WARNING, "staff"): _l("[%(number)s] SLA target close: %(subject)s"),
    (ev.SLA_BREACHED, "staff"): _l("[%(number)s] SLA target breached: %(subject)s"),
    (ev.APPROVAL_NEEDED, "staff"): _l("[%(number)s] Approval needed for %(client)s"),
    (ev.ALLOWANCE_WARNING, "client"): _l("%(client)s has used 80 %% of its support allowance"),
    (ev.ALLOWANCE_EXHAUSTED, "client"): _l("%(client)s has used up its support allowance"),
    (ev.ONBOARDING_MEETING_REMINDER, "client"): _l("Reminder: onboarding meeting with %(client)s"),
    (ev.PASSWORD_RESET, "client"): _l("Reset your Opiekun password"),
}

class _Defaults(dict):
    """Format values that tolerate a missing key (a caller that knows less still gets a subject)."""

    def __missing__(self, key: str) -> str:
        return "—"


@dataclass(frozen=True)
class Mail:
    subject: str
    text: str
    html: str


def audience(role: str | None) -> str:
    return "client" if role in (None, "client") else "staff"


def _subject(event: str, role: str | None, values: dict[str, Any]) -> str:
    template = SUBJECTS.get((event, audience(role))) or SUBJECTS.get((event, "client")) or SUBJECTS.get(
        (event, "staff")
    )
    return str(template) % _Defaults(values)


def _instant(value: Any, timezone: str, locale: str) -> str:
    """An ISO instant from the outbox shown on the recipient's wall clock, in their language."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    try:
        zone = ZoneInfo(timezone)
    except (KeyError, ValueError):
        zone = ZoneInfo("Europe/Warsaw")
    return babel_datetime(moment, "medium", tzinfo=zone, locale=locale)


def _reason(value: Any) -> str:
    """A reason given as {"msgid": ..., "params": {...}}, translated for the reader; text as is."""
    if isinstance(value, dict) and value.get("msgid"):
        return gettext(value["msgid"], **(value.get("params") or {}))
    return "" if value in (None, "—") else str(value)


def render(event: str, recipient: dict[str, Any], values: dict[str, Any], ticket_id: int | None) -> Mail:
    """The notice for one recipient, in their language (English when unknown)."""
    languages = current_app.config["LANGUAGES"]
    language = recipient.get("language") if recipient.get("language") in languages else "en"
    timezone = recipient.get("timezone") or "Europe/Warsaw"
    role = recipient.get("role")
    values = dict(values)
    if "number" not in values and ticket_id is not None:
        values["number"] = f"OP-{ticket_id}"
    links = values.get("links") or {}
    link = links.get(audience(role)) or values.get("link")
    context = {
        "event": event,
        "recipient": recipient,
        "audience": audience(role),
        "v": _Defaults(values),
        "ticket_id": ticket_id,
        "link": current_app.config["BASE_URL"].rstrip("/") + link if link else None,
        "instant": lambda value: _instant(value, timezone, language),
        "reason": _reason,
    }
    name = ev.EVENT_TYPES[event].template
    env = current_app.jinja_env
    # Straight from the environment, not render_template: a message depends on its outbox row
    # alone, never on a request's context processors (who is logged in, the session).
    with force_locale(language):
        return Mail(
            subject=_subject(event, role, values),
            text=env.get_template(f"email/{name}.txt").render(context),
            html=env.get_template(f"email/{name}.html").render(context),
        )


def mail_domain() -> str:
    address = parseaddr(current_app.config["MAIL_FROM"])[1]
    return address.rpartition("@")[2] or "localhost"


def message_id(outbox_id: int, delivery_id: int) -> str:
    return f"<opiekun.{outbox_id}.{delivery_id}@{mail_domain()}>"


def reply_to(ticket_id: int) -> str:
    """The ticket's signed reply address (support+<token>@...): a reply to it reaches the ticket."""
    config = current_app.config
    base = parseaddr(config.get("MAIL_IN_ADDRESS") or config["MAIL_FROM"])[1] or f"helpdesk@{mail_domain()}"
    return reply_address(base, ticket_id, config["SECRET_KEY"])


def thread_id(thread: str) -> str:
    return f"<opiekun.{thread}@{mail_domain()}>"


class MessageNotBuilt(Exception):
    """The values cannot make a well-formed message (say a subject with a line break in old data).

    Trying again would build the same message, so the delivery is given up at once.
    """


def build_message(
    mail: Mail, *, to: str, name: str, msg_id: str, thread: str | None, event: str, ticket_id: int | None
) -> EmailMessage:
    """The MIME message: multipart/alternative with the text and HTML parts.

    Every header goes through `email.headerregistry` (EmailMessage with policy=default), which
    refuses a value holding CR, LF or another line break instead of writing it out, so no subject
    or display name can add a header line. Such a message raises MessageNotBuilt.
    """
    try:
        message = EmailMessage(policy=policy.default)
        message["From"] = current_app.config["MAIL_FROM"]
        message["To"] = Address(display_name=name if name and name != to else "", addr_spec=to)
        message["Subject"] = mail.subject
        message["Date"] = format_datetime(utcnow())
        message["Message-ID"] = msg_id
        if thread:
            root = thread_id(thread)
            message["In-Reply-To"] = root
            message["References"] = root
        message["Auto-Submitted"] = "auto-generated"
        message["X-Opiekun-Event"] = event
        if ticket_id is not None:
            message["X-Opiekun-Ticket"] = str(ticket_id)
            message["Reply-To"] = reply_to(ticket_id)
        # quoted-printable: every line 7-bit, so any SMTP server takes it without 8BITMIME
        message.set_content(mail.text, cte="quoted-printable")
        message.add_alternative(mail.html, subtype="html", cte="quoted-printable")
    except (ValueError, TypeError, email.errors.MessageError) as exc:
        raise MessageNotBuilt(f"the message cannot be built: {exc}") from exc
    return message


# -- sending ---------------------------------------------------------------------------------


class SendError(Exception):
    """A message was not accepted. `permanent` means trying again will not help."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


class FileTransport:
    """No SMTP_URL: each message becomes an .eml file named after its delivery (so idempotent)."""

    def __init__(self, folder: str) -> None:
        self.folder = Path(folder)

    def send(self, message: Message, to: str, name: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".", suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            handle.write(bytes(message))
        os.replace(tmp, self.folder / name)

    def close(self) -> None:
        pass


class SmtpTransport:
    """SMTP from SMTP_URL: smtp:// (plain), smtp+starttls:// or smtps://, user:password@ optional.

    One connection is kept per process. A connection idle for a while is checked with NOOP first;
    one that turns out closed when the next MAIL FROM is sent (nothing of the message has gone
    yet) is replaced and the command sent again.
    """

    IDLE_CHECK_SECONDS = 5.0

    def __init__(self, url: str, timeout: float) -> None:
        self.url = url
        self.parts = urlsplit(url)
        self.timeout = timeout
        self.conn: smtplib.SMTP | None = None
        self.used_at = 0.0

    def _connect(self) -> smtplib.SMTP:
        parts = self.parts
        host = parts.hostname or "localhost"
        if parts.scheme == "smtps":
            conn: smtplib.SMTP = smtplib.SMTP_SSL(host, parts.port or 465, timeout=self.timeout,
                                                  context=ssl.create_default_context())
        else:
            conn = smtplib.SMTP(host, parts.port or 25, timeout=self.timeout)
            if parts.scheme == "smtp+starttls":
                conn.starttls(context=ssl.create_default_context())
        if parts.username:
            conn.login(unquote(parts.username), unquote(parts.password or ""))
        conn.ehlo_or_helo_if_needed()
        return conn

    def _connection(self) -> smtplib.SMTP:
        if self.conn is not None and time.monotonic() - self.used_at > self.IDLE_CHECK_SECONDS:
            try:
                if self.conn.noop()[0] != 250:
                    self._drop()
            except (smtplib.SMTPException, OSError):
                self._drop()
        if self.conn is None:
            self.conn = self._connect()
        return self.conn

    def _drop(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            try:
                conn.close()
            except OSError:
                pass

    def _mail_from(self, sender: str) -> smtplib.SMTP:
        conn = self._connection()
        try:
            code, reply = conn.mail(sender)
        except (smtplib.SMTPServerDisconnected, OSError):
            self._drop()  # closed while idle: nothing was sent, so starting over is safe
            conn = self._connection()
            code, reply = conn.mail(sender)
        if code != 250:
            self._reset(conn)
            raise smtplib.SMTPSenderRefused(code, reply, sender)
        return conn

    def _reset(self, conn: smtplib.SMTP) -> None:
        try:
            conn.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()

    def send(self, message: Message, to: str, name: str) -> None:
        sender = parseaddr(current_app.config["MAIL_FROM"])[1]
        data = message.as_bytes(policy=message.policy.clone(linesep="\r\n"))
        try:
            conn = self._mail_from(sender)
            code, reply = conn.rcpt(to)
            if code not in (250, 251):
                self._reset(conn)
                raise SendError(_reply("recipient refused", code, reply), permanent=code >= 500)
            code, reply = conn.data(data)
            if code != 250:
                self._reset(conn)
                raise SendError(_reply("message refused", code, reply), permanent=code >= 500)
            self.used_at = time.monotonic()
        except smtplib.SMTPSenderRefused as exc:
            self._drop()  # our own configuration is wrong: retry, and let an admin see it
            raise SendError(_reply("sender refused", exc.smtp_code, exc.smtp_error), permanent=False) from exc
        except smtplib.SMTPDataError as exc:  # smtplib's own check of the DATA command's reply
            if self.conn is not None:
                self._reset(self.conn)
            raise SendError(_reply("message refused", exc.smtp_code, exc.smtp_error),
                            permanent=exc.smtp_code >= 500) from exc
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            raise SendError(f"SMTP error: {exc}", permanent=False) from exc

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.quit()
            except (smtplib.SMTPException, OSError):
                pass
        self._drop()


def _reply(what: str, code: int, reply: bytes | str) -> str:
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
    return f"{what}: {code} {text}".strip()


_cached: dict[str, Any] = {}  # {"pid": ..., "url": ..., "transport": SmtpTransport}


def transport() -> FileTransport | SmtpTransport:
    """The transport for this process (an SMTP connection is reused between jobs)."""
    url = current_app.config.get("SMTP_URL")
    if not url:
        return FileTransport(current_app.config["MAIL_OUTBOX_DIR"])
    if _cached.get("pid") != os.getpid() or _cached.get("url") != url:
        close_transport()
        _cached.update(pid=os.getpid(), url=url,
                       transport=SmtpTransport(url, float(current_app.config["SMTP_TIMEOUT"])))
    return _cached["transport"]


def close_transport() -> None:
    """Close this process's SMTP connection; after a fork, only let go of the parent's copy."""
    found = _cached.pop("transport", None)
    if found is not None:
        if _cached.get("pid") == os.getpid():
            found.close()
        else:
            found._drop()  # closes our copy of the socket without a QUIT to the parent's session
    _cached.clear()
