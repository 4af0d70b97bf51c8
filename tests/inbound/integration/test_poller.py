"""The poller against a real Dovecot (one per session, a fresh mailbox per test), on both databases.

Each message goes to receive_message, and only then to the processed folder (failed ones to the
failed folder); the same message twice adds nothing; a failed message never holds up the next;
when the database is away the message stays on the server. The drop folder (`instance/inbox/` in
the embedded default) works the same way, also from a real `flask worker` process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from helpdesk.extensions import db
from tests.conftest import ROOT
from tests.inbound.support import mail, thread_of
from tests.notifications.support import Workers, wait_until, worker_env


def msg(sender: str, subject: str, body: str = "It stopped this morning.", *, to: str = "support@vendor.example",
        message_id: str = "auto", in_reply_to: str | None = None) -> bytes:
    """A client's message; a reply names the ticket's thread as a mail client answering our notice does."""
    headers = {"In-Reply-To": in_reply_to, "References": in_reply_to} if in_reply_to else None
    return mail(sender=sender, to=to, subject=subject, body=body, message_id=message_id, headers=headers)


def poll(app: Any, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=["mail", "poll", *args])


def tickets_by_subject() -> dict[str, Any]:
    from tickets.models import Ticket

    db.session.rollback()
    return {t.subject: t for t in db.session.scalars(select(Ticket))}


def bodies(ticket_id: int) -> list[str]:
    from tickets.models import Message

    return list(db.session.scalars(select(Message.body).where(Message.ticket_id == ticket_id)))


def outcomes() -> list[str]:
    from tickets.inbound.models import InboundMessage

    db.session.rollback()
    return [m.outcome for m in db.session.scalars(select(InboundMessage).order_by(InboundMessage.id))]


def test_each_message_becomes_a_ticket_or_reply_then_moves_to_processed(app, world, mailbox, make_ticket):
    earlier = make_ticket(world.acme_user, subject="Scanner offline")
    mailbox.deliver(
        msg("anna@acme.example", "Labels print blank"),
        msg("gina@globex.example", "Invoice export fails"),
        msg("anna@acme.example", "Re: Scanner offline", "Still offline.", in_reply_to=thread_of(earlier.id)),
    )
    result = poll(app, "--url", mailbox.url())
    assert result.exit_code == 0, result.output
    assert "3 received" in result.output and "3 moved" in result.output
    found = tickets_by_subject()
    assert set(found) == {"Scanner offline", "Labels print blank", "Invoice export fails"}
    assert found["Labels print blank"].client_id == world.acme.id
    assert found["Invoice export fails"].client_id == world.globex.id
    assert any("Still offline." in body for body in bodies(found["Scanner offline"].id)), (outcomes(), bodies(found["Scanner offline"].id))
    assert outcomes() == ["ticket_created", "ticket_created", "reply_added"]
    assert mailbox.count("INBOX") == 0 and mailbox.count("Processed") == 3 and mailbox.count("Failed") == 0


def test_a_failed_message_goes_to_failed_and_never_holds_up_the_next(app, world, mailbox):
    no_sender = b"To: support@vendor.example\r\nSubject: Who am I\r\nMessage-ID: <nofrom@x>\r\n\r\nHello\r\n"
    mailbox.deliver(msg("anna@acme.example", "First"), no_sender, msg("bob@acme.example", "Second"))
    result = poll(app, "--url", mailbox.url())
    assert result.exit_code == 0, result.output
    assert set(tickets_by_subject()) == {"First", "Second"}
    assert outcomes() == ["ticket_created", "failed", "ticket_created"]
    assert mailbox.count("INBOX") == 0 and mailbox.count("Processed") == 2
    assert mailbox.messages("Failed") == [no_sender]


def test_the_same_message_twice_makes_one_ticket(app, world, mailbox):
    raw = msg("anna@acme.example", "Printer jams", message_id="<same-1@acme.example>")
    mailbox.deliver(raw, raw)
    assert poll(app, "--url", mailbox.url()).exit_code == 0
    mailbox.deliver(raw)
    assert poll(app, "--url", mailbox.url()).exit_code == 0
    assert list(tickets_by_subject()) == ["Printer jams"]
    assert outcomes() == ["ticket_created"]
    assert mailbox.count("INBOX") == 0 and mailbox.count("Processed") == 3


def test_with_the_database_away_the_message_stays_on_the_server(app, world, mailbox, tmp_path):
    mailbox.deliver(msg("anna@acme.example", "Barcode reader"))
    env = {**os.environ, "FLASK_APP": "app", "PYTHONDONTWRITEBYTECODE": "1", "SECRET_KEY": "test-secret",
           "DATABASE_URL": "postgresql://postgres@127.0.0.1:9/nowhere", "REDIS_URL": "", "MAIL_IN_MAILDIR": "off",
           "MAIL_OUTBOX_DIR": str(tmp_path / "outbox")}
    down = subprocess.run([sys.executable, "-m", "flask", "mail", "poll", "--url", mailbox.url()], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)
    assert down.returncode == 1, down.stdout + down.stderr
    assert "database unavailable" in down.stdout and "1 left" in down.stdout
    assert mailbox.count("INBOX") == 1 and mailbox.count("Processed") == 0
    assert poll(app, "--url", mailbox.url()).exit_code == 0  # the database is back
    assert list(tickets_by_subject()) == ["Barcode reader"]
    assert mailbox.count("INBOX") == 0 and mailbox.count("Processed") == 1


def test_the_worker_job_polls_mail_in_imap_url_and_the_admins_mailboxes(app, world, mailbox, dovecot,
                                                                         monkeypatch):
    from tickets.inbound.models import InboundMailbox
    from tickets.inbound.poll import mail_poll_job

    bugs = dovecot.add_user()
    monkeypatch.setenv("OPIEKUN_TEST_BUGS_PASSWORD", bugs.password)
    db.session.add(InboundMailbox(address="bledy@vendor.example", category="bug", active=True,
                                  imap_url=f"imap://127.0.0.1:{bugs.port}", imap_user=bugs.user,
                                  imap_password_ref="OPIEKUN_TEST_BUGS_PASSWORD", folder_inbox="INBOX",
                                  folder_processed="Done", folder_failed="Broken"))
    db.session.add(InboundMailbox(address="old@vendor.example", category="bug", active=False,
                                  imap_url=mailbox.url(), imap_user=None, imap_password_ref=None))
    db.session.commit()
    app.config["MAIL_IN_IMAP_URL"] = mailbox.url()
    mailbox.deliver(msg("anna@acme.example", "A question"))
    bugs.deliver(msg("bob@acme.example", "A bug", to="bledy@vendor.example"))
    assert mail_poll_job() == 2
    found = tickets_by_subject()
    assert found["A bug"].category == "bug"
    assert mailbox.count("Processed") == 1 and bugs.count("Done") == 1 and bugs.count("INBOX") == 0


def test_one_poller_at_a_time_per_mailbox_with_redis(app, world, mailbox, redis_url):
    import redis

    from tickets.inbound.poll import mail_poll_job

    app.config.update(REDIS_URL=redis_url, MAIL_IN_IMAP_URL=mailbox.url())
    mailbox.deliver(msg("anna@acme.example", "Held back"))
    from tickets.inbound.transport import parse_imap_url

    other = redis.Redis.from_url(redis_url).lock(f"opiekun:mail-poll:imap {parse_imap_url(mailbox.url()).label}",
                                                 timeout=30)
    assert other.acquire(blocking=False)
    assert mail_poll_job() == 0  # another host polls this mailbox now
    assert mailbox.count("INBOX") == 1
    other.release()
    assert mail_poll_job() == 1
    assert mailbox.count("Processed") == 1


# -- the drop folder ------------------------------------------------------------------------------


def drop(folder: Path, name: str, raw: bytes, age: float = 5.0) -> Path:
    path = folder / "new" / name
    path.write_bytes(raw)
    then = time.time() - age
    os.utime(path, (then, then))
    return path


def test_a_file_copied_into_the_drop_folder_becomes_a_ticket(app, world):
    from tickets.inbound.poll import mail_drop_job

    inbox = Path(app.config["MAIL_IN_MAILDIR"])
    assert all((inbox / part).is_dir() for part in ("new", "cur", "tmp", ".processed/cur", ".failed/cur"))
    drop(inbox, "question.eml", msg("anna@acme.example", "Dropped in"))
    drop(inbox, "broken.eml", b"Subject: no sender at all\r\n\r\nhi\r\n")
    writing = drop(inbox, "half-written.eml", msg("bob@acme.example", "Still copying"), age=0)
    assert mail_drop_job() == 2
    assert list(tickets_by_subject()) == ["Dropped in"]
    assert [p.name for p in (inbox / ".processed" / "cur").iterdir()] == ["question.eml:2,S"]
    assert [p.name for p in (inbox / ".failed" / "cur").iterdir()] == ["broken.eml:2,S"]
    assert [p.name for p in (inbox / "new").iterdir()] == ["half-written.eml"]  # read once settled
    os.utime(writing, (time.time() - 5, time.time() - 5))
    assert mail_drop_job() == 1
    assert set(tickets_by_subject()) == {"Dropped in", "Still copying"}
    assert list((inbox / "new").iterdir()) == []


def test_the_embedded_worker_files_what_lands_in_the_drop_folder(app, world, migrated, tmp_path):
    """What `scripts/run` starts: `flask worker` without Redis runs the drop folder job itself."""
    inbox = tmp_path / "run-inbox"
    env = worker_env(migrated, "", None, tmp_path / "outbox", MAIL_IN_MAILDIR=str(inbox), MAIL_DROP_SECONDS="1",
                     MAIL_DROP_SETTLE_SECONDS="0.2")
    workers = Workers(tmp_path / "embedded", env)
    try:
        workers.start()
        wait_until(lambda: (inbox / "new").is_dir(), timeout=30)
        (inbox / "tmp" / "1.eml").write_bytes(msg("anna@acme.example", "From the drop folder"))
        os.replace(inbox / "tmp" / "1.eml", inbox / "new" / "1.eml")  # how a Maildir writer delivers
        wait_until(lambda: "From the drop folder" in tickets_by_subject(), timeout=30, interval=0.2)
        wait_until(lambda: list((inbox / ".processed" / "cur").iterdir()), timeout=10)
    finally:
        workers.stop_all()
    assert list((inbox / "new").iterdir()) == []


def test_poll_with_nothing_configured_says_so(app, world):
    """`flask mail poll` with nothing configured says so (exit 1), instead of doing nothing quietly."""
    app.config.update(MAIL_IN_IMAP_URL=None, MAIL_IN_MAILDIR=None)
    result = poll(app)
    assert result.exit_code == 1 and "nothing to poll" in result.output
    from tickets.inbound.models import InboundMessage

    assert db.session.scalar(select(func.count()).select_from(InboundMessage)) == 0
