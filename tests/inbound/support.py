"""Samples and services for the e-mail channel's tests.

Samples: messages built with the email package (`mail`), and the mail Opiekun itself wrote (the
embedded transport's .eml files) to answer (`sent_mail`, `reply_to`).

A real IMAP server: Dovecot from Debian (`dovecot-imapd`), one
instance per test session (so one per xdist worker), and a fresh mailbox user for each test.

Nothing system-wide is started or changed: the instance runs from a config file and a
passwd-file in a temporary folder, listens on a free loopback port, allows plain login there
(no TLS on loopback), keeps mail as Maildir in that folder, and is stopped at the end of the
session. Run as root (CI, this machine) its login processes run as Debian's `dovenull` user and
the mail belongs to `nobody` (Dovecot refuses root for both); run as anyone else, everything
runs as that user. `scripts/services.sh` (ensure_dovecot) installs the package when missing.

By hand, the same: `python -m tests.inbound.support` starts one and prints its IMAP URL.
"""

from __future__ import annotations

import email
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

import pytest
from imapclient import IMAPClient

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"

CONFIG = """\
base_dir = {folder}/run
state_dir = {folder}/state
log_path = {folder}/dovecot.log
info_log_path = {folder}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {internal_user}
default_internal_group = {internal_group}
default_login_user = {login_user}
first_valid_uid = 1
mail_location = maildir:~/Maildir
mail_fsync = never
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {folder}/passwd
}}
userdb {{
  driver = static
  args = uid={mail_uid} gid={mail_gid} home={folder}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
  chroot =
}}
service anvil {{
  chroot =
}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Mailbox:
    """One user's mailbox on the test Dovecot."""

    user: str
    password: str
    port: int
    host: str = "127.0.0.1"

    def url(self, folder: str = "INBOX", **params: str) -> str:
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return f"imap://{self.user}:{self.password}@{self.host}:{self.port}/{folder}" + (f"?{query}" if query else "")

    def client(self) -> IMAPClient:
        client = IMAPClient(self.host, port=self.port, ssl=False, timeout=30)
        client.login(self.user, self.password)
        return client

    def deliver(self, *messages: bytes, folder: str = "INBOX") -> None:
        """APPEND the messages, in order (what an MTA's delivery looks like to a poller)."""
        client = self.client()
        try:
            for raw in messages:
                client.append(folder, raw)
        finally:
            client.logout()

    def messages(self, folder: str = "INBOX") -> list[bytes]:
        """The raw messages in a folder, oldest first; [] when the folder does not exist."""
        client = self.client()
        try:
            if not client.folder_exists(folder):
                return []
            client.select_folder(folder, readonly=True)
            uids = sorted(client.search("ALL"))
            if not uids:
                return []
            fetched = client.fetch(uids, ["BODY.PEEK[]"])
            return [bytes(fetched[uid][b"BODY[]"]) for uid in uids if uid in fetched]
        finally:
            client.logout()

    def count(self, folder: str = "INBOX") -> int:
        client = self.client()
        try:
            if not client.folder_exists(folder):
                return 0
            return int(client.folder_status(folder, ["MESSAGES"])[b"MESSAGES"])
        finally:
            client.logout()


class Dovecot:
    """A Dovecot of our own: `start()`, `add_user()`, `stop()`."""

    def __init__(self) -> None:
        # Short path: Dovecot's unix sockets live under base_dir (at most 108 bytes a path).
        self.folder = Path(tempfile.mkdtemp(prefix="opiekun-dovecot-"))
        self.folder.chmod(0o755)  # the login processes (another user under root) reach the sockets
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.users = 0
        self.spare: list[tuple[str, str]] = []

    def _identity(self) -> dict[str, object]:
        if os.geteuid() == 0:  # Dovecot runs neither login processes nor mail access as root
            nobody = pwd.getpwnam("nobody")
            return {"internal_user": "dovecot", "internal_group": "dovecot", "login_user": "dovenull",
                    "mail_uid": nobody.pw_uid, "mail_gid": nobody.pw_gid}
        me = pwd.getpwuid(os.getuid())
        group = me.pw_name
        try:
            import grp

            group = grp.getgrgid(os.getgid()).gr_name
        except KeyError:
            pass
        return {"internal_user": me.pw_name, "internal_group": group, "login_user": me.pw_name,
                "mail_uid": os.getuid(), "mail_gid": os.getgid()}

    def start(self) -> Dovecot:
        if not Path(DOVECOT).exists():
            pytest.fail("Dovecot is not installed: run scripts/test, or `apt-get install dovecot-imapd`")
        identity = self._identity()
        for part in ("run", "state", "home"):
            (self.folder / part).mkdir()
        if os.geteuid() == 0:
            os.chown(self.folder / "home", int(identity["mail_uid"]), int(identity["mail_gid"]))
        (self.folder / "passwd").write_text("")
        self._write_users(200)
        (self.folder / "dovecot.conf").write_text(CONFIG.format(folder=self.folder, port=self.port, **identity))
        self.process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(self.folder / "dovecot.conf")],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    if sock.recv(100).startswith(b"* OK"):
                        return self
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Dovecot did not start: {self.log()[-2000:]}")
            time.sleep(0.05)

    def log(self) -> str:
        path = self.folder / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def add_user(self) -> Mailbox:
        """A new, empty mailbox. Users are written to the passwd-file in blocks ahead of time:
        Dovecot notices a changed passwd-file by its modification time, to the second."""
        if not self.spare:
            self._write_users(100)
            time.sleep(1.1)
        user, password = self.spare.pop(0)
        return Mailbox(user, password, self.port)

    def _write_users(self, count: int) -> None:
        with (self.folder / "passwd").open("a") as passwd:
            for _ in range(count):
                self.users += 1
                user, password = f"u{self.users}x{secrets.token_hex(3)}", secrets.token_hex(8)
                passwd.write(f"{user}:{{PLAIN}}{password}\n")
                self.spare.append((user, password))

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.process.wait(timeout=10)
        shutil.rmtree(self.folder, ignore_errors=True)




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


def thread_of(ticket_id: int) -> str:
    """The thread id our notifications of a ticket carry, which a client's reply names."""
    from helpdesk.notifications.mail import thread_id

    return thread_id(f"ticket-{ticket_id}")


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """One Dovecot per test session (per xdist worker), stopped at its end."""
    server = Dovecot().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def mailbox(dovecot: Dovecot) -> Mailbox:
    """A fresh, empty mailbox user for this test."""
    return dovecot.add_user()


if __name__ == "__main__":  # start one by hand: python -m tests.inbound.support
    server = Dovecot().start()
    box = server.add_user()
    print(f"Dovecot on 127.0.0.1:{server.port} (config {server.folder}/dovecot.conf)")
    print(f"MAIL_IN_IMAP_URL={box.url()}")
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
