"""E-mail: rendering a notice in the recipient's language, and handing it to SMTP or to a file.

Messages have a plain-text and an HTML part, both from templates/email/. The Message-ID comes
from the outbox and delivery ids, so a message sent again is recognisably the same message; all
the messages of a ticket carry In-Reply-To and References to the ticket's thread id.
"""

from __future__ import annotations

import email.errors
import io
import os
import smtplib
import ssl
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from email import quoprimime
from email.charset import QP, RFC2047_CHROME_LEN, Charset
from email.generator import BytesGenerator
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import format_datetime, formataddr, parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

from babel.dates import format_datetime as babel_datetime
from flask import current_app
from flask_babel import force_locale, get_translations, gettext
from jinja2 import pass_context
from markupsafe import Markup

from helpdesk.clock import utcnow
from helpdesk.formats import format_locale
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
    (ev.TICKET_MENTIONED, "staff"): _l("[%(number)s] You were mentioned: %(subject)s"),
    (ev.TICKET_RESOLVED, "client"): _l("[%(number)s] Your ticket is resolved: %(subject)s"),
    (ev.SLA_WARNING, "staff"): _l("[%(number)s] SLA target close: %(subject)s"),
    (ev.SLA_BREACHED, "staff"): _l("[%(number)s] SLA target breached: %(subject)s"),
    (ev.APPROVAL_NEEDED, "staff"): _l("[%(number)s] Approval needed for %(client)s"),
    (ev.ALLOWANCE_WARNING, "client"): _l("%(client)s has used 80 %% of its support allowance"),
    (ev.ALLOWANCE_EXHAUSTED, "client"): _l("%(client)s has used up its support allowance"),
    (ev.ONBOARDING_MEETING_REMINDER, "client"): _l("Reminder: onboarding meeting with %(client)s"),
    (ev.PASSWORD_RESET, "client"): _l("Reset your Opiekun password"),
    (ev.INVITATION, "client"): _l("You are invited to the Opiekun account of %(client)s"),
    (ev.TICKET_RATED_LOW, "staff"): _l("[%(number)s] Low satisfaction rating (%(score)s/5): %(subject)s"),
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
    return babel_datetime(moment, "short", tzinfo=zone, locale=format_locale(locale))


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
    with force_locale(format_locale(language)):
        context.update(_template_gettext(get_translations()))
        return Mail(
            subject=_subject(event, role, values),
            text=env.get_template(f"email/{name}.txt").render(context),
            html=env.get_template(f"email/{name}.html").render(context),
        )


def _template_gettext(translations: Any) -> dict[str, Any]:
    """`gettext` and `ngettext` for one message's templates, bound to the reader's catalogue.

    The same as the environment's (Jinja's newstyle gettext: escaped when autoescaping, then
    %-formatted with the keyword values), except that the catalogue is looked up once per
    message instead of once per string (Flask-Babel's callables look it up on every call). The
    templates' `_()` and `{% trans %}` resolve these names from the context first.
    """

    @pass_context
    def template_gettext(__context: Any, __string: str, **variables: Any) -> str:
        rv = translations.ugettext(__string)
        if __context.eval_ctx.autoescape:
            rv = Markup(rv)
        return rv % variables  # type: ignore[no-any-return]

    @pass_context
    def template_ngettext(__context: Any, __singular: str, __plural: str, __num: int, **variables: Any) -> str:
        variables.setdefault("num", __num)
        rv = translations.ungettext(__singular, __plural, __num)
        if __context.eval_ctx.autoescape:
            rv = Markup(rv)
        return rv % variables  # type: ignore[no-any-return]

    return {"gettext": template_gettext, "ngettext": template_ngettext}


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


# Every character str.splitlines() breaks a line at: none may reach a header.
_LINE_BREAKS = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


class _QuotedPrintableUtf8(Charset):
    """UTF-8 with quoted-printable headers, whose non-ASCII headers are cut into encoded words in
    one pass.

    `Charset.header_encode_lines` re-encodes and re-measures the whole line for every character
    it adds (quadratic: half a millisecond for a Polish subject, the largest single cost of a
    message's CPU). A quoted-printable word's length is the sum of its characters' lengths, so
    adding them up gives the same lines, the same bytes (tests/notifications/unit hold them equal).
    """

    def header_encode_lines(self, string: str, maxlengths: Any) -> list[str | None]:  # type: ignore[override]
        codec = self.output_codec or "us-ascii"
        extra = len(self.get_output_charset()) + RFC2047_CHROME_LEN
        lines: list[str | None] = []
        current: list[str] = []
        length = 0
        maxlen = next(maxlengths) - extra
        for character in string:
            width = quoprimime.header_length(character.encode(codec))
            if length + width > maxlen:  # this character starts the next word
                if not lines and not current:
                    lines.append(None)  # nothing fits on the first line
                else:
                    lines.append(quoprimime.header_encode("".join(current).encode(codec), charset=codec))
                current, length = [character], width
                maxlen = next(maxlengths) - extra
            else:
                current.append(character)
                length += width
        lines.append(quoprimime.header_encode("".join(current).encode(codec), charset=codec))
        return lines


_UTF8_QP = _QuotedPrintableUtf8("utf-8")
_UTF8_QP.header_encoding = QP
_UTF8_QP.body_encoding = QP  # quoted-printable: every line 7-bit, so any SMTP server takes it


def _one_line(name: str, value: str) -> str:
    if not _LINE_BREAKS.isdisjoint(value):
        raise MessageNotBuilt(f"the message cannot be built: a line break in the {name} header")
    return value


def _header(value: str) -> str | Header:
    """ASCII as is; anything else as an RFC 2047 encoded word."""
    return value if value.isascii() else Header(value, _UTF8_QP)


def build_message(
    mail: Mail, *, to: str, name: str, msg_id: str, thread: str | None, event: str, ticket_id: int | None
) -> Message:
    """The MIME message: multipart/alternative with the text and HTML parts.

    Built with the email package's compat32 classes (several times cheaper than EmailMessage
    with policy.default, which parses and refolds every header: it was about a third of a
    delivery's CPU). No header may carry a line break: a value holding CR, LF or any other
    character that breaks a line raises MessageNotBuilt before anything is written, so no
    subject or display name can add a header line.
    """
    try:
        message = MIMEMultipart("alternative", boundary=_boundary(msg_id))
        message["From"] = _one_line("From", current_app.config["MAIL_FROM"])
        display = name if name and name != to else ""
        message["To"] = formataddr((_one_line("To", display), _one_line("To", to)), charset="utf-8")
        message["Subject"] = _header(_one_line("Subject", mail.subject))
        message["Date"] = format_datetime(utcnow())
        message["Message-ID"] = _one_line("Message-ID", msg_id)
        if thread:
            root = _one_line("References", thread_id(thread))
            message["In-Reply-To"] = root
            message["References"] = root
        message["Auto-Submitted"] = "auto-generated"
        message["X-Opiekun-Event"] = _one_line("X-Opiekun-Event", event)
        if ticket_id is not None:
            message["X-Opiekun-Ticket"] = str(ticket_id)
            message["Reply-To"] = _one_line("Reply-To", reply_to(ticket_id))
        message.attach(MIMEText(mail.text, "plain", _UTF8_QP))
        message.attach(MIMEText(mail.html, "html", _UTF8_QP))
    except (ValueError, TypeError, UnicodeError, email.errors.MessageError) as exc:
        raise MessageNotBuilt(f"the message cannot be built: {exc}") from exc
    return message


def _boundary(msg_id: str) -> str:
    """The parts' boundary, from the Message-ID: given, so the generator does not make a random one
    and compile a regular expression to look for it in the parts (a quarter of a message's
    writing). It cannot occur in them: both parts are quoted-printable, where "=" is always followed
    by two hex digits or a line end, never by another "="."""
    return "===============" + msg_id.strip("<>").partition("@")[0] + "=="


class _Generator(BytesGenerator):
    """The email package's BytesGenerator, writing a header that needs no folding as it is.

    compat32 runs every header through email.header.Header to fold it, which returns an ASCII
    value without line breaks that fits the line unchanged (`name: value`); that was half of a
    message's writing. Such a header is written directly; any other goes through the policy, so
    the bytes are the same as `message.as_bytes()` (tests/notifications hold them equal).
    """

    def _write_headers(self, msg: Message) -> None:
        policy = self.policy
        limit = policy.max_line_length or 0
        for name, value in msg.raw_items():
            if (isinstance(value, str) and value.isascii() and len(name) + 2 + len(value) <= limit
                    and _LINE_BREAKS.isdisjoint(value)):
                self._fp.write(f"{name}: {value}{policy.linesep}".encode("ascii"))
            else:
                self._fp.write(policy.fold_binary(name, value))
        self.write(self._NL)


def message_bytes(message: Message, policy: Any = compat32) -> bytes:
    """`message.as_bytes(policy=policy)`, the same bytes, written faster (see _Generator)."""
    out = io.BytesIO()
    _Generator(out, mangle_from_=False, policy=policy).flatten(message, unixfrom=False)
    return out.getvalue()


# -- sending ---------------------------------------------------------------------------------


_SMTP_POLICY = compat32.clone(linesep="\r\n")
_TMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC


class SendError(Exception):
    """A message was not accepted. `permanent` means trying again will not help."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


class FileTransport:
    """No SMTP_URL: each message becomes an .eml file named after its delivery (so idempotent).

    Written to a temporary name of this process and thread, then renamed: a reader never sees half
    a message, and two writers of the same delivery never share a temporary file.
    """

    def __init__(self, folder: str) -> None:
        self.folder = Path(folder)

    def send(self, message: Message, to: str, name: str) -> None:
        data = message_bytes(message)
        tmp = self.folder / f".{name}.{os.getpid()}.{threading.get_ident()}.tmp"
        try:
            fd = os.open(tmp, _TMP_FLAGS, 0o600)
        except FileNotFoundError:  # the first message: no folder yet
            self.folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(tmp, _TMP_FLAGS, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
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
        data = message_bytes(message, _SMTP_POLICY)
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
