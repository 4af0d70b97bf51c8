"""The transport's pure rules: IMAP URLs, where a message goes when done, the drop folder's settling."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tickets.inbound.transport import (
    ImapUrlError,
    destination,
    is_loopback,
    maildir_done_name,
    parse_imap_url,
    settled,
)


def test_imaps_url_is_tls_on_993_with_the_default_folders():
    s = parse_imap_url("imaps://support%40example.com:s%3Acret@mail.example.com/INBOX")
    assert (s.host, s.port, s.tls, s.starttls) == ("mail.example.com", 993, True, False)
    assert (s.username, s.password) == ("support@example.com", "s:cret")
    assert (s.folder, s.processed_folder, s.failed_folder, s.address) == ("INBOX", "Processed", "Failed", None)


def test_plain_imap_upgrades_with_starttls_except_on_loopback():
    assert parse_imap_url("imap://u:p@mail.example.com").starttls is True
    assert parse_imap_url("imap://u:p@mail.example.com").port == 143
    loop = parse_imap_url("imap://u:p@127.0.0.1:10143/")
    assert (loop.tls, loop.starttls, loop.port, loop.folder) == (False, False, 10143, "INBOX")
    assert parse_imap_url("imap://u:p@localhost/?starttls=1").starttls is True


def test_folders_and_address_from_the_query():
    s = parse_imap_url("imaps://u:p@h/Support?processed=Support.done&failed=Support.bad&address=bledy@example.com")
    assert (s.folder, s.processed_folder, s.failed_folder, s.address) == (
        "Support", "Support.done", "Support.bad", "bledy@example.com")


@pytest.mark.parametrize("url, why", [
    ("https://u:p@h/", "imaps://"),
    ("imaps:///INBOX", "no host"),
    ("imaps://h/INBOX", "no user"),
    ("imaps://u:p@h/INBOX?procesed=x", "unknown IMAP URL parameter: procesed"),
    ("imaps://u:p@h/INBOX?processed=INBOX", "three different folders"),
    ("imaps://u:p@h:99999/", "not a valid IMAP URL"),
])
def test_unusable_urls_say_why_without_the_password(url, why):
    with pytest.raises(ImapUrlError, match=why) as raised:
        parse_imap_url(url)
    assert ":p@" not in str(raised.value)


def test_settings_never_show_the_password():
    s = parse_imap_url("imaps://user:hunter2@h/")
    assert "hunter2" not in repr(s) and "hunter2" not in s.label


def test_loopback_hosts():
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"))
    assert not any(is_loopback(h) for h in ("10.0.0.1", "mail.example.com", "192.168.1.1"))


def test_only_a_failed_outcome_goes_to_the_failed_folder():
    assert destination("failed") == "failed"
    for outcome in ("ticket_created", "reply_added", "duplicate", "unrecognised", "bounce", "held_loop",
                    "auto_reply_ignored", "pending_contact", "reopened", "linked_ticket_created"):
        assert destination(outcome) == "processed"


def test_a_file_is_read_once_nobody_wrote_to_it_for_the_settle_time():
    assert settled(100.0, 101.0, 1.0)
    assert not settled(100.0, 100.5, 1.0)
    assert settled(100.0, 100.0, 0.0)


@given(st.text(alphabet=st.characters(blacklist_characters="/\x00"), min_size=1, max_size=40))
def test_done_names_carry_one_seen_flag(name):
    done = maildir_done_name(name)
    assert done.endswith(":2,S") and done.count(":2,") == 1
    assert maildir_done_name(done) == done
