"""Benchmark: inbound e-mail through Dovecot and the poller, against filing the same through the API.

Fills a real Dovecot mailbox (a private instance on a free loopback port, as the tests start it)
with N messages (default 10,000): about 70 % new tickets and 30 % replies to tickets the senders
already have, from 200 client users of 10 companies; plain text with signatures, a fifth also
with an HTML part, replies quoting the message they answer and naming its thread
(In-Reply-To/References), as a mail client answering our notification writes them. Then one
poller pass (`tickets.inbound.poll.poll_source` on an `ImapSource`, in this process) receives
every message and moves it to the processed folder; its rate is messages per second, from the
first fetch to the last move.

The comparison files the same work the way an integration would, through the API, in the same
process style: the app's WSGI interface via Flask's test client (no HTTP server, no network),
each client with its own token: `POST /api/v1/tickets` for every new ticket and
`POST /api/v1/tickets/{id}/replies` for every reply. Both sides run on a fresh database of their
own with the same set-up (the embedded default: SQLite, no Redis, notifications delivered inline
after the commit as .eml files in a temporary folder; or `--database-url` for PostgreSQL, a
database created and dropped per side), so both pay for the receipts and notices they send.
The loop guard (more than MAIL_IN_LOOP_LIMIT messages from one sender in MAIL_IN_LOOP_MINUTES
minutes are held) still runs its query for every message; its limit is raised here because 50
messages per sender arrive within minutes. Goal: the mail rate at least half the API rate;
exits 1 below it.

    .venv/bin/python bench/bench_mail_in.py [--messages N] [--database-url postgresql://...]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GOAL = 0.5
COMPANIES = 10
USERS_PER_COMPANY = 20
FAST_HASH = {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}

WORDS = ("label printer scanner invoice export warehouse terminal barcode report shipment order pallet "
         "driver update screen login password error module customer delivery stock sync").split()


def sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def plan(count: int, users: list[str], seed: int = 13) -> list[dict[str, Any]]:
    """The work, the same for both sides: new tickets and replies (to the sender's own ticket)."""
    rng = random.Random(seed)
    work = []
    for n in range(count):
        sender = users[n % len(users)]
        body = "\n\n".join(sentence(rng, rng.randint(8, 25)) for _ in range(rng.randint(1, 4)))
        if rng.random() < 0.3:
            work.append({"kind": "reply", "sender": sender, "body": body, "html": False})
        else:
            subject = sentence(rng, rng.randint(3, 8)).rstrip(".")
            work.append({"kind": "new", "sender": sender, "subject": f"{subject} ({n})", "body": body,
                         "html": rng.random() < 0.2})
    return work


def as_mail(item: dict[str, Any], ticket: dict[str, Any], n: int) -> bytes:
    from datetime import UTC, datetime
    from email.message import EmailMessage
    from email.utils import format_datetime, make_msgid

    message = EmailMessage()
    message["From"] = item["sender"]
    message["To"] = "support@vendor.example"
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(idstring=f"bench{n}", domain=item["sender"].rpartition("@")[2])
    signature = "\n\n-- \nAnna Kowalska\nACME Logistics, tel. +48 22 000 00 00\n"
    if item["kind"] == "reply":
        message["Subject"] = f"Re: {ticket['subject']}"
        message["In-Reply-To"] = ticket["thread"]
        message["References"] = ticket["thread"]
        quoted = "\n".join("> " + line for line in ticket["description"].splitlines())
        message.set_content(f"{item['body']}{signature}\nOn Mon, 1 Dec 2026 at 10:00, Opiekun "
                            f"<helpdesk@localhost> wrote:\n{quoted}\n")
    else:
        message["Subject"] = item["subject"]
        message.set_content(item["body"] + signature)
        if item["html"]:
            paragraphs = "".join(f"<p>{p}</p>" for p in item["body"].split("\n\n"))
            message.add_alternative(f"<html><body>{paragraphs}<p>--<br>Anna</p></body></html>", subtype="html")
    return message.as_bytes()


@contextmanager
def fresh_app(database_url: str | None, folder: Path, name: str):
    """An app on a new database of its own, migrated, with the companies, users and their tickets."""
    from flask_migrate import upgrade

    from app import create_app
    from helpdesk.accounts import create_user
    from helpdesk.api.tokens import issue_token
    from helpdesk.companies import create_client
    from helpdesk.extensions import db
    from helpdesk.notifications.mail import thread_id
    from tickets.services import Actor, file_ticket

    made = None
    if database_url:
        from tests.conftest import _postgres_database

        made = _postgres_database(database_url)
        url = next(made)
    else:
        url = f"sqlite:///{folder}/{name}.sqlite3"
    app = create_app({
        "SECRET_KEY": "bench", "REDIS_URL": None, "SQLALCHEMY_DATABASE_URI": url,
        "MAIL_OUTBOX_DIR": str(folder / f"{name}-outbox"), "UPLOAD_FOLDER": str(folder / f"{name}-uploads"),
        "RATELIMIT_ENABLED": False, "SLA_INLINE_SWEEP": False, "PASSWORD_HASH": FAST_HASH,
        "MAIL_IN_MAILDIR": None, "MAIL_IN_LOOP_LIMIT": 1_000_000,
    })
    try:
        with app.app_context():
            upgrade(directory=str(ROOT / "migrations"))
            users, tokens, tickets = [], {}, {}
            for c in range(COMPANIES):
                create_client(f"client{c}", f"Client {c}")
                for u in range(USERS_PER_COMPANY):
                    user = create_user(email=f"user{u}@client{c}.example", password="bench-password-1",
                                       role="client", client_slug=f"client{c}")
                    users.append(user.email)
                    tokens[user.email] = issue_token(user, "bench")[1]
                    ticket = file_ticket(Actor(user), subject=f"Existing issue of {user.email}",
                                         description="The terminal restarts.\nEvery hour.", category="question")
                    tickets[user.email] = {"id": ticket.id, "subject": ticket.subject,
                                           "description": ticket.description,
                                           "thread": thread_id(f"ticket-{ticket.id}")}
            db.session.commit()
            yield app, users, tokens, tickets
            db.session.remove()
            db.engine.dispose()
    finally:
        if made is not None:
            made.close()


def run_api(app: Any, work: list[dict[str, Any]], tokens: dict[str, str], tickets: dict[str, Any]) -> float:
    client = app.test_client()
    started = time.perf_counter()
    for item in work:
        headers = {"Authorization": f"Bearer {tokens[item['sender']]}"}
        if item["kind"] == "reply":
            response = client.post(f"/api/v1/tickets/{tickets[item['sender']]['id']}/replies",
                                   json={"body": item["body"]}, headers=headers)
        else:
            response = client.post("/api/v1/tickets", headers=headers, json={
                "subject": item["subject"], "description": item["body"], "category": "question"})
        assert response.status_code == 201, response.get_data(as_text=True)
        response.close()
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000, help="messages (and API calls); default 10,000")
    parser.add_argument("--database-url", help="PostgreSQL server URL (default: SQLite files)")
    args = parser.parse_args()

    from helpdesk.extensions import db
    from tests.inbound.support import Dovecot
    from tickets.inbound.imap import ImapSource
    from tickets.inbound.poll import poll_source
    from tickets.inbound.transport import parse_imap_url

    database = "PostgreSQL" if args.database_url else "SQLite"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with fresh_app(args.database_url, folder, "api") as (app, users, tokens, tickets):
            work = plan(args.messages, users)
            api_seconds = run_api(app, work, tokens, tickets)
        new = sum(1 for item in work if item["kind"] == "new")
        print(f"API ({database}, test client in this process): {len(work)} calls ({new} tickets, "
              f"{len(work) - new} replies) in {api_seconds:.1f} s: {len(work) / api_seconds:.1f}/s")

        dovecot = Dovecot().start()
        try:
            with fresh_app(args.database_url, folder, "mail") as (app, users, _tokens, tickets):
                box = dovecot.add_user()
                filled = time.perf_counter()
                client = box.client()
                try:
                    for n, item in enumerate(work):
                        client.append("INBOX", as_mail(item, tickets[item["sender"]], n))
                finally:
                    client.logout()
                print(f"Dovecot mailbox filled with {len(work)} messages in {time.perf_counter() - filled:.1f} s")
                started = time.perf_counter()
                with ImapSource(parse_imap_url(box.url())) as source:
                    result = poll_source(source)
                mail_seconds = time.perf_counter() - started
                db.session.remove()
                left, processed = box.count("INBOX"), box.count("Processed")
        finally:
            dovecot.stop()
    print(f"Mail ({database}, Dovecot + poller in this process): {result.summary()}")
    print(f"  {result.received} messages in {mail_seconds:.1f} s: {result.received / mail_seconds:.1f}/s; "
          f"inbox left {left}, processed folder {processed}")
    expected = {"ticket_created": new, "reply_added": len(work) - new}
    if dict(result.outcomes) != expected or left or processed != len(work):
        print(f"FAIL: expected {expected}, every message processed; got {dict(result.outcomes)}")
        return 1
    ratio = (result.received / mail_seconds) / (len(work) / api_seconds)
    ok = ratio >= GOAL
    print(f"{'PASS' if ok else 'FAIL'}: mail rate / API rate = {ratio:.2f} (goal >= {GOAL})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
