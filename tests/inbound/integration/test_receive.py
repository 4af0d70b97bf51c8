"""receive_message: a new ticket, replies matched to their ticket, and idempotence by Message-ID.

Real database (both), real embedded mail transport: the replies answer the .eml files Opiekun wrote.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from helpdesk.extensions import db
from tests.inbound.support import mail, reply_to, sent_mail
from tickets.inbound.models import InboundMailbox, InboundMessage
from tickets.inbound.receive import receive_message
from tickets.inbound.vocabulary import MailOutcome
from tickets.models import Attachment, Message, Ticket


@pytest.fixture
def outbox(app) -> Path:
    return Path(app.config["MAIL_OUTBOX_DIR"])


def test_a_client_writes_in_and_a_ticket_is_filed_with_a_receipt(world, outbox, count_rows):
    db.session.add(InboundMailbox(address="bledy@vendor.example", category="bug"))
    db.session.commit()
    receipt = receive_message(mail(to="bledy@vendor.example"), mailbox_address="bledy@vendor.example")
    assert receipt.outcome == MailOutcome.TICKET_CREATED, receipt
    ticket = db.session.get(Ticket, receipt.ticket_id)
    assert ticket.requester_id == world.acme_user.id and ticket.client_id == world.acme.id
    assert ticket.category == "bug" and ticket.category_to_confirm
    assert ticket.subject == "The label printer prints blank pages"
    assert ticket.description.startswith("Since this morning every label comes out blank.")
    assert ticket.first_response_due_at is not None or ticket.coverage_source is not None
    original = db.session.scalars(select(Attachment).where(Attachment.ticket_id == ticket.id)).one()
    assert original.internal and original.content_type == "message/rfc822"
    receipts = sent_mail(outbox, "anna@acme.example")
    assert len(receipts) == 1 and ticket.number in str(receipts[0]["Subject"])
    assert str(receipts[0]["Reply-To"]).startswith("helpdesk+")
    record = db.session.scalars(select(InboundMessage)).one()
    assert record.outcome == "ticket_created" and record.ticket_id == ticket.id and "bug" in record.reason


def test_the_same_message_twice_adds_nothing(world, count_rows):
    raw = mail()
    first = receive_message(raw)
    second = receive_message(raw)
    assert first.outcome == MailOutcome.TICKET_CREATED
    assert second.outcome == MailOutcome.DUPLICATE and second.ticket_id == first.ticket_id
    assert count_rows(Ticket) == 1 and count_rows(InboundMessage) == 1


def test_a_message_without_message_id_is_keyed_by_its_bytes(world, count_rows):
    raw = mail(message_id=None)
    first, second = receive_message(raw), receive_message(raw)
    assert first.message_id == second.message_id and first.message_id.startswith("<sha256.")
    assert second.outcome == MailOutcome.DUPLICATE and count_rows(Ticket) == 1


def test_a_reply_to_our_notification_is_added_to_its_ticket(world, outbox, count_rows):
    filed = receive_message(mail())
    receipt_mail = sent_mail(outbox, "anna@acme.example")[-1]
    answer = reply_to(receipt_mail, sender="Anna <anna@acme.example>", body="It works again after a restart.")
    receipt = receive_message(answer)
    assert receipt.outcome == MailOutcome.REPLY_ADDED, receipt
    assert receipt.ticket_id == filed.ticket_id and "message we sent" in receipt.reason
    message = db.session.scalars(select(Message).where(Message.ticket_id == filed.ticket_id)).one()
    assert message.body == "It works again after a restart."  # the quote is gone
    assert message.via == "email" and message.author_id == world.acme_user.id
    assert count_rows(Ticket) == 1
