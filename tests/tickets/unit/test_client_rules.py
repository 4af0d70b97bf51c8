"""The pure rules of what a client may do with a ticket: close, reopen, reply, rate."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from tickets.client_rules import (
    ReplyOutcome,
    may_close,
    may_rate,
    may_reopen,
    rating_month,
    reply_outcome,
    satisfied_share,
    valid_score,
)

PROPERTIES = settings(deadline=None, database=None)
RESOLVED = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
STATUSES = ("new", "open", "waiting_on_client", "resolved", "closed")


def test_a_client_closes_open_and_resolved_tickets_only():
    assert [s for s in STATUSES if may_close(s)] == ["new", "open", "waiting_on_client", "resolved"]


def test_the_reopen_window_is_fourteen_days_inclusive():
    assert may_reopen("resolved", RESOLVED, RESOLVED + timedelta(days=14), 14)
    assert not may_reopen("resolved", RESOLVED, RESOLVED + timedelta(days=14, seconds=1), 14)
    assert not may_reopen("closed", RESOLVED, RESOLVED, 14)
    assert not may_reopen("resolved", None, RESOLVED, 14)


def test_a_reply_joins_reopens_or_files_a_linked_ticket():
    assert reply_outcome("waiting_on_client", None, RESOLVED, 14) is ReplyOutcome.REPLY
    assert reply_outcome("resolved", RESOLVED, RESOLVED + timedelta(days=13), 14) is ReplyOutcome.REOPEN
    assert reply_outcome("resolved", RESOLVED, RESOLVED + timedelta(days=15), 14) is ReplyOutcome.NEW_LINKED
    assert reply_outcome("closed", RESOLVED, RESOLVED + timedelta(minutes=1), 14) is ReplyOutcome.NEW_LINKED


@PROPERTIES
@given(st.sampled_from(STATUSES), st.integers(min_value=0, max_value=60 * 24 * 3600), st.integers(1, 60))
def test_a_reply_never_loses_the_text_and_reopens_only_within_the_window(status, seconds, window):
    now = RESOLVED + timedelta(seconds=seconds)
    outcome = reply_outcome(status, RESOLVED, now, window)
    assert outcome in ReplyOutcome  # every reply lands somewhere
    assert (outcome is ReplyOutcome.REOPEN) == (status == "resolved" and seconds <= window * 24 * 3600)


def test_a_ticket_is_rated_once_after_resolution():
    assert [s for s in STATUSES if may_rate(s, False)] == ["resolved", "closed"]
    assert not may_rate("resolved", True)


def test_scores_are_whole_numbers_from_one_to_five():
    assert [s for s in (0, 1, 2, 3, 4, 5, 6, True, 3.0, "3", None) if valid_score(s)] == [1, 2, 3, 4, 5]


def test_the_rating_month_follows_the_wall_clock_of_the_zone():
    # 23:30 UTC on 31 January is 00:30 on 1 February in Warsaw
    assert rating_month(datetime(2026, 1, 31, 23, 30, tzinfo=UTC), "Europe/Warsaw") == date(2026, 2, 1)
    assert rating_month(datetime(2026, 1, 31, 22, 30, tzinfo=UTC), "Europe/Warsaw") == date(2026, 1, 1)


@PROPERTIES
@given(st.integers(0, 1000), st.integers(0, 1000))
def test_the_satisfied_share_is_a_fraction_of_the_count(satisfied, extra):
    share = satisfied_share(satisfied, satisfied + extra)
    assert share is None if satisfied + extra == 0 else 0 <= share <= 1
