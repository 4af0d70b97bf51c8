"""Notifications without workers: inline delivery, .eml files, SMTP, languages, threads, webhooks.

Every test uses the real thing: an aiosmtpd server and an http.server receiver on loopback.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from helpdesk.extensions import db
from helpdesk.notifications import TICKET_FILED, notify, recipient_for
from helpdesk.notifications.models import Delivery, OutboxEntry
from helpdesk.notifications.webhooks import ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from tests.notifications.support import WebhookReceiver, webhook_json
from tickets import access, services
from tickets.services import Actor


def file_ticket(user: Any, subject: str = "Label printer stopped") -> Any:
    return services.file_ticket(Actor(user), subject=subject, description="Nothing prints since 9:00.",
                                category="bug", priority="high")


def entries() -> list[OutboxEntry]:
    return list(db.session.scalars(select(OutboxEntry).order_by(OutboxEntry.id)))


def deliveries() -> list[Delivery]:
    return list(db.session.scalars(select(Delivery).order_by(Delivery.id)))


def test_by_default_notices_are_written_as_eml_files_right_after_the_commit(app, world, login, web):
    login(world.acme_user)
    response = web.post("/portal/tickets/new", data={"subject": "Orders do not sync", "description": "Since Monday.",
                                                     "category": "bug", "priority": "normal"})
    assert response.status_code == 302
    files = sorted(Path(app.config["MAIL_OUTBOX_DIR"]).glob("*.eml"))
    # the client's receipt and a new-ticket notice to each of the two agents
    assert len(files) == 3
    [entry] = entries()
    assert entry.event == TICKET_FILED and entry.state == "done"
    assert {d.state for d in deliveries()} == {"sent"}
    import email
    from email.policy import default

    messages = {m["To"]: m for m in (email.message_from_bytes(f.read_bytes(), policy=default) for f in files)}
    receipt = next(m for to, m in messages.items() if "anna@acme.example" in to)
    assert "We have received your ticket" in receipt["Subject"]
    assert receipt.get_body(("plain",)).get_content().count("Orders do not sync") == 1
    assert "<html" in receipt.get_body(("html",)).get_content()
    staff = next(m for to, m in messages.items() if "agent@vendor.example" in to)
    assert "New ticket from ACME Logistics" in staff["Subject"]
    assert "Since Monday." in staff.get_body(("plain",)).get_content()


def test_nothing_is_sent_for_a_change_that_was_rolled_back(app, world, sink):
    app.config["SMTP_URL"] = sink.url
    notify(TICKET_FILED, recipients=[recipient_for(world.acme_user)], values={"number": "OP-1"}, ticket_id=1)
    db.session.flush()
    db.session.rollback()
    db.session.commit()  # a later, unrelated commit relays nothing left over
    assert entries() == [] and sink.count() == 0


def test_a_delivery_run_twice_sends_once(app, world, sink):
    from helpdesk.notifications.delivery import deliver

    app.config["SMTP_URL"] = sink.url
    ticket = file_ticket(world.acme_user)
    assert sink.count() == 3
    entry_id = entries()[0].id
    for _ in range(2):
        with app.app_context():
            assert deliver(entry_id) == "nothing"
    assert sink.count() == 3
    # even when the entry is forced back to pending, the sent deliveries are not claimed again
    db.session.get(OutboxEntry, entry_id).state = "pending"
    db.session.commit()
    with app.app_context():
        assert deliver(entry_id) == "done"
    assert sink.count() == 3
    assert ticket.id == entries()[0].ticket_id


def test_a_rejected_address_fails_that_delivery_and_the_others_are_delivered(app, world, sink):
    app.config["SMTP_URL"] = sink.url
    sink.reject = {"agent@vendor.example"}
    file_ticket(world.acme_user)
    states = {d.target: d.state for d in deliveries()}
    assert states == {"anna@acme.example": "sent", "agent@vendor.example": "failed",
                      "agent2@vendor.example": "sent"}
    refused = next(d for d in deliveries() if d.state == "failed")
    assert "550" in refused.last_error and refused.attempts == 1
    assert len(sink.to("anna@acme.example")) == 1 and len(sink.to("agent2@vendor.example")) == 1
    assert entries()[0].state == "done"  # final: a refusal is not retried by itself


def test_a_polish_user_gets_polish_mail_and_an_english_one_english(app, world, sink):
    app.config["SMTP_URL"] = sink.url
    world.acme_user.language = "pl"
    db.session.commit()
    file_ticket(world.acme_user, subject="Drukarka etykiet")
    [receipt] = sink.to("anna@acme.example")
    assert receipt["Subject"].startswith("[OP-")
    assert "Otrzymaliśmy Twoje zgłoszenie" in receipt["Subject"]
    text = receipt.get_body(("plain",)).get_content()
    assert "Dzień dobry" in text and "Błąd" in text  # greeting and the category, in Polish
    assert "Otrzymaliśmy" in receipt.get_body(("html",)).get_content()
    [staff] = sink.to("agent@vendor.example")
    assert "New ticket" in staff["Subject"]


def test_mails_about_one_ticket_carry_its_thread_in_in_reply_to_and_references(app, world, sink):
    app.config["SMTP_URL"] = sink.url
    first = file_ticket(world.acme_user)
    services.add_message(Actor(world.agent), access.get_ticket(world.agent, first.id), body="Please restart it.")
    services.add_message(Actor(world.acme_user), access.get_ticket(world.acme_user, first.id), body="Done.")
    other = file_ticket(world.acme_user, subject="Another one")
    mails = sink.to("anna@acme.example")
    assert len(mails) == 3  # receipt, reply, receipt of the other ticket
    receipt, reply, other_receipt = mails
    assert "New reply" in reply["Subject"] and "Please restart it." in reply.get_body(("plain",)).get_content()
    assert reply["In-Reply-To"] == receipt["In-Reply-To"] == reply["References"]
    assert re.fullmatch(r"<opiekun\.ticket-\d+@localhost>", reply["In-Reply-To"])
    assert other_receipt["References"] != receipt["References"]
    assert str(other.id) in other_receipt["References"]
    message_ids = [m["Message-ID"] for _, m in sink.messages]
    assert len(set(message_ids)) == len(message_ids)
    assert all(re.fullmatch(r"<opiekun\.\d+\.\d+@localhost>", mid) for mid in message_ids)
    # nobody was assigned, so the client's reply told nobody; assigning tells the agent
    services.assign(Actor(world.agent2), access.get_ticket(world.agent2, first.id), world.agent.id)
    services.add_message(Actor(world.acme_user), access.get_ticket(world.acme_user, first.id), body="Again.")
    agent_mail = [m["Subject"] for m in sink.to("agent@vendor.example")]
    assert any("Assigned to you" in s for s in agent_mail) and any("The client replied" in s for s in agent_mail)
    services.change_status(Actor(world.agent), access.get_ticket(world.agent, first.id), "resolved")
    assert "resolved" in sink.to("anna@acme.example")[-1]["Subject"]


def test_users_turn_off_optional_notices_but_not_essential_ones(app, world, sink, login, web):
    app.config["SMTP_URL"] = sink.url
    login(world.agent)
    page = web.get("/preferences").get_data(as_text=True)
    assert 'value="ticket.filed"' in page and 'value="ticket.agent_replied"' not in page
    # keep only "assigned to me": new-ticket notices off
    assert web.post("/preferences/notifications", data={"receive": ["ticket.assigned"]}).status_code == 302
    login(world.acme_user)
    client_page = web.get("/preferences").get_data(as_text=True)
    assert 'value="ticket.filed"' not in client_page  # the receipt is essential for clients
    web.post("/preferences/notifications", data={"receive": []})
    file_ticket(world.acme_user)
    assert len(sink.to("anna@acme.example")) == 1  # still gets the receipt
    assert sink.to("agent@vendor.example") == []
    assert len(sink.to("agent2@vendor.example")) == 1


def test_onboarding_client_tickets_go_to_the_guardian_only(app, world, sink):
    from helpdesk.companies import update_client

    app.config["SMTP_URL"] = sink.url
    update_client(world.acme, name=world.acme.name, active=True, guardian_id=world.agent2.id)
    file_ticket(world.acme_user)
    assert sink.to("agent@vendor.example") == [] and len(sink.to("agent2@vendor.example")) == 1
    world.acme.phase = "production"
    db.session.commit()
    file_ticket(world.acme_user)
    assert len(sink.to("agent@vendor.example")) == 1


def test_webhooks_are_signed_and_verified_by_the_receiver(app, world, login, web):
    app.config["WEBHOOKS_ALLOW_PRIVATE"] = True
    with WebhookReceiver() as receiver:
        login(world.admin)
        response = web.post("/admin/notifications/webhooks",
                            data={"url": receiver.url, "events": ["ticket.filed", "ticket.resolved"]})
        assert response.status_code == 302, response.get_data(as_text=True)
        page = web.get("/admin/notifications/webhooks").get_data(as_text=True)
        secret = re.search(r"<code>([0-9a-f]{64})</code>", page).group(1)
        ticket = file_ticket(world.acme_user)
        [request] = receiver.requests
        headers = request["headers"]
        assert verify(secret, headers[ID_HEADER], headers[TIMESTAMP_HEADER], request["body"], headers[SIGNATURE_HEADER])
        assert not verify("wrong", headers[ID_HEADER], headers[TIMESTAMP_HEADER], request["body"],
                          headers[SIGNATURE_HEADER])
        assert not verify(secret, headers[ID_HEADER], headers[TIMESTAMP_HEADER], request["body"] + b" ",
                          headers[SIGNATURE_HEADER])
        body = webhook_json(request)
        assert body["type"] == "ticket.filed" and body["ticket_id"] == ticket.id
        assert body["id"] == headers[ID_HEADER] == f"opiekun-{entries()[0].id}"
        assert body["data"]["subject"] == "Label printer stopped"
        webhook = next(d for d in deliveries() if d.channel == "webhook")
        assert webhook.state == "sent"


def test_a_failing_webhook_is_tried_again_and_logged(app, world):
    from helpdesk.notifications.outbox import sweep
    from helpdesk.notifications.webhooks import create_endpoint

    app.config.update(WEBHOOKS_ALLOW_PRIVATE=True, NOTIFY_RETRY_INTERVALS=(0, 0))
    with WebhookReceiver() as receiver:
        receiver.fail_first = 1
        create_endpoint(receiver.url, ["ticket.filed"])
        file_ticket(world.acme_user)
        webhook = next(d for d in deliveries() if d.channel == "webhook")
        assert webhook.state == "pending" and "HTTP 500" in webhook.last_error
        assert sweep() == 1  # the embedded default retries from the sweep
        db.session.expire_all()
        webhook = next(d for d in deliveries() if d.channel == "webhook")
        assert webhook.state == "sent" and webhook.attempts == 2
        assert [r["status"] for r in receiver.requests] == [500, 200]
        assert receiver.requests[0]["headers"][ID_HEADER] == receiver.requests[1]["headers"][ID_HEADER]


@pytest.mark.parametrize(
    ("url", "events", "message"),
    [
        ("https://127.0.0.1/hook", ["ticket.filed"], "private, loopback or reserved"),
        ("https://10.1.2.3/hook", ["ticket.filed"], "private, loopback or reserved"),
        ("https://[::1]/hook", ["ticket.filed"], "private, loopback or reserved"),
        ("http://203.0.113.9/hook", ["ticket.filed"], "must start with https://"),
        ("not a url", ["ticket.filed"], "must start with https://"),
        ("https://", ["ticket.filed"], "no host name"),
        ("https://198.51.100.7:99999/x", ["ticket.filed"], "not a valid URL"),
        ("https://203.0.113.9/hook", ["ticket.exploded"], "Unsupported event type: ticket.exploded"),
        ("https://203.0.113.9/hook", [], "at least one event type"),
    ],
)
def test_bad_webhook_input_is_refused_with_a_clear_message(app, world, login, web, url, events, message):
    login(world.admin)
    response = web.post("/admin/notifications/webhooks", data={"url": url, "events": events})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert "webhook" not in [d.channel for d in deliveries()]
    from helpdesk.notifications.models import WebhookEndpoint

    assert db.session.scalars(select(WebhookEndpoint)).all() == []


def test_private_addresses_are_allowed_only_with_the_setting(app, world, login, web):
    login(world.admin)
    assert web.post("/admin/notifications/webhooks",
                    data={"url": "http://127.0.0.1:9/hook", "events": ["ticket.filed"]}).status_code == 422
    app.config["WEBHOOKS_ALLOW_PRIVATE"] = True
    assert web.post("/admin/notifications/webhooks",
                    data={"url": "http://127.0.0.1:9/hook", "events": ["ticket.filed"]}).status_code == 302


def test_a_dead_notification_is_shown_to_admins_and_retried_with_a_csrf_protected_button(app, world, sink, login, web):
    closed = f"smtp://127.0.0.1:{_closed_port()}"
    app.config.update(SMTP_URL=closed, NOTIFY_RETRY_INTERVALS=(), WTF_CSRF_ENABLED=True)
    notify(TICKET_FILED, recipients=[recipient_for(world.acme_user)], values={"number": "OP-7", "subject": "X"},
           ticket_id=7)
    db.session.commit()
    [entry] = entries()
    assert entry.state == "dead"
    login_page = web.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login_page) or re.search(
        r'name="csrf_token" value="([^"]+)"', login_page)
    web.post("/login", data={"email": world.admin.email, "password": "correct horse battery",
                             "csrf_token": token.group(1)})
    page = web.get("/admin/notifications/").get_data(as_text=True)
    assert f'id="dead-{entry.id}"' in page and "SMTP error" in page and "Retry" in page
    assert web.post("/admin/notifications/retry", data={"entry_id": entry.id}).status_code == 400  # no CSRF token
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    app.config["SMTP_URL"] = sink.url
    response = web.post("/admin/notifications/retry", data={"entry_id": entry.id, "csrf_token": token})
    assert response.status_code == 302
    db.session.expire_all()
    assert entries()[0].state == "done" and len(sink.to("anna@acme.example")) == 1


def test_the_admin_page_shows_queue_depth_and_workers_alive(app, world, login, web, redis_url):
    app.config["REDIS_URL"] = redis_url
    file_ticket(world.acme_user)  # enqueued; no worker runs here
    from helpdesk.jobs import make_worker

    worker = make_worker(app, fork=False)
    worker.register_birth()
    try:
        login(world.admin)
        page = web.get("/admin/notifications/").get_data(as_text=True)
        assert re.search(r'id="queued">1<', page) and re.search(r'id="workers">1<', page)
        assert worker.name in page
    finally:
        worker.register_death()


def _closed_port() -> int:
    from tests.notifications.support import free_port

    return free_port()


# The values each caller passes (tickets/notices.py, tickets/sla/refresh.py, plans/services.py,
# plans/onboarding/), so a template that breaks on them fails here rather than in a worker.
CALLER_VALUES = {
    "ticket.filed": {"number": "OP-1", "subject": "S", "client": "ACME", "category": "bug", "priority": "high",
                     "requester": "Anna", "description": "D", "coverage": "bug_fix",
                     "first_response_due": "2026-12-01T10:00:00+00:00"},
    "ticket.agent_replied": {"number": "OP-1", "subject": "S", "author": "Agnes", "body": "B"},
    "ticket.client_replied": {"number": "OP-1", "subject": "S", "client": "ACME", "author": "Anna", "body": "B"},
    "ticket.assigned": {"number": "OP-1", "subject": "S", "client": "ACME", "category": "question",
                        "priority": "low", "assigned_by": "Artur"},
    "ticket.mentioned": {"number": "OP-1", "subject": "S", "client": "ACME", "category": "bug", "priority": "high",
                         "author": "Agnes", "body": "@artur have a look"},
    "ticket.resolved": {"number": "OP-1", "subject": "S", "reopen_days": 14, "rating_link": "/rate/token"},
    "ticket.rated_low": {"number": "OP-1", "subject": "S", "client": "ACME", "score": 2, "comment": "Slow"},
    "sla.warning": {"ticket_id": 1, "number": "OP-1", "subject": "S", "priority": "high", "clock": "first_response",
                    "instant": "2026-12-01T10:00:00+00:00"},
    "sla.breached": {"ticket_id": 1, "number": "OP-1", "subject": "S", "priority": "high", "clock": "resolution",
                     "instant": "2026-12-01T10:00:00+00:00"},
    "approval.needed": {"client": "ACME", "ticket_id": 1, "period": "2026-11", "source": "support_plan",
                        "reason": {"msgid": "Not covered", "params": {}}},
    "allowance.warning": {"client": "ACME", "ticket_id": 1, "period": "2026-11", "source": "support_plan",
                          "reason": {"msgid": "Support plan", "params": {}}},
    "allowance.exhausted": {"client": "ACME", "ticket_id": 1, "period": "2026-11", "source": "support_plan",
                            "reason": "The plan's overage policy applies."},
    "onboarding.meeting_reminder": {"client": "ACME", "kind": "kickoff", "starts_at": "2026-12-02T09:00:00+00:00",
                                    "duration_minutes": 60, "location": "Online"},
    "account.password_reset": {"link": "/password/reset/token"},
    "account.invitation": {"link": "/invitation/token", "client": "ACME", "inviter": "Boss",
                           "expires_at": "2026-12-08T10:00:00+00:00"},
}


@pytest.mark.parametrize("language", ["en", "pl"])
@pytest.mark.parametrize("event", sorted(CALLER_VALUES))
def test_every_event_renders_with_its_callers_values(app, event, language):
    from helpdesk.notifications import EVENT_TYPES
    from helpdesk.notifications.mail import render

    assert set(CALLER_VALUES) == set(EVENT_TYPES)
    for role in ("client", "agent"):
        recipient = {"email": "x@example.com", "name": "X", "language": language, "role": role,
                     "timezone": "Europe/Warsaw"}
        mail = render(event, recipient, CALLER_VALUES[event], 1)
        assert mail.subject and "—" not in mail.subject, (event, role, mail.subject)
        assert "—" not in mail.text, (event, role, mail.text)
        assert "<html" in mail.html
    if language == "pl" and event == "sla.breached":
        assert "przekroczyło" in mail.text
