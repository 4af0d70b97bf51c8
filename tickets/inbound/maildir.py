"""The drop folder: a Maildir (`new/ cur/ tmp/`) whose messages become tickets and replies.

The embedded default's `instance/inbox/` (setting `MAIL_IN_MAILDIR`): copy an `.eml` file into
`new/` and the worker that `scripts/run` starts files it within `MAIL_DROP_SECONDS`. A message is
moved to the Maildir++ subfolder `.processed/cur/` (or `.failed/cur/` when it could not be read)
after its ticket or reply was committed. A file still being written is left for the next pass: it
is read once it was not modified for `MAIL_DROP_SETTLE_SECONDS` (Maildir writers that write to
tmp/ and rename into new/ are complete at once).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tickets.inbound.imap import Item
from tickets.inbound.transport import maildir_done_name, settled

log = logging.getLogger(__name__)

SUBFOLDERS = {"processed": ".processed", "failed": ".failed"}


def ensure_maildir(root: Path) -> None:
    """Create the drop folder and its processed/failed subfolders (Maildir++ layout) if missing."""
    for folder in (root, *(root / name for name in SUBFOLDERS.values())):
        for part in ("new", "cur", "tmp"):
            (folder / part).mkdir(parents=True, exist_ok=True)
        if folder != root:
            (folder / "maildirfolder").touch(exist_ok=True)


class MaildirSource:
    def __init__(self, root: str | Path, *, settle_seconds: float = 1.0, address: str | None = None) -> None:
        self.root = Path(root)
        self.settle_seconds = settle_seconds
        self.address = address

    @property
    def label(self) -> str:
        return f"maildir {self.root}"

    def __enter__(self) -> MaildirSource:
        ensure_maildir(self.root)
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def messages(self) -> Iterator[Item]:
        """Messages in new/ and cur/, oldest first; dot files and files still being written skipped."""
        found: list[tuple[float, str, Path]] = []
        now = time.time()
        for part in ("new", "cur"):
            try:
                entries = list(os.scandir(self.root / part))
            except FileNotFoundError:
                continue
            for entry in entries:
                if entry.name.startswith(".") or not entry.is_file(follow_symlinks=False):
                    continue
                try:
                    modified = entry.stat(follow_symlinks=False).st_mtime
                except FileNotFoundError:  # taken by another poller
                    continue
                if settled(modified, now, self.settle_seconds):
                    found.append((modified, entry.name, Path(entry.path)))
        for _, _, path in sorted(found):
            try:
                raw = path.read_bytes()
            except FileNotFoundError:
                continue
            yield Item(path, raw)

    def done(self, item: Item, destination: str) -> None:
        path: Path = item.key
        target = self.root / SUBFOLDERS[destination] / "cur" / maildir_done_name(path.name)
        if target.exists():  # two dropped files of the same name: keep both
            target = target.with_name(maildir_done_name(f"{path.name}.{time.time_ns()}"))
        try:
            os.replace(path, target)
        except FileNotFoundError:  # another poller moved it after its own (duplicate) receipt
            log.info("%s: %s was moved by another poller", self.label, path.name)
