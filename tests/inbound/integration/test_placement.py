"""Where each kind of message lands, and the record that says why: replies by every route,
reopening, closed tickets, forged senders, unknown senders, automatic mail, bounces, loops,
charsets, HTML-only mail and attachments. Real database (both), real embedded mail transport."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from helpdesk.clock import utcnow
from helpdesk.extensions import db
from helpdesk.notifications.mail import reply_to as reply_address_of
from helpdesk.notifications.models import OutboxEntry
from tests.inbound.support import mail, reply_to, sent_mail
from tickets import services
from tickets.inbound.models import ClientEmailDomain, InboundMessage
from tickets.inbound.receive import receive_message
from tickets.inbound.vocabulary import MailOutcome
from tickets.models import Attachment, Message, Ticket, TicketEvent
from tickets.services import Actor


@pytest.fixture
def outbox(app) -> Path:
    return Path(app.config["MAIL_OUTBOX_DIR"])


@pytest.fixture
def filed(world, make_ticket):
    return make_ticket(world.acme_user)


def messages_of(ticket_id: int) -> list[Message]:
    db.session.expire_all()
    return list(db.session.scalars(select(Message).where(Message.ticket_id == ticket_id).order_by(Message.id)))


def test_a_reply_to_the_signed_reply_address_finds_its_ticket(world, filed):
    raw = mail(to=reply_address_of(filed.id), subject="About my printer", body="Still blank.")
    receipt = receive_message(raw)
    assert receipt.outcome == MailOutcome.REPLY_ADDED and receipt.ticket_id == filed.id
    assert "reply address" in receipt.reason
    assert messages_of(filed.id)[0].body == "Still blank."


def test_a_forged_reply_address_matches_nothing(world, filed, count_rows):
    raw = mail(to=f"helpdesk+{filed.id}.aaaaaaaaaa@localhost", subject="About my printer")
    receipt = receive_message(raw)
    assert receipt.outcome == MailOutcome.TICKET_CREATED and receipt.ticket_id != filed.id


def test_the_ticket_number_in_the_subject_finds_its_ticket(world, filed):
    receipt = receive_message(mail(subject=f"Re: [{filed.number}] Printer", body="More details."))
    assert receipt.outcome == MailOutcome.REPLY_ADDED and receipt.ticket_id == filed.id
    assert "subject" in receipt.reason


def test_a_colleague_who_may_not_see_the_ticket_is_refused(world, filed, count_rows):
    # bob is of the same company but not a client admin: he sees only his own tickets
    receipt = receive_message(mail(sender="bob@acme.example", subject=f"Re: [{filed.number}] Printer"))
    assert receipt.outcome == MailOutcome.UNRECOGNISED and "may not see" in receipt.reason
    assert messages_of(filed.id) == []


def test_a_forged_from_of_another_company_replying_to_a_third_company_is_refused(world, count_rows, make_ticket):
    from helpdesk.accounts import create_user
    from helpdesk.companies import create_client

    create_client("initech", "Initech")
    third = create_user(email="peter@initech.example", password="correct horse battery staple", role="client",
                        client_slug="initech")
    ticket = make_ticket(third)
    receipt = receive_message(mail(sender="gina@globex.example", subject=f"Re: [{ticket.number}] Printer",
                                   body="Please close this and delete the data."))
    assert receipt.outcome == MailOutcome.UNRECOGNISED, receipt
    assert messages_of(ticket.id) == [] and count_rows(Ticket) == 1
    record = db.session.scalars(select(InboundMessage)).one()
    assert record.ticket_id is None and record.storage_key is not None and "gina@globex.example" in record.reason


def test_an_agent_reply_by_mail_is_a_public_reply(world, filed, outbox):
    receipt = receive_message(mail(sender="agent@vendor.example", subject=f"Re: [{filed.number}] Printer",
                                   body="Please restart the printer."))
    assert receipt.outcome == MailOutcome.REPLY_ADDED and "staff" in receipt.reason
    message = messages_of(filed.id)[0]
    assert not message.internal and message.via == "email"
    db.session.expire_all()
    assert db.session.get(Ticket, filed.id).status == "open"
    assert any("Please restart" in m.get_body(("plain",)).get_content() for m in sent_mail(outbox, "anna@acme.example"))


def test_a_reply_to_a_resolved_ticket_reopens_it(world, filed):
    services.change_status(Actor(world.agent), filed, "resolved")
    receipt = receive_message(mail(subject=f"Re: [{filed.number}] Printer", body="It is back."))
    assert receipt.outcome == MailOutcome.REOPENED
    db.session.expire_all()
    ticket = db.session.get(Ticket, filed.id)
    assert ticket.status == "open" and ticket.resolved_at is None


def test_a_reply_to_a_closed_ticket_opens_a_new_linked_one(world, filed, count_rows):
    services.change_status(Actor(world.agent), filed, "closed")
    receipt = receive_message(mail(subject=f"Re: [{filed.number}] Printer", body="It broke again."))
    assert receipt.outcome == MailOutcome.LINKED_TICKET_CREATED
    assert receipt.ticket_id != filed.id and count_rows(Ticket) == 2
    new = db.session.get(Ticket, receipt.ticket_id)
    assert filed.number in new.description and new.category == filed.category
    links = db.session.scalars(select(TicketEvent).where(TicketEvent.kind == "linked")).all()
    assert {(e.ticket_id, tuple(e.data.items())) for e in links} == {
        (new.id, (("follows", filed.id),)), (filed.id, (("followed_by", new.id),))}
    assert db.session.get(Ticket, filed.id).status == "closed"


def test_a_reply_to_a_ticket_resolved_too_long_ago_opens_a_new_linked_one(world, filed, clock):
    services.change_status(Actor(world.agent), filed, "resolved")
    later = utcnow() + timedelta(days=30)
    receipt = receive_message(mail(subject=f"Re: [{filed.number}] Printer"), now=later)
    assert receipt.outcome == MailOutcome.LINKED_TICKET_CREATED


def test_an_unknown_sender_of_a_client_domain_becomes_a_pending_contact(world, outbox, count_rows):
    db.session.add(ClientEmailDomain(client_id=world.acme.id, domain="acme.example"))
    db.session.commit()
    receipt = receive_message(mail(sender="Nowak <new.person@acme.example>"))
    assert receipt.outcome == MailOutcome.PENDING_CONTACT and "ACME Logistics" in receipt.reason
    record = db.session.scalars(select(InboundMessage)).one()
    assert record.client_id == world.acme.id and record.storage_key
    assert count_rows(Ticket) == 0 and sent_mail(outbox, "new.person@acme.example") == []


def test_any_other_unknown_sender_is_unrecognised_and_gets_no_reply(world, outbox, count_rows):
    receipt = receive_message(mail(sender="stranger@nowhere.example"))
    assert receipt.outcome == MailOutcome.UNRECOGNISED and "no client's e-mail domain" in receipt.reason
    assert count_rows(Ticket) == 0 and count_rows(OutboxEntry) == 0
    assert sent_mail(outbox, "stranger@nowhere.example") == []


def test_an_out_of_office_answer_to_our_notice_makes_nothing(world, filed, outbox, count_rows):
    notice = sent_mail(outbox, "anna@acme.example")[-1]
    before = count_rows(OutboxEntry)
    raw = reply_to(notice, sender="anna@acme.example", body="I am out of the office until Monday.",
                   headers={"Auto-Submitted": "auto-replied", "X-Autoreply": "yes"})
    receipt = receive_message(raw)
    assert receipt.outcome == MailOutcome.AUTO_REPLY_IGNORED and "Auto-Submitted" in receipt.reason
    assert messages_of(filed.id) == [] and count_rows(OutboxEntry) == before


@pytest.mark.parametrize("headers", [{"Precedence": "bulk"}, {"List-Id": "<news.acme.example>"}])
def test_bulk_mail_makes_nothing(world, headers, count_rows):
    assert receive_message(mail(headers=headers)).outcome == MailOutcome.AUTO_REPLY_IGNORED
    assert count_rows(Ticket) == 0


def dsn(recipient: str) -> bytes:
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.acme.example>\r\n"
        "To: helpdesk@localhost\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <bounce.1@mx.acme.example>\r\nAuto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"\r\n\r\n'
        "--b1\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n"
        "--b1\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.acme.example\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
        "--b1--\r\n"
    ).encode()


def test_a_bounce_marks_the_address_undeliverable_and_mail_skips_it(world, filed, outbox, count_rows):
    before = len(sent_mail(outbox, "anna@acme.example"))
    receipt = receive_message(dsn("anna@acme.example"))
    assert receipt.outcome == MailOutcome.BOUNCE and "anna@acme.example" in receipt.reason
    db.session.expire_all()
    anna = db.session.get(type(world.acme_user), world.acme_user.id)
    assert anna.email_undeliverable_at is not None
    services.add_message(Actor(world.agent), db.session.get(Ticket, filed.id), body="Any news?")
    assert len(sent_mail(outbox, "anna@acme.example")) == before  # skipped
    assert count_rows(Ticket) == 1


def test_a_sender_writing_too_often_is_held(app, world, count_rows):
    app.config.update(MAIL_IN_LOOP_LIMIT=3, MAIL_IN_LOOP_MINUTES=10)
    now = utcnow()
    outcomes = [receive_message(mail(subject=f"Loop {i}"), now=now + timedelta(seconds=i)).outcome for i in range(5)]
    assert outcomes[:3] == [MailOutcome.TICKET_CREATED] * 3
    assert outcomes[3:] == [MailOutcome.HELD_LOOP] * 2
    assert count_rows(Ticket) == 3
    later = receive_message(mail(subject="Much later"), now=now + timedelta(minutes=30))
    assert later.outcome == MailOutcome.TICKET_CREATED


def test_polish_charsets_and_encoded_words_read_correctly(world):
    raw = (
        b"From: =?iso-8859-2?Q?Anna_=A3ukasik?= <anna@acme.example>\r\n"
        b"To: support@vendor.example\r\n"
        b"Subject: =?windows-1250?Q?Drukarka_nie_dzia=B3a_=9Cwietnie?=\r\n"
        b"Message-ID: <pl.1@acme.example>\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=iso-8859-2\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    ) + "Zażółć gęślą jaźń.\r\n".encode("iso-8859-2")
    receipt = receive_message(raw)
    ticket = db.session.get(Ticket, receipt.ticket_id)
    assert ticket.subject == "Drukarka nie działa świetnie"
    assert ticket.description == "Zażółć gęślą jaźń."


def test_windows_1250_body(world):
    raw = (
        b"From: anna@acme.example\r\nSubject: Faktura\r\nMessage-ID: <pl.2@acme.example>\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=windows-1250\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    ) + "Źle naliczona kwota – proszę o korektę.\r\n".encode("windows-1250")
    ticket = db.session.get(Ticket, receive_message(raw).ticket_id)
    assert ticket.description == "Źle naliczona kwota – proszę o korektę."


def test_html_only_mail_in_nested_alternative_becomes_safe_text(world):
    raw = (
        b"From: anna@acme.example\r\nSubject: HTML only\r\nMessage-ID: <html.1@acme.example>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="outer"\r\n\r\n'
        b'--outer\r\nContent-Type: multipart/alternative; boundary="inner"\r\n\r\n'
        b"--inner\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        b"<html><head><style>p{color:red}</style><script>alert('x')</script></head>"
        b"<body><p>Printer <b>offline</b> &amp; blinking</p><p>Second line<br>third</p>"
        b"<img src=x onerror=alert(1)></body></html>\r\n"
        b"--inner--\r\n--outer--\r\n"
    )
    ticket = db.session.get(Ticket, receive_message(raw).ticket_id)
    assert ticket.description == "Printer offline & blinking\nSecond line\nthird"
    assert "<" not in ticket.description and "alert" not in ticket.description


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64


def test_attachments_pass_the_upload_checks_and_refused_ones_are_noted(world, count_rows):
    raw = mail(attachments=[("screen.png", PNG, "image/png"), ("setup.exe", b"MZ\x90\x00" + b"\x00" * 200,
                                                                "application/octet-stream")])
    receipt = receive_message(raw)
    assert receipt.outcome == MailOutcome.TICKET_CREATED and "1 attachment(s) refused" in receipt.reason
    ticket = db.session.get(Ticket, receipt.ticket_id)
    files = db.session.scalars(select(Attachment).where(Attachment.ticket_id == ticket.id)
                               .order_by(Attachment.id)).all()
    assert [(f.filename, f.internal) for f in files][0] == ("screen.png", False)
    assert len(files) == 2 and files[1].content_type == "message/rfc822"
    assert "Attachments not accepted:" in ticket.description and "setup.exe" in ticket.description


def test_quoted_text_and_signature_are_stripped_in_polish(world, filed):
    body = ("Dziękuję, już działa.\n\nPozdrawiam\nAnna\n\n"
            "W dniu pon., 1 gru 2026 o 10:00 Opiekun <helpdesk@localhost> napisał(a):\n> stara treść\n")
    receive_message(mail(subject=f"Re: [{filed.number}] Drukarka", body=body))
    assert messages_of(filed.id)[0].body == "Dziękuję, już działa."
