"""Reading one raw message: its headers, the text a person wrote, and its attachments.

Nothing here touches the database. Every header is read defensively (a malformed header gives
an empty value, never an exception), text parts are decoded with their declared charset
(iso-8859-2, windows-1250, encoded words in headers) with a lenient fallback, HTML-only mail is
turned into plain text through nh3, and quoted text and signatures are removed with
mail-parser-reply (English and Polish quote headers).
"""

from __future__ import annotations

import email
import email.utils
import html
import re
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage, Message
from email.utils import getaddresses, parseaddr

import nh3
from mailparser_reply import EmailReplyParser

SUBJECT_MAX = 200
_SPACES = re.compile(r"[\s\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_BLOCK_END = re.compile(r"<\s*(br|/p|/div|/li|/tr|/h[1-6]|/blockquote)\b[^>]*>", re.IGNORECASE)
_BLANK_LINES = re.compile(r"\n{3,}")
REPLY_LANGUAGES = ["en", "pl"]


@dataclass
class Part:
    """An attachment as it came: its name, bytes and declared type."""

    filename: str
    data: bytes
    content_type: str


@dataclass
class Reading:
    """What the channel needs of a message."""

    message_id: str
    sender: str
    sender_name: str
    subject: str
    headers: dict[str, str]
    content_type: str
    report_type: str | None
    in_reply_to: str
    references: str
    recipients: list[str]
    text: str  # the whole text a person wrote (HTML turned into text), quotes included
    attachments: list[Part] = field(default_factory=list)
    delivery_status: str = ""


def parse(raw: bytes, *, headers_only: bool = False) -> EmailMessage:
    parser = email.parser.BytesParser(policy=policy.default)
    return parser.parsebytes(raw, headersonly=headers_only)  # type: ignore[return-value]


def header(message: Message, name: str) -> str:
    """A header's decoded value, or "" when missing or unreadable."""
    try:
        value = message.get(name)
    except Exception:  # the email package raises many kinds on malformed headers
        return ""
    if value is None:
        return ""
    try:
        return str(value)
    except Exception:
        return ""


def one_line(value: str, limit: int = SUBJECT_MAX) -> str:
    """Control characters and runs of white space become one space; cut at `limit` with an ellipsis."""
    value = _SPACES.sub(" ", value or "").strip()
    if len(value) > limit:
        value = value[: limit - 1].rstrip() + "…"
    return value


def _decoded(part: Message) -> str:
    try:
        content = part.get_content()  # type: ignore[attr-defined]
        if isinstance(content, str):
            return content
    except (LookupError, UnicodeError, ValueError, AssertionError, KeyError, TypeError):
        pass
    data = part.get_payload(decode=True) or b""
    if not isinstance(data, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return data.decode(charset, errors="replace")
    except LookupError:
        return data.decode("utf-8", errors="replace")


def html_to_text(markup: str) -> str:
    """Safe plain text from an HTML body: tags dropped by nh3 (scripts and styles with their
    content), line breaks kept at block ends, entities decoded."""
    markup = _BLOCK_END.sub(lambda m: m.group(0) + "\n", markup)
    cleaned = nh3.clean(markup, tags=set(), strip_comments=True)
    text = html.unescape(cleaned)
    lines = [line.strip() for line in text.replace("\r\n", "\n").split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


# Quote headers mail-parser-reply does not know (Gmail in Polish, Outlook's separators): the
# text is cut at the first of them before the library reads it.
_MORE_QUOTE_HEADERS = re.compile(
    r"^\s*(?:(?:W dniu|Dnia)\b.*\bnapisał(?:\(a\)|a)?:\s*$|-{2,}\s*(?:Original Message|Wiadomość oryginalna)\s*-{2,}\s*$)",
    re.MULTILINE,
)


def strip_reply(text: str) -> str:
    """The newest reply without the quoted thread and the signature; the whole text when
    stripping would leave nothing."""
    found = _MORE_QUOTE_HEADERS.search(text)
    if found is not None and text[: found.start()].strip():
        text = text[: found.start()]
    try:
        replies = EmailReplyParser(languages=REPLY_LANGUAGES).read(text).replies
        latest = replies[0].body.strip() if replies else ""
    except Exception:  # a library's failure on odd text must not lose the message
        latest = ""
    return latest or text.strip()


def _filename(part: Message) -> str | None:
    try:
        return part.get_filename()
    except Exception:
        return "attachment"


def _report_type(message: Message) -> str | None:
    if message.get_content_type() != "multipart/report":
        return None
    value = message.get_param("report-type")
    return email.utils.collapse_rfc2231_value(value) if value else None


def read(raw: bytes, message: EmailMessage) -> Reading:
    """Everything the channel uses of a parsed message."""
    headers = {}
    for name in ("auto-submitted", "x-autoreply", "x-autorespond", "precedence", "list-id", "x-opiekun-event"):
        if message.get(name) is not None:
            headers[name] = header(message, name)
    sender_name, sender = parseaddr(header(message, "From"))
    recipients = [
        address
        for _, address in getaddresses([header(message, n) for n in ("To", "Cc", "Delivered-To", "X-Original-To")])
        if address
    ]
    plain: str | None = None
    rich: str | None = None
    attachments: list[Part] = []
    delivery_status = ""
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "message/delivery-status":
            payload = part.get_payload()
            if isinstance(payload, list):
                delivery_status = "\n\n".join(block.as_string() for block in payload)
            else:
                delivery_status = str(payload)
            continue
        if part.is_multipart():
            continue
        name = _filename(part)
        disposition = part.get_content_disposition()
        if disposition == "attachment" or (name and kind not in ("text/plain", "text/html")):
            data = part.get_payload(decode=True)
            attachments.append(Part(name or "attachment", data if isinstance(data, bytes) else b"", kind))
            continue
        if kind == "text/plain" and plain is None:
            plain = _decoded(part)
        elif kind == "text/html" and rich is None:
            rich = _decoded(part)
    text = plain if plain is not None and plain.strip() else html_to_text(rich) if rich else (plain or "")
    return Reading(
        message_id=header(message, "Message-ID").strip(),
        sender=sender.strip().lower(),
        sender_name=one_line(sender_name),
        subject=one_line(header(message, "Subject")),
        headers=headers,
        content_type=message.get_content_type(),
        report_type=_report_type(message),
        in_reply_to=header(message, "In-Reply-To"),
        references=header(message, "References"),
        recipients=recipients,
        text=text.replace("\x00", "").replace("\r\n", "\n"),
        attachments=attachments,
        delivery_status=delivery_status,
    )
