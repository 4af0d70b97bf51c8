"""E-mail headers cannot be injected: a value with CR/LF never becomes a header line.

New values are refused where they are typed (test_one_line_fields.py); these tests are about
rows written before that check (old data): the message is not built, no header line is added,
and the delivery is given up at once (dead, with the error for an admin) instead of being retried.
Real SMTP: aiosmtpd on loopback.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import select

from helpdesk.extensions import db
from helpdesk.notifications import TICKET_FILED, notify, recipient_for
from helpdesk.notifications.models import Delivery, OutboxEntry
from tests.notifications.support import SmtpSink


def _headers_of_everything_sent(sink: SmtpSink) -> list[str]:
    with sink.lock:
        return [name.lower() for _rcpts, message in sink.messages for name in message.keys()]


def _old_row(world, *, subject: str, name: str | None = None) -> OutboxEntry:
    recipient = recipient_for(world.agent)
    if name is not None:
        recipient = replace(recipient, name=name)
    entry = notify(TICKET_FILED, recipients=[recipient],
                   values={"number": "OP-7", "subject": subject, "client": "ACME Logistics"}, ticket_id=7)
    db.session.commit()  # relayed inline (no Redis) right after the commit
    return entry


@pytest.mark.parametrize(
    ("subject", "name"),
    [
        ("Printer down\r\nBcc: eve@evil.example", None),
        ("Printer down\nBcc: eve@evil.example", None),
        ("Printer down\u2028Bcc: eve@evil.example", None),
        ("Printer down", "Agnes\r\nReply-To: eve@evil.example"),
    ],
    ids=["subject-crlf", "subject-lf", "subject-u2028", "name-crlf"],
)
def test_an_old_row_with_a_line_break_adds_no_header_and_is_dead_at_once(app, world, sink, subject, name):
    from helpdesk.notifications.delivery import deliver

    app.config["SMTP_URL"] = sink.url
    entry_id = _old_row(world, subject=subject, name=name).id
    db.session.rollback()
    [delivery] = db.session.scalars(select(Delivery).where(Delivery.outbox_id == entry_id)).all()
    assert "bcc" not in _headers_of_everything_sent(sink) and "reply-to" not in _headers_of_everything_sent(sink)
    assert sink.to("eve@evil.example") == []
    assert (delivery.state, delivery.attempts) == ("dead", 1)
    assert "cannot be built" in delivery.last_error
    assert db.session.get(OutboxEntry, entry_id).state == "dead"
    with app.app_context():
        assert deliver(entry_id) == "nothing"  # nothing left to retry
    db.session.rollback()
    assert db.session.get(Delivery, delivery.id).attempts == 1


def test_the_dead_delivery_and_its_error_are_shown_to_the_admin(app, world, sink, login, web):
    app.config["SMTP_URL"] = sink.url
    _old_row(world, subject="Printer down\r\nBcc: eve@evil.example")
    login(world.admin)
    page = web.get("/admin/notifications/").get_data(as_text=True)
    assert "cannot be built" in page


def test_a_clean_row_on_the_same_connection_is_still_sent(app, world, sink):
    app.config["SMTP_URL"] = sink.url
    _old_row(world, subject="Printer down\r\nBcc: eve@evil.example")
    _old_row(world, subject="Zażółć gęślą jaźń", name="Agnès Agent")
    [(rcpts, message)] = sink.messages
    assert rcpts == ["agent@vendor.example"]
    assert "Zażółć gęślą jaźń" in message["Subject"]
    assert message["To"].addresses[0].display_name == "Agnès Agent"
    assert message.get_body(("plain",)) is not None and message.get_body(("html",)) is not None
