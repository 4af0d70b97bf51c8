"""A notice's bytes: `mail.message_bytes` writes exactly what the email package's generator writes.

It skips re-folding the headers that need no folding and gives the parts a boundary instead of a
random one checked by a regular expression; the bytes (files and SMTP alike) must not change.
"""

from __future__ import annotations

from email import message_from_bytes

import pytest
from flask import Flask
from hypothesis import given
from hypothesis import strategies as st

from helpdesk.notifications import mail


@pytest.fixture(scope="module")
def context():
    app = Flask(__name__)
    app.config.update(MAIL_FROM="Opiekun <helpdesk@opiekun.example>", SECRET_KEY="test", MAIL_IN_ADDRESS="")
    with app.app_context():
        yield


def _message(subject: str, name: str, text: str, ticket_id: int | None = 7):
    return mail.build_message(mail.Mail(subject, text, f"<p>{text}</p>"), to="anna@acme.example", name=name,
                              msg_id=mail.message_id(12, 34), thread="t-9", event="ticket_filed", ticket_id=ticket_id)


one_line = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), max_size=160)


@given(subject=one_line, name=one_line, text=st.text(max_size=300))
def test_the_bytes_are_the_email_packages_for_files_and_smtp(context, subject, name, text):
    message = _message(subject, name, text)
    assert mail.message_bytes(message) == message.as_bytes()
    assert mail.message_bytes(message, mail._SMTP_POLICY) == message.as_bytes(policy=mail._SMTP_POLICY)


@pytest.mark.parametrize("subject", ["Labels print blank", "x" * 120, "Zażółć gęślą jaźń", "a  b\tc ,; d"])
def test_short_long_and_non_ascii_headers_alike(context, subject):
    message = _message(subject, "Anna Nowak", "Since 9:00 every label is blank = still.", ticket_id=None)
    assert mail.message_bytes(message) == message.as_bytes()


def test_the_boundary_is_fixed_and_never_inside_a_quoted_printable_part(context):
    text = "==============opiekun.12.34== and --===============opiekun.12.34=="
    written = mail.message_bytes(_message("Boundary", "", text))
    assert b'boundary="===============opiekun.12.34=="' in written
    parsed = message_from_bytes(written)
    parts = parsed.get_payload()
    assert len(parts) == 2
    assert parts[0].get_payload(decode=True).decode() == text


@given(subject=st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=300),
       name=st.sampled_from(["Subject", "To", "X-A-Much-Longer-Header-Name"]), width=st.integers(20, 200))
def test_a_non_ascii_header_is_cut_into_the_same_encoded_words_as_the_email_package_does(subject, name, width):
    """The one-pass cutting (`_QuotedPrintableUtf8`) against the email package's own, character by
    character, for any text, header name and line width."""
    from email.charset import QP, Charset
    from email.header import Header

    theirs = Charset("utf-8")
    theirs.header_encoding = theirs.body_encoding = QP
    ours = Header(subject, mail._UTF8_QP, header_name=name, maxlinelen=width).encode()
    assert ours == Header(subject, theirs, header_name=name, maxlinelen=width).encode()
    assert ours == Header(subject, mail._UTF8_QP, header_name=name, maxlinelen=width).encode(linesep="\n")
