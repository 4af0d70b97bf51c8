"""An IMAP mailbox as a source of raw messages (IMAPClient), and the Maildir drop folder beside it.

A source is used as a context manager: `messages()` yields (key, raw bytes) oldest first, and
`done(key, folder)` moves one message to its processed or failed folder. The poller
(`tickets.inbound.poll`) calls `done` only after `receive_message` returned, i.e. after its commit.
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from tickets.inbound.transport import ImapSettings

log = logging.getLogger(__name__)

FETCH_BATCH = 25  # messages fetched per round trip


@dataclass(frozen=True)
class Item:
    key: Any  # an IMAP UID, or a file path in the drop folder
    raw: bytes


class ImapSource:
    """One IMAP folder: connect over TLS (plain only on loopback), fetch, move when done."""

    def __init__(self, settings: ImapSettings, *, timeout: float = 60.0) -> None:
        self.settings = settings
        self.timeout = timeout
        self.client: IMAPClient | None = None
        self.can_move = False

    @property
    def label(self) -> str:
        return f"imap {self.settings.label}"

    @property
    def address(self) -> str | None:
        return self.settings.address

    def __enter__(self) -> ImapSource:
        s = self.settings
        context = ssl.create_default_context()
        client = IMAPClient(s.host, port=s.port, ssl=s.tls, ssl_context=context if s.tls else None,
                            timeout=self.timeout)
        try:
            if s.starttls:
                client.starttls(context)
            client.login(s.username, s.password)
            for folder in (s.processed_folder, s.failed_folder):
                if not client.folder_exists(folder):
                    try:
                        client.create_folder(folder)
                    except IMAPClientError:  # another poller created it just now
                        if not client.folder_exists(folder):
                            raise
            client.select_folder(s.folder)
            self.can_move = client.has_capability("MOVE")
        except BaseException:
            _close(client)
            raise
        self.client = client
        return self

    def __exit__(self, *exc: Any) -> None:
        client, self.client = self.client, None
        if client is not None:
            _close(client)

    def messages(self) -> Iterator[Item]:
        """Every message in the folder now, oldest first, fetched a batch at a time.

        BODY.PEEK leaves the \\Seen flag alone; a message another poller moved away in the
        meantime is simply not returned.
        """
        assert self.client is not None
        uids = sorted(self.client.search(["NOT", "DELETED"]))
        for start in range(0, len(uids), FETCH_BATCH):
            batch = uids[start:start + FETCH_BATCH]
            fetched = self.client.fetch(batch, ["BODY.PEEK[]"])
            for uid in batch:
                data = fetched.get(uid)
                raw = data.get(b"BODY[]") if data else None
                if raw is not None:
                    yield Item(uid, bytes(raw))

    def done(self, item: Item, destination: str) -> None:
        """Move the message to the processed ("processed") or failed ("failed") folder."""
        assert self.client is not None
        s = self.settings
        folder = s.failed_folder if destination == "failed" else s.processed_folder
        if self.can_move:
            try:
                self.client.move([item.key], folder)
            except IMAPClientError as error:
                if not _gone(error):
                    raise
                # Another poller received it too (its receipt was a duplicate or ours was) and
                # moved it first: it is where it belongs.
                log.info("%s: message %s was moved by another poller", self.label, item.key)
        else:  # COPY, flag \Deleted, expunge just that message (UIDPLUS) or all flagged ones
            self.client.copy([item.key], folder)
            self.client.delete_messages([item.key])
            if self.client.has_capability("UIDPLUS"):
                self.client.uid_expunge([item.key])
            else:
                self.client.expunge()

    def wait(self, seconds: float) -> None:
        """Until the server says something changed (IDLE, where offered) or `seconds` passed."""
        assert self.client is not None
        # Mail that arrived during the pass was announced in the answer to one of its commands
        # (the MOVEs): IDLE would not announce it again, so look before waiting.
        if self.client.search(["NOT", "DELETED"]):
            return
        if not self.client.has_capability("IDLE"):
            time.sleep(seconds)
            return
        self.client.idle()
        try:
            self.client.idle_check(timeout=seconds)
        finally:
            self.client.idle_done()


def _gone(error: Exception) -> bool:
    """The server says the message no longer exists (expunged by another session)."""
    text = str(error).upper()
    return "EXPUNGEISSUED" in text or "NO LONGER EXIST" in text


def _close(client: IMAPClient) -> None:
    try:
        client.logout()
    except Exception:  # already gone: nothing to tell the server
        try:
            client.shutdown()
        except Exception:
            log.debug("IMAP connection already closed", exc_info=True)
