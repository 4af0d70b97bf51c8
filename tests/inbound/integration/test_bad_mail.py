"""Bad mail never raises, never makes half a ticket, and leaves a clear record; the same message
received by two callers at once is filed once; only a database that is down raises, so the
message stays with the caller (the MTA or the poller) to try again. Both databases."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from helpdesk.extensions import db
from tests.inbound.support import mail
from tickets.inbound.models import InboundMessage
from tickets.inbound.receive import receive_message
from tickets.inbound.vocabulary import MailOutcome
from tickets.models import Attachment, Message, Ticket


def only_record() -> InboundMessage:
    db.session.expire_all()
    return db.session.scalars(select(InboundMessage)).one()


def assert_nothing_half_made(count_rows) -> None:
    assert count_rows(Ticket) == 0 and count_rows(Message) == 0 and count_rows(Attachment) == 0


@pytest.mark.parametrize(
    "raw",
    [
        b"\x00\xff\xfe garbage \x00 that is no message at all",
        b"",
        b"From: \r\nSubject: nobody\r\n\r\nbody\r\n",
    ],
    ids=["garbage", "empty", "empty-from"],
)
def test_unreadable_or_senderless_mail_is_recorded_as_failed(world, raw, count_rows):
    receipt = receive_message(raw)
    assert receipt.outcome == MailOutcome.FAILED and receipt.reason
    assert only_record().outcome == "failed" and only_record().reason == receipt.reason
    assert_nothing_half_made(count_rows)


def test_a_message_with_no_from_is_failed_with_the_reason(world, count_rows):
    receipt = receive_message(mail(sender=""))
    assert receipt.outcome == MailOutcome.FAILED and "no sender" in receipt.reason
    assert_nothing_half_made(count_rows)


def test_malformed_mime_still_files_what_can_be_read(world, count_rows):
    raw = (
        b"From: anna@acme.example\r\nSubject: broken\r\nMessage-ID: <broken.1@acme.example>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="never-closed"\r\n\r\n'
        b"--never-closed\r\nContent-Type: text/plain; charset=no-such-charset\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n!!!not base64!!!\r\n"
        b"--never-closed\r\nContent-Type: application/pdf; name=\"=?utf-8?q?broken?=\"\r\n"
        b"Content-Disposition: attachment; filename*=utf-8''%ZZ%ZZ\r\n\r\nnot a pdf\r\n"
    )
    receipt = receive_message(raw)
    assert receipt.outcome in (MailOutcome.TICKET_CREATED, MailOutcome.FAILED), receipt
    record = only_record()
    assert record.outcome == receipt.outcome.value and record.reason
    if receipt.outcome == MailOutcome.TICKET_CREATED:
        assert count_rows(Ticket) == 1
    else:
        assert_nothing_half_made(count_rows)


def test_a_50_mb_message_is_failed_without_being_stored(world, count_rows):
    raw = mail(attachments=[("big.zip", b"PK\x03\x04" + b"\x00" * (50 * 1024 * 1024), "application/zip")])
    receipt = receive_message(raw)
    assert receipt.outcome == MailOutcome.FAILED and "too large" in receipt.reason
    record = only_record()
    assert record.storage_key is None and record.size == len(raw) and record.sender == "anna@acme.example"
    assert_nothing_half_made(count_rows)


def test_a_subject_of_10000_characters_is_cut_to_fit(world):
    receipt = receive_message(mail(subject="Printer " * 1250))
    assert receipt.outcome == MailOutcome.TICKET_CREATED
    ticket = db.session.get(Ticket, receipt.ticket_id)
    assert len(ticket.subject) == 200 and ticket.subject.endswith("…")
    assert len(only_record().subject) <= 200


def test_a_header_line_break_in_the_subject_cannot_add_a_header(world):
    raw = (b"From: anna@acme.example\r\nSubject: =?utf-8?q?Hello=0D=0ABcc:_x@evil.example?=\r\n"
           b"Message-ID: <crlf.1@acme.example>\r\n\r\nbody\r\n")
    ticket = db.session.get(Ticket, receive_message(raw).ticket_id)
    assert "\n" not in ticket.subject and "\r" not in ticket.subject


def test_a_body_longer_than_a_description_is_shortened_and_kept_whole_as_eml(app, world):
    receipt = receive_message(mail(body="x" * (app.config["DESCRIPTION_MAX_CHARS"] + 5000)))
    ticket = db.session.get(Ticket, receipt.ticket_id)
    assert len(ticket.description) <= app.config["DESCRIPTION_MAX_CHARS"] and "Shortened" in ticket.description


def test_two_receivers_of_one_message_at_once_file_it_once(app, world, count_rows):
    raw = mail()
    outcomes: list[MailOutcome] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def receive() -> None:
        try:
            with app.app_context():
                start.wait()
                outcomes.append(receive_message(raw).outcome)
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=receive) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert sorted(outcomes) == sorted([MailOutcome.TICKET_CREATED, MailOutcome.DUPLICATE])
    assert count_rows(Ticket) == 1 and count_rows(InboundMessage) == 1


def test_a_database_that_is_down_raises_so_the_message_is_kept(app_config, tmp_path, translations):
    from app import create_app

    config = dict(app_config, SQLALCHEMY_DATABASE_URI=(
        "postgresql://postgres@127.0.0.1:1/none" if app_config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql")
        else f"sqlite:///{tmp_path / 'no-such-dir' / 'db.sqlite3'}"))
    down = create_app(config)
    with down.app_context():
        with pytest.raises(Exception) as raised:
            receive_message(mail())
        assert "OperationalError" in type(raised.value).__name__


def test_mail_import_reads_stdin_and_exits_0_on_any_recorded_outcome(app, world, count_rows):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["mail", "import", "-"], input=mail())
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ticket_created")
    again = runner.invoke(args=["mail", "import", "-"], input=b"\x00garbage")
    assert again.exit_code == 0 and again.output.startswith("failed")
    assert count_rows(Ticket) == 1


def test_mail_import_from_a_file(app, world, tmp_path):
    path = tmp_path / "one.eml"
    path.write_bytes(mail(to="bledy@vendor.example"))
    result = app.test_cli_runner().invoke(args=["mail", "import", str(path), "--mailbox", "bledy@vendor.example"])
    assert result.exit_code == 0 and result.output.startswith("ticket_created")


def test_mail_import_exits_non_zero_when_the_database_is_down(app_config, tmp_path, translations):
    from app import create_app

    config = dict(app_config, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'no-such-dir' / 'db.sqlite3'}")
    result = create_app(config).test_cli_runner().invoke(args=["mail", "import", "-"], input=mail())
    assert result.exit_code == 75, result.output
