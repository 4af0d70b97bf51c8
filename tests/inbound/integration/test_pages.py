"""The e-mail channel's pages: the agents' unrecognised list (file for a client, discard), the
client admins' pending contacts, the admins' failed list, mailboxes and domains, the queue's
"category to confirm" mark, and the bounce mark on a profile. Both databases."""

from __future__ import annotations

import html

from sqlalchemy import select

from helpdesk.accounts import User, user_by_email
from helpdesk.extensions import db
from tests.inbound.support import mail
from tickets.inbound.models import ClientEmailDomain, InboundMailbox, InboundMessage
from tickets.inbound.receive import receive_message
from tickets.inbound.vocabulary import MailOutcome
from tickets.models import Ticket


def test_agents_see_unrecognised_mail_with_the_reason_and_file_it_for_a_client(world, web, login, count_rows):
    receipt = receive_message(mail(sender="Jan Stranger <jan@nowhere.example>", subject="Cannot log in"))
    record = db.session.scalars(select(InboundMessage)).one()
    login(world.agent)
    page = html.unescape(web.get("/agent/mail").get_data(as_text=True))
    assert "jan@nowhere.example" in page and "Cannot log in" in page and receipt.reason in page
    response = web.post(f"/agent/mail/{record.id}/file", data={"client": str(world.acme.id)})
    assert response.status_code == 302
    jan = user_by_email("jan@nowhere.example")
    assert jan.client_id == world.acme.id and jan.role == "client" and jan.name == "Jan Stranger"
    ticket = db.session.scalars(select(Ticket)).one()
    assert ticket.requester_id == jan.id and ticket.subject == "Cannot log in" and ticket.category_to_confirm
    db.session.expire_all()
    record = db.session.get(InboundMessage, record.id)
    assert record.handled_action == "filed" and record.ticket_id == ticket.id and record.handled_by_id == world.agent.id
    assert "jan@nowhere.example" not in web.get("/agent/mail").get_data(as_text=True)
    # handled once: a second filing is refused, nothing more is made
    again = web.post(f"/agent/mail/{record.id}/file", data={"client": str(world.acme.id)})
    assert again.status_code == 404 and count_rows(Ticket) == 1


def test_filing_without_a_client_is_refused_with_the_list_shown(world, web, login, count_rows):
    receive_message(mail(sender="jan@nowhere.example"))
    record = db.session.scalars(select(InboundMessage)).one()
    login(world.agent)
    response = web.post(f"/agent/mail/{record.id}/file", data={"client": "999999"})
    assert response.status_code == 422 and "jan@nowhere.example" in response.get_data(as_text=True)
    assert count_rows(Ticket) == 0


def test_agents_discard_unrecognised_mail(world, web, login):
    receive_message(mail(sender="spam@nowhere.example", subject="Buy now"))
    record = db.session.scalars(select(InboundMessage)).one()
    login(world.agent)
    assert web.post(f"/agent/mail/{record.id}/discard").status_code == 302
    db.session.expire_all()
    assert db.session.get(InboundMessage, record.id).handled_action == "discarded"
    assert "Buy now" not in web.get("/agent/mail").get_data(as_text=True)
    assert "Buy now" in web.get("/agent/mail?outcome=unrecognised").get_data(as_text=True)


def test_a_record_that_waits_for_nobody_cannot_be_filed(world, web, login):
    receive_message(mail())
    record = db.session.scalars(select(InboundMessage)).one()
    login(world.agent)
    assert web.post(f"/agent/mail/{record.id}/file", data={"client": str(world.acme.id)}).status_code == 404
    assert web.get("/agent/mail?outcome=nonsense").status_code == 200


def test_clients_cannot_see_the_agents_list(world, web, login):
    login(world.acme_admin)
    assert web.get("/agent/mail").status_code in (403, 404)


def test_a_client_admin_confirms_a_pending_contact(world, web, login, count_rows):
    db.session.add(ClientEmailDomain(client_id=world.acme.id, domain="acme.example"))
    db.session.commit()
    receive_message(mail(sender="new.person@acme.example", subject="Hello from a colleague"))
    record = db.session.scalars(select(InboundMessage)).one()
    login(world.globex_admin)  # another company's admin sees nothing and cannot confirm
    assert "new.person" not in web.get("/portal/contacts").get_data(as_text=True)
    assert web.post(f"/portal/contacts/{record.id}/confirm").status_code == 404
    login(world.acme_user)  # not an admin
    assert web.get("/portal/contacts").status_code == 403
    login(world.acme_admin)
    assert "new.person@acme.example" in web.get("/portal/contacts").get_data(as_text=True)
    assert web.post(f"/portal/contacts/{record.id}/confirm").status_code == 302
    person = user_by_email("new.person@acme.example")
    assert person.client_id == world.acme.id
    assert db.session.scalars(select(Ticket)).one().requester_id == person.id


def test_admins_see_failed_mail_with_the_reason(world, web, login):
    receive_message(b"\x00 not mail")
    login(world.admin)
    page = web.get("/admin/mail/failed").get_data(as_text=True)
    assert "no sender" in page
    login(world.agent)
    assert web.get("/admin/mail/failed").status_code in (403, 404)


def test_admins_manage_mailboxes_and_the_category_follows(world, web, login):
    login(world.admin)
    bad = web.post("/admin/mail/mailboxes/new", data={"address": "not an address", "category": "bug",
                                                     "folder_inbox": "INBOX", "folder_processed": "Done",
                                                     "folder_failed": "Failed", "imap_url": "ftp://x"})
    assert bad.status_code == 422
    text = bad.get_data(as_text=True)
    assert "not an address" in text and "ftp://x" in text  # what was typed is kept
    ok = web.post("/admin/mail/mailboxes/new", data={
        "address": "Bledy@Vendor.example", "category": "bug", "active": "y", "imap_url": "imaps://mail.vendor.example",
        "imap_user": "bledy", "imap_password_ref": "BLEDY_IMAP_PASSWORD", "folder_inbox": "INBOX",
        "folder_processed": "Done", "folder_failed": "Failed"})
    assert ok.status_code == 302
    mailbox = db.session.scalars(select(InboundMailbox)).one()
    assert mailbox.address == "bledy@vendor.example" and mailbox.imap_password_ref == "BLEDY_IMAP_PASSWORD"
    assert web.post("/admin/mail/mailboxes/new", data={"address": "bledy@vendor.example", "category": "bug",
                                                      "folder_inbox": "I", "folder_processed": "P",
                                                      "folder_failed": "F"}).status_code == 409
    assert web.get(f"/admin/mail/mailboxes/{mailbox.id}").status_code == 200
    receipt = receive_message(mail(), mailbox_address="BLEDY@vendor.example")
    assert db.session.get(Ticket, receipt.ticket_id).category == "bug"
    other = receive_message(mail(subject="Unknown mailbox"), mailbox_address="elsewhere@vendor.example")
    assert db.session.get(Ticket, other.ticket_id).category == "bug"  # the first active mailbox's


def test_admins_manage_client_domains(world, web, login, count_rows):
    login(world.admin)
    assert web.post("/admin/mail/domains", data={"client": str(world.acme.id), "domain": "not a domain"}).status_code == 422
    assert web.post("/admin/mail/domains", data={"client": str(world.acme.id), "domain": "ACME.example"}).status_code == 302
    assert web.post("/admin/mail/domains", data={"client": str(world.globex.id), "domain": "acme.example"}).status_code == 409
    found = db.session.scalars(select(ClientEmailDomain)).one()
    assert found.domain == "acme.example" and "acme.example" in web.get("/admin/mail/domains").get_data(as_text=True)
    assert web.post(f"/admin/mail/domains/{found.id}/delete").status_code == 302
    assert count_rows(ClientEmailDomain) == 0


def test_the_queue_marks_a_category_to_confirm_until_an_agent_confirms_it(world, web, login):
    receipt = receive_message(mail())
    login(world.agent)
    assert "category to confirm" in web.get("/agent/queue").get_data(as_text=True)
    web.post(f"/agent/tickets/{receipt.ticket_id}/category", data={"category": "question", "reason": ""})
    db.session.expire_all()
    assert not db.session.get(Ticket, receipt.ticket_id).category_to_confirm
    assert "category to confirm" not in web.get("/agent/queue").get_data(as_text=True)


def test_a_reclassification_clears_the_mark_too(world, web, login):
    receipt = receive_message(mail())
    login(world.agent)
    web.post(f"/agent/tickets/{receipt.ticket_id}/category", data={"category": "bug", "reason": "a crash"})
    db.session.expire_all()
    ticket = db.session.get(Ticket, receipt.ticket_id)
    assert ticket.category == "bug" and not ticket.category_to_confirm


def test_a_bounced_address_is_shown_on_the_profile(world, web, login):
    from tests.inbound.integration.test_placement import dsn

    assert receive_message(dsn("anna@acme.example")).outcome == MailOutcome.BOUNCE
    login(world.acme_user)
    assert "could not be delivered" in web.get("/preferences").get_data(as_text=True)
    login(world.admin)
    assert "Undeliverable since" in web.get(f"/admin/users/{world.acme_user.id}").get_data(as_text=True)
    assert db.session.get(User, world.acme_user.id).email_undeliverable_at is not None
