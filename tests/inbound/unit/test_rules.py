"""The e-mail channel's pure decisions: automatic mail, bounces, reply matching order, loops,
reply-address tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpdesk.notifications.reply_token import read_reply_token, reply_address, sign_reply_token, token_of
from tickets.inbound import rules
from tickets.inbound.rules import Candidate

SECRET = "unit-secret"
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def classify(headers=None, *, content_type="text/plain", report_type=None, sender="anna@acme.example",
             subject="Printer"):
    return rules.classify_automatic(headers or {}, content_type=content_type, report_type=report_type,
                                    sender=sender, subject=subject)


@pytest.mark.parametrize(
    ("headers", "subject"),
    [
        ({"auto-submitted": "auto-replied"}, "Printer"),
        ({"auto-submitted": "auto-generated"}, "Printer"),
        ({"x-autoreply": "yes"}, "Printer"),
        ({"x-autorespond": "1"}, "Printer"),
        ({"precedence": "bulk"}, "Printer"),
        ({"precedence": "junk"}, "Printer"),
        ({"precedence": "list"}, "Printer"),
        ({"list-id": "<news.example>"}, "Printer"),
        ({"x-opiekun-event": "ticket.filed"}, "Printer"),
        ({}, "Out of Office: back on Monday"),
        ({}, "Automatic reply: Printer"),
        ({}, "Odpowiedź automatyczna: Drukarka"),
    ],
)
def test_machine_written_mail_is_an_auto_reply(headers, subject):
    found = classify(headers, subject=subject)
    assert found is not None and found.kind == rules.AUTO_REPLY


@pytest.mark.parametrize("headers", [{}, {"auto-submitted": "no"}, {"precedence": "normal"}])
def test_mail_a_person_wrote_is_not_automatic(headers):
    assert classify(headers, subject="Re: [OP-4] Out of paper in the office") is None


def test_a_delivery_status_report_is_a_bounce():
    found = classify(content_type="multipart/report", report_type="delivery-status", sender="MAILER-DAEMON@mx.example")
    assert found is not None and found.kind == rules.BOUNCE
    # a report that is not about delivery (a read receipt) is not a bounce
    assert classify(content_type="multipart/report", report_type="disposition-notification") is None


def test_bounced_recipients_are_the_failed_ones():
    status = (
        "Reporting-MTA: dns; mx.example\n\n"
        "Final-Recipient: rfc822; Anna@Acme.example\nAction: failed\nStatus: 5.1.1\n\n"
        "Final-Recipient: rfc822; bob@acme.example\nAction: delayed\nStatus: 4.4.1\n"
    )
    assert rules.bounced_recipients(status) == ["anna@acme.example"]
    assert rules.bounced_recipients("") == []


def candidates(**kw):
    values = {"in_reply_to": None, "references": None, "recipients": [], "subject": "", "domain": "vendor.example",
              "secret": SECRET}
    values.update(kw)
    return rules.reply_candidates(**values)


def test_reply_matching_order_headers_then_token_then_subject():
    found = candidates(
        in_reply_to="<opiekun.7.9@vendor.example>",
        references="<opiekun.ticket-3@vendor.example> <other@client.example> <opiekun.5.6@vendor.example>",
        recipients=[reply_address("support@vendor.example", 11, SECRET)],
        subject="Re: [OP-12] Printer",
    )
    assert found == [
        Candidate("sent", outbox_id=7, delivery_id=9),
        Candidate("sent", outbox_id=5, delivery_id=6),  # References newest first
        Candidate("thread", ticket_id=3),
        Candidate("token", ticket_id=11),
        Candidate("subject", ticket_id=12),
    ]


def test_ids_of_another_domain_and_forged_tokens_are_not_ours():
    forged = "support+11.aaaaaaaaaa@vendor.example"
    found = candidates(in_reply_to="<opiekun.7.9@elsewhere.example>", recipients=[forged], subject="no number")
    assert found == []


def test_a_ticket_number_out_of_range_is_ignored():
    assert candidates(subject="OP-99999999999") == []


@pytest.mark.parametrize(("earlier", "held"), [(0, False), (2, False), (3, True)])
def test_more_than_limit_messages_in_the_window_are_held(earlier, held):
    moments = [NOW - timedelta(minutes=1 + i) for i in range(earlier)]
    moments.append(NOW - timedelta(minutes=30))  # outside the window: not counted
    assert rules.held_for_loop(moments, NOW, limit=3, minutes=10) is held


@given(st.lists(st.integers(min_value=0, max_value=120), max_size=30), st.integers(1, 10), st.integers(1, 60))
def test_loop_rule_counts_only_the_window(ages, limit, minutes):
    moments = [NOW - timedelta(minutes=a, seconds=1) for a in ages]
    inside = sum(1 for a in ages if a < minutes)
    assert rules.held_for_loop(moments, NOW, limit=limit, minutes=minutes) is (inside + 1 > limit)


@given(st.integers(min_value=1, max_value=2**31 - 1))
def test_a_signed_token_reads_back_and_another_secret_refuses_it(ticket_id):
    token = sign_reply_token(ticket_id, SECRET)
    assert read_reply_token(token, SECRET) == ticket_id
    assert read_reply_token(token.upper(), SECRET) == ticket_id  # mail systems may change the case
    assert read_reply_token(token, "another-secret") is None
    other = ticket_id + 1
    assert read_reply_token(f"{other}.{token.split('.')[1]}", SECRET) is None


def test_reply_address_keeps_the_base_and_reads_back():
    address = reply_address("Support+old@vendor.example", 42, SECRET)
    assert address.startswith("Support+42.") and address.endswith("@vendor.example")
    assert read_reply_token(token_of(address), SECRET) == 42
    assert token_of("support@vendor.example") is None


def test_derived_and_stored_ids():
    assert rules.derived_message_id(b"x") == rules.derived_message_id(b"x") != rules.derived_message_id(b"y")
    assert rules.stored_message_id(" <a@b> ") == "<a@b>"
    long_id = "<" + "a" * 400 + "@b>"
    assert len(rules.stored_message_id(long_id)) <= 255
    assert rules.stored_message_id(long_id) == rules.stored_message_id(long_id)
