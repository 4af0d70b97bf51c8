"""Pure rules of the mail transport: IMAP settings from a URL, where a message goes when it is
done, and when a file in the drop folder is complete. No Flask, database, clock or network here.

`MAIL_IN_IMAP_URL` (and a mailbox row's IMAP URL) read:

    imaps://USER:PASSWORD@HOST[:PORT]/[FOLDER][?processed=NAME&failed=NAME&address=ADDRESS]

`imaps://` is IMAP over TLS (port 993); `imap://` (port 143) upgrades with STARTTLS, except on a
loopback host (127.0.0.0/8, ::1, localhost) where plain IMAP is allowed (tests, a local relay);
`?starttls=1` asks for STARTTLS there too. The folder defaults to INBOX; processed messages go to
`Processed`, failed ones to `Failed` (created when missing). User name and password are
percent-encoded like any URL part (`%40` for an `@`). `address` names the support address that
mailbox receives for (its default category), when the URL is not tied to an admin's mailbox row.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

DEFAULT_FOLDER = "INBOX"
DEFAULT_PROCESSED = "Processed"
DEFAULT_FAILED = "Failed"
FAILED_OUTCOME = "failed"


class ImapUrlError(ValueError):
    """The URL cannot be used; the message says why (never shows the password)."""


@dataclass(frozen=True)
class ImapSettings:
    host: str
    port: int
    username: str
    password: str
    tls: bool  # IMAP over TLS from the first byte (imaps://)
    starttls: bool  # upgrade a plain connection before logging in
    folder: str = DEFAULT_FOLDER
    processed_folder: str = DEFAULT_PROCESSED
    failed_folder: str = DEFAULT_FAILED
    address: str | None = None

    @property
    def label(self) -> str:
        """Who and where, for logs and lock names; no password."""
        return f"{self.username}@{self.host}:{self.port}/{self.folder}"

    def __repr__(self) -> str:  # never print the password
        return f"ImapSettings({self.label!r}, tls={self.tls}, starttls={self.starttls})"


def is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_imap_url(url: str) -> ImapSettings:
    """`imaps://user:pass@host/INBOX?processed=...` -> settings; ImapUrlError when unusable."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as error:
        raise ImapUrlError(f"not a valid IMAP URL: {error}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("imap", "imaps"):
        raise ImapUrlError("an IMAP URL starts with imaps:// (TLS) or imap://")
    host = parts.hostname or ""
    if not host:
        raise ImapUrlError("the IMAP URL names no host")
    if not parts.username:
        raise ImapUrlError("the IMAP URL names no user (imaps://user:password@host/INBOX)")
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    unknown = set(query) - {"processed", "failed", "address", "starttls"}
    if unknown:
        raise ImapUrlError(f"unknown IMAP URL parameter: {', '.join(sorted(unknown))}")
    tls = scheme == "imaps"
    starttls = not tls and (not is_loopback(host) or query.get("starttls", "") in ("1", "true", "yes"))
    folder = unquote(parts.path.lstrip("/")) or DEFAULT_FOLDER
    processed = query.get("processed") or DEFAULT_PROCESSED
    failed = query.get("failed") or DEFAULT_FAILED
    if len({folder, processed, failed}) < 3:
        raise ImapUrlError("the inbox, processed and failed folders must be three different folders")
    return ImapSettings(
        host=host, port=port or (993 if tls else 143), username=unquote(parts.username),
        password=unquote(parts.password or ""), tls=tls, starttls=starttls, folder=folder,
        processed_folder=processed, failed_folder=failed, address=query.get("address") or None,
    )


def destination(outcome: str) -> str:
    """Where a message goes once receive_message returned: "failed" or "processed"."""
    return "failed" if str(outcome) == FAILED_OUTCOME else "processed"


def settled(modified_at: float, now: float, settle_seconds: float) -> bool:
    """A file dropped into the folder is read once nobody wrote to it for `settle_seconds`
    (a copy in progress is not a message yet; Maildir writers rename from tmp/, which is atomic)."""
    return now - modified_at >= settle_seconds


def maildir_done_name(name: str) -> str:
    """The file name a message gets in a processed/failed folder's cur/: Maildir info ":2,S" (seen)."""
    base = name.split(":2,", 1)[0]
    return f"{base}:2,S"
