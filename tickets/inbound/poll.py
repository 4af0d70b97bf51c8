"""The poller: each message of each configured source goes to `receive_message`, then to its
processed or failed folder, in that order, so a message is never lost and never doubled.

Sources: the IMAP mailbox of `MAIL_IN_IMAP_URL`, the IMAP mailboxes admins configured
(`InboundMailbox` rows with IMAP settings), and the Maildir drop folder `MAIL_IN_MAILDIR`
(the embedded default's `instance/inbox/`).

Order of work for one message: fetch its bytes, `receive_message` (which commits the ticket or
reply, or records the failure, in its own transaction), then move it on the server. A process that
dies between the commit and the move leaves the message in the inbox: the next pass hands it to
`receive_message` again, which knows its Message-ID and answers `duplicate` (adding nothing), and
then moves it. Two pollers on one mailbox do the same: the loser of the race gets `duplicate`.
When `receive_message` raises (the database is down), the message stays where it is and the pass
ends; the next one tries again. A message that cannot be read is recorded as `failed` by
`receive_message` and moved to the failed folder: it never blocks the ones after it.

Running it: `flask mail poll` (once; `--forever` keeps going, with IMAP IDLE where the server
offers it, else every MAIL_POLL_SECONDS), and the periodic jobs `mail-poll` (IMAP, every
MAIL_POLL_SECONDS, 30) and `mail-drop` (the drop folder, every MAIL_DROP_SECONDS, 5) that
`flask worker` runs. With REDIS_URL each source is polled under a Redis lock, so one host polls a
mailbox at a time even when a pass outlasts its window.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from helpdesk.extensions import db
from helpdesk.jobs import app_job, periodic, redis_connection
from tickets.inbound.cli import mail_cli
from tickets.inbound.imap import ImapSource
from tickets.inbound.maildir import MaildirSource, ensure_maildir
from tickets.inbound.transport import ImapSettings, ImapUrlError, destination, parse_imap_url

log = logging.getLogger(__name__)

# Test-only: seconds to sleep after receive_message committed and before the move, so a test can
# kill a real poller in exactly that window (tests/inbound/integration/test_poller_processes.py).
PAUSE_AFTER_COMMIT_ENV = "OPIEKUN_TEST_MAIL_PAUSE_AFTER_COMMIT"
COMMITTED_MARKER = "mail committed"


class InfrastructureError(Exception):
    """receive_message could not do its work (database away): leave the message, try later."""


@dataclass
class PollResult:
    source: str
    received: int = 0
    moved: int = 0
    left: int = 0  # left in place after an error, for a later pass
    outcomes: Counter[str] = field(default_factory=Counter)
    stopped: str | None = None  # why the pass ended early

    def summary(self) -> str:
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(self.outcomes.items())) or "nothing new"
        tail = f"; stopped: {self.stopped}" if self.stopped else ""
        return f"{self.source}: {self.received} received ({outcomes}), {self.moved} moved, {self.left} left{tail}"


def _receive(raw: bytes, mailbox_address: str | None) -> Any:
    from tickets.inbound.receive import receive_message

    return receive_message(raw, mailbox_address=mailbox_address)


def poll_source(source: Any, *, keep_going: Callable[[], bool] = lambda: True) -> PollResult:
    """One pass over an open source: every message now in it, oldest first."""
    result = PollResult(source.label)
    pause = float(os.environ.get(PAUSE_AFTER_COMMIT_ENV) or 0)
    for item in source.messages():
        if not keep_going():
            result.stopped = "lost the poll lock"
            break
        try:
            receipt = _receive(item.raw, source.address)
        except (DBAPIError, OSError) as error:  # the database or the storage is away: every message
            db.session.rollback()                # would fail the same way; the next pass tries again
            result.left += 1
            what = "database" if isinstance(error, DBAPIError) else "storage"
            result.stopped = f"{what} unavailable ({error.__class__.__name__})"
            log.warning("%s: message left in place, the %s is unavailable", source.label, what, exc_info=True)
            break
        except Exception:  # receive_message promises not to raise for bad mail; keep it for later
            db.session.rollback()
            result.left += 1
            log.exception("%s: receive_message raised; message left in place for the next pass", source.label)
            continue
        result.received += 1
        outcome = str(receipt.outcome)
        result.outcomes[outcome] += 1
        log.info("%s %s %s -> %s", COMMITTED_MARKER, receipt.message_id, outcome, source.label)
        if pause:
            time.sleep(pause)
        try:
            source.done(item, destination(outcome))
        except (OSError, _imap_errors()) as error:  # received and committed: the next pass moves it
            result.stopped = f"move failed: {error}"
            log.warning("%s: %s", source.label, result.stopped)
            break
        result.moved += 1
    return result


# -- the configured sources ---------------------------------------------------------------------


def imap_sources(app: Flask) -> list[ImapSource]:
    """MAIL_IN_IMAP_URL and the active mailbox rows with IMAP settings."""
    timeout = float(app.config["MAIL_IMAP_TIMEOUT"])
    sources = []
    url = app.config.get("MAIL_IN_IMAP_URL")
    if url:
        sources.append(ImapSource(parse_imap_url(url), timeout=timeout))
    for settings in _mailbox_settings():
        sources.append(ImapSource(settings, timeout=timeout))
    return sources


def _mailbox_settings() -> list[ImapSettings]:
    """IMAP settings of the admins' active inbound mailboxes that have an IMAP URL.

    The row's URL may carry the user (its `imap_user` wins); the password is read from the
    environment variable the row names (`imap_password_ref`), never from the database. A row
    whose URL cannot be used is skipped with a warning (the others are polled).
    """
    from tickets.inbound.models import InboundMailbox

    rows = list(db.session.scalars(
        select(InboundMailbox).where(InboundMailbox.active.is_(True), InboundMailbox.imap_url.is_not(None))
        .order_by(InboundMailbox.id)))
    db.session.rollback()  # end the read: each message gets a transaction of its own
    found = []
    for row in rows:
        try:
            found.append(mailbox_settings(row))
        except ImapUrlError as error:
            log.warning("mailbox %s: IMAP settings not usable: %s", row.address, error)
    return found


def mailbox_settings(row: Any) -> ImapSettings:
    """One mailbox row's IMAP settings (URL, user, password from the named variable, folders)."""
    url = (row.imap_url or "").strip()
    if not url:
        raise ImapUrlError("no IMAP URL")
    parts = urlsplit(url)
    if not parts.username and row.imap_user:  # the user is given beside the URL
        netloc = f"{quote(row.imap_user, safe='')}:x@{parts.netloc}"
        url = urlunsplit(parts._replace(netloc=netloc))
    settings = parse_imap_url(url)
    password = settings.password
    if row.imap_password_ref:
        password = os.environ.get(row.imap_password_ref, "")
        if not password:
            raise ImapUrlError(f"the environment variable {row.imap_password_ref} holds no password")
    return replace(settings, username=row.imap_user or settings.username, password=password,
                   folder=row.folder_inbox or settings.folder,
                   processed_folder=row.folder_processed or settings.processed_folder,
                   failed_folder=row.folder_failed or settings.failed_folder, address=row.address)


def drop_source(app: Flask, folder: str | None = None) -> MaildirSource | None:
    folder = folder or app.config.get("MAIL_IN_MAILDIR")
    if not folder:
        return None
    return MaildirSource(folder, settle_seconds=float(app.config["MAIL_DROP_SETTLE_SECONDS"]),
                         address=app.config.get("MAIL_IN_MAILDIR_ADDRESS"))


class _Lock:
    """With REDIS_URL: one poller per source at a time (a lease, renewed as the pass goes)."""

    def __init__(self, app: Flask, name: str) -> None:
        self.lock = None
        if app.config.get("REDIS_URL"):
            seconds = float(app.config["MAIL_POLL_LOCK_SECONDS"])
            self.lock = redis_connection().lock(f"opiekun:mail-poll:{name}", timeout=seconds)
            self.renewed = 0.0

    def acquire(self) -> bool:
        if self.lock is None:
            return True
        self.renewed = time.monotonic()
        return bool(self.lock.acquire(blocking=False))

    def held(self) -> bool:
        """Still ours; renewed at most every few seconds."""
        if self.lock is None:
            return True
        if time.monotonic() - self.renewed > 5:
            self.renewed = time.monotonic()
            try:
                self.lock.reacquire()
            except Exception:
                log.warning("mail poll lock lost", exc_info=True)
                return False
        return True

    def release(self) -> None:
        if self.lock is not None:
            try:
                self.lock.release()
            except Exception:  # expired or Redis away: it frees itself
                log.info("mail poll lock already gone", exc_info=True)


def poll_once(source: Any) -> PollResult:
    """Open the source, poll it once under its lock, close it. Connection errors are logged and
    end the pass (the messages stay on the server for the next one)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    lock = _Lock(app, source.label)
    if not lock.acquire():
        return PollResult(source.label, stopped="another poller holds this mailbox")
    try:
        with source:
            return poll_source(source, keep_going=lock.held)
    except (OSError, ImapUrlError, _imap_errors()) as error:
        log.warning("%s: could not poll (%s); trying again next time", source.label, error)
        return PollResult(source.label, stopped=str(error))
    finally:
        lock.release()


def _imap_errors() -> type[Exception]:
    from imapclient.exceptions import IMAPClientError

    return IMAPClientError


def poll_all(app: Flask, *, imap: bool = True, drop: bool = True) -> list[PollResult]:
    sources: list[Any] = []
    if imap:
        try:
            sources.extend(imap_sources(app))
        except ImapUrlError as error:
            log.warning("MAIL_IN_IMAP_URL is not usable: %s", error)
    if drop:
        found = drop_source(app)
        if found is not None:
            sources.append(found)
    return [poll_once(source) for source in sources]


@app_job
def mail_poll_job() -> int:
    """Periodic job `mail-poll`: every configured IMAP mailbox once; returns messages received."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    return sum(r.received for r in poll_all(app, drop=False))


@app_job
def mail_drop_job() -> int:
    """Periodic job `mail-drop`: the Maildir drop folder once; returns messages received."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    return sum(r.received for r in poll_all(app, imap=False))


# -- polling for ever ---------------------------------------------------------------------------


def poll_forever(app: Flask, sources: Iterable[Any], stop: threading.Event) -> None:
    """One thread per source: a pass, then wait for new mail (IDLE or a pause), until `stop`."""
    threads = [threading.Thread(target=_forever, args=(app, source, stop), name=f"poll {source.label}",
                                daemon=True) for source in sources]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _forever(app: Flask, source: Any, stop: threading.Event) -> None:
    every = float(app.config["MAIL_POLL_SECONDS"])
    idle = float(app.config["MAIL_IDLE_SECONDS"])
    if isinstance(source, MaildirSource):
        every = float(app.config["MAIL_DROP_SECONDS"])
    while not stop.is_set():
        with app.app_context():
            lock = _Lock(app, source.label)
            if not lock.acquire():
                stop.wait(every)
                continue
            try:
                with source:
                    while not stop.is_set() and lock.held():
                        result = poll_source(source, keep_going=lock.held)
                        if result.received or result.left:
                            log.info(result.summary())
                        if result.stopped:
                            break
                        if isinstance(source, ImapSource):
                            source.wait(idle if source.client.has_capability("IDLE") else every)
                        else:
                            stop.wait(every)
            except (OSError, ImapUrlError, _imap_errors()) as error:
                log.warning("%s: %s; connecting again in %s s", source.label, error, every)
            finally:
                lock.release()
                db.session.remove()
        stop.wait(every)


# -- commands and registration ------------------------------------------------------------------

@click.command("poll")
@click.option("--forever", is_flag=True, help="Keep polling: IMAP IDLE where offered, else every MAIL_POLL_SECONDS.")
@click.option("--url", "url", help="Poll this IMAP URL instead of the configured mailboxes.")
@click.option("--maildir", "maildir", type=click.Path(file_okay=False), help="Poll this Maildir folder instead.")
@with_appcontext
def poll_command(forever: bool, url: str | None, maildir: str | None) -> None:
    """Hand every waiting message to the helpdesk, then move it to its processed or failed folder."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        if url or maildir:
            sources: list[Any] = []
            if url:
                sources.append(ImapSource(parse_imap_url(url), timeout=float(app.config["MAIL_IMAP_TIMEOUT"])))
            if maildir:
                sources.append(drop_source(app, maildir))
        else:
            sources = [*imap_sources(app), *filter(None, [drop_source(app)])]
    except ImapUrlError as error:
        raise click.ClickException(str(error)) from error
    if not sources:
        raise click.ClickException("nothing to poll: set MAIL_IN_IMAP_URL, add a mailbox with IMAP settings "
                                   "in the admin, or set MAIL_IN_MAILDIR")
    if forever:
        stop = threading.Event()
        try:
            poll_forever(app, sources, stop)
        except KeyboardInterrupt:
            stop.set()
        return
    left = 0
    for source in sources:
        result = poll_once(source)
        left += result.left + (1 if result.stopped else 0)
        click.echo(result.summary())
    if left:
        raise SystemExit(1)


def _maildir_default(app: Flask) -> str | None:
    value = os.environ.get("MAIL_IN_MAILDIR")
    if value is not None:
        return None if value.strip().lower() in ("", "off", "none", "0") else value
    if app.config.get("REDIS_URL"):  # production: no drop folder unless asked for
        return None
    return str(Path(app.instance_path) / "inbox")


def init_app(app: Flask) -> None:
    """Settings (from the environment unless the app config gives them), jobs and `flask mail poll`."""
    app.config.setdefault("MAIL_IN_IMAP_URL", os.environ.get("MAIL_IN_IMAP_URL") or None)
    if "MAIL_IN_MAILDIR" not in app.config:
        app.config["MAIL_IN_MAILDIR"] = _maildir_default(app)
    app.config.setdefault("MAIL_IN_MAILDIR_ADDRESS", os.environ.get("MAIL_IN_MAILDIR_ADDRESS") or None)
    for key, default in (("MAIL_DROP_SETTLE_SECONDS", 1.0), ("MAIL_POLL_LOCK_SECONDS", 300.0),
                         ("MAIL_IMAP_TIMEOUT", 60.0), ("MAIL_IDLE_SECONDS", 300.0)):
        app.config.setdefault(key, float(os.environ.get(key) or default))
    periodic(app, "mail-poll", func="tickets.inbound.poll.mail_poll_job", every=30, setting="MAIL_POLL_SECONDS")
    if app.config["MAIL_IN_MAILDIR"]:
        periodic(app, "mail-drop", func="tickets.inbound.poll.mail_drop_job", every=5, setting="MAIL_DROP_SECONDS")
    else:
        app.config.setdefault("MAIL_DROP_SECONDS", float(os.environ.get("MAIL_DROP_SECONDS") or 5))
    mail_cli.add_command(poll_command)  # `flask mail poll` beside `flask mail import`
    if "mail" not in app.cli.commands:
        app.cli.add_command(mail_cli)
    if app.config["MAIL_IN_MAILDIR"]:
        try:
            ensure_maildir(Path(app.config["MAIL_IN_MAILDIR"]))
        except OSError:
            log.warning("could not create the drop folder %s", app.config["MAIL_IN_MAILDIR"], exc_info=True)
