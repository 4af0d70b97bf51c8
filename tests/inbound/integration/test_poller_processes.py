"""Never lost, never doubled, with real `flask mail poll` processes against a real Dovecot.

A poller SIGKILLed after receive_message committed and before it moved the message leaves the
message in the inbox; the next run files nothing twice and moves it. Two pollers started together
on one mailbox give every message exactly one ticket or reply. On both databases.

The window between commit and move is held open by the test-only environment hook
OPIEKUN_TEST_MAIL_PAUSE_AFTER_COMMIT (seconds to sleep there); the test kills the poller when its
log shows the commit marker.
"""

from __future__ import annotations

import email
import os
import signal
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from helpdesk.extensions import db
from tests.conftest import ROOT
from tests.inbound.support import mail, thread_of
from tests.notifications.support import wait_until


def msg(sender: str, subject: str, body: str = "It stopped this morning.", *, to: str = "support@vendor.example",
        message_id: str = "auto", in_reply_to: str | None = None) -> bytes:
    """A client's message; a reply names the ticket's thread as a mail client answering our notice does."""
    headers = {"In-Reply-To": in_reply_to, "References": in_reply_to} if in_reply_to else None
    return mail(sender=sender, to=to, subject=subject, body=body, message_id=message_id, headers=headers)


def poller(url: str, database_url: str, log: Path, tmp_path: Path, pause: float = 0) -> subprocess.Popen[bytes]:
    env = {**os.environ, "FLASK_APP": "app", "PYTHONDONTWRITEBYTECODE": "1", "SECRET_KEY": "test-secret",
           "DATABASE_URL": database_url, "REDIS_URL": "", "MAIL_IN_MAILDIR": "off",
           "MAIL_OUTBOX_DIR": str(tmp_path / "outbox"), "OPIEKUN_TEST_MAIL_PAUSE_AFTER_COMMIT": str(pause)}
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, "-m", "flask", "mail", "poll", "--url", url], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def counts() -> dict[str, int]:
    from tickets.inbound.models import InboundMessage
    from tickets.models import Message, Ticket

    db.session.rollback()
    return {name: db.session.scalar(select(func.count()).select_from(model)) or 0
            for name, model in (("tickets", Ticket), ("messages", Message), ("inbound", InboundMessage))}


def message_count(ticket_id: int) -> int:
    from tickets.models import Message

    return db.session.scalar(select(func.count()).select_from(Message).where(Message.ticket_id == ticket_id)) or 0


def test_a_poller_killed_between_commit_and_move_loses_and_doubles_nothing(app, world, mailbox, migrated, tmp_path):
    from tickets.models import Ticket

    mailbox.deliver(msg("anna@acme.example", "Killed mid-way", message_id="<kill-1@acme.example>"))
    log = tmp_path / "first.log"
    first = poller(mailbox.url(), migrated, log, tmp_path, pause=120)
    try:
        wait_until(lambda: "mail committed" in log.read_text(errors="replace") or first.poll() is not None,
                   timeout=60, interval=0.05)
        assert first.poll() is None, log.read_text()
        os.killpg(first.pid, signal.SIGKILL)  # after the commit, before the move
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    before = counts()
    assert before["tickets"] == 1 and before["inbound"] == 1  # committed...
    assert mailbox.count("INBOX") == 1 and mailbox.count("Processed") == 0  # ...and not moved

    second = poller(mailbox.url(), migrated, tmp_path / "second.log", tmp_path)
    assert second.wait(timeout=120) == 0, (tmp_path / "second.log").read_text()
    assert "duplicate 1" in (tmp_path / "second.log").read_text()
    assert counts() == before
    assert [t.subject for t in db.session.scalars(select(Ticket))] == ["Killed mid-way"]
    assert mailbox.count("INBOX") == 0 and mailbox.count("Processed") == 1


def test_two_pollers_on_one_mailbox_file_every_message_once(app, world, mailbox, migrated, tmp_path, make_ticket):
    from tickets.models import Ticket

    existing = [make_ticket(u, subject=f"Existing {i}") for i, u in
                enumerate([world.acme_user, world.acme_colleague, world.globex_user])]
    db.session.commit()
    senders = ["anna@acme.example", "bob@acme.example", "boss@acme.example", "gina@globex.example",
               "gadmin@globex.example"]
    messages: list[bytes] = []
    replies: dict[int, int] = {t.id: 0 for t in existing}
    for i in range(45):
        sender = senders[i % len(senders)]
        if i % 3 == 2:  # every third a reply to an existing ticket of the sender's company
            target = existing[{"bob@acme.example": 1, "gina@globex.example": 2,
                               "gadmin@globex.example": 2}.get(sender, 0)]  # the owner or a client admin
            replies[target.id] += 1
            messages.append(msg(sender, f"Re: {target.subject}", f"Reply {i}", in_reply_to=thread_of(target.id)))
        else:
            messages.append(msg(sender, f"New {i}"))
    mailbox.deliver(*messages)
    before = {t.id: message_count(t.id) for t in existing}
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    pollers = [poller(mailbox.url(), migrated, log, tmp_path, pause=0.05) for log in logs]
    try:
        for process, log in zip(pollers, logs, strict=True):
            assert process.wait(timeout=300) == 0, log.read_text()[-3000:]
    finally:
        for process in pollers:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
    texts = [log.read_text() for log in logs]
    assert all("mail committed" in text for text in texts), "both pollers should have worked"
    db.session.rollback()
    subjects = [t.subject for t in db.session.scalars(select(Ticket))]
    assert sorted(subjects) == sorted([f"New {i}" for i in range(45) if i % 3 != 2] + [t.subject for t in existing])
    for ticket in existing:
        assert message_count(ticket.id) == before[ticket.id] + replies[ticket.id], ticket.subject
    assert counts()["inbound"] == 45
    assert mailbox.count("INBOX") == 0 and mailbox.count("Failed") == 0
    # Every message is in the processed folder. IMAP has no exclusive claim: two sessions that
    # MOVE the same message at the same instant may both copy it, so a copy can appear twice
    # there; never a ticket or reply (the worker's lock keeps its pollers from racing at all).
    processed = {email.message_from_bytes(raw)["Message-ID"] for raw in mailbox.messages("Processed")}
    assert processed == {email.message_from_bytes(raw)["Message-ID"] for raw in messages}




def test_poll_forever_wakes_on_new_mail_with_idle(app, world, mailbox, migrated, tmp_path):
    """`flask mail poll --forever` waits in IMAP IDLE (Dovecot offers it), so new mail is filed at
    once, not at the next 30-second round."""
    env = {**os.environ, "FLASK_APP": "app", "PYTHONDONTWRITEBYTECODE": "1", "SECRET_KEY": "test-secret",
           "DATABASE_URL": migrated, "REDIS_URL": "", "MAIL_IN_MAILDIR": "off", "MAIL_POLL_SECONDS": "600",
           "MAIL_OUTBOX_DIR": str(tmp_path / "outbox"), "MAIL_IN_IMAP_URL": mailbox.url()}
    log = tmp_path / "forever.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "flask", "mail", "poll", "--forever"], cwd=ROOT,
                                   env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        mailbox.deliver(msg("anna@acme.example", "Before the poller"))
        wait_until(lambda: counts()["tickets"] == 1 or process.poll() is not None, timeout=120, interval=0.2)
        for n in range(2):
            mailbox.deliver(msg("bob@acme.example", f"While it waits {n}"))
            wait_until(lambda n=n: counts()["tickets"] == 2 + n or process.poll() is not None, timeout=90,
                       interval=0.1)
        wait_until(lambda: mailbox.count("Processed") == 3, timeout=30, interval=0.1)  # moved after commit
        assert process.poll() is None, log.read_text()
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    assert counts()["tickets"] == 3, log.read_text()
    assert mailbox.count("INBOX") == 0 and mailbox.count("Processed") == 3
