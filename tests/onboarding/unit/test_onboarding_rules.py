"""The onboarding rules as tables of plain examples, plus properties that hold for any date."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plans.onboarding.rules import (
    STAGES,
    check_protocol_date,
    check_stage_change,
    current_stage,
    follow_up_anchor,
    is_stalled,
    is_working_day,
    meeting_plan,
    meeting_time_allowed,
    missing_items,
    missing_prerequisites,
    next_recurring_date,
    reminder_date,
    reminder_due,
    working_day_on_or_after,
)

D = date


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (D(2026, 11, 27), True),  # Friday
        (D(2026, 11, 28), False),  # Saturday
        (D(2026, 11, 29), False),  # Sunday
        (D(2026, 11, 11), False),  # Independence Day, a Wednesday
        (D(2025, 12, 24), False),  # Christmas Eve is a holiday since 2025
        (D(2024, 12, 24), True),  # ...but was a working day before
        (D(2026, 4, 6), False),  # Easter Monday
        (D(2026, 6, 4), False),  # Corpus Christi
    ],
)
def test_working_days(day: date, working: bool) -> None:
    assert is_working_day(day) is working


@pytest.mark.parametrize(
    ("meeting", "reminder"),
    [
        (D(2026, 12, 2), D(2026, 12, 1)),  # Wednesday -> Tuesday
        (D(2026, 11, 30), D(2026, 11, 27)),  # Monday -> Friday before
        (D(2026, 11, 12), D(2026, 11, 10)),  # Thursday after Independence Day -> Tuesday
        (D(2026, 12, 28), D(2026, 12, 23)),  # Monday after Christmas -> Wednesday 23rd
        (D(2027, 1, 7), D(2027, 1, 5)),  # Thursday after Epiphany -> Tuesday
        (D(2026, 4, 7), D(2026, 4, 3)),  # Tuesday after Easter Monday -> Good Friday (working)
        (D(2026, 11, 28), D(2026, 11, 27)),  # a Saturday meeting: reminded on Friday
    ],
)
def test_reminder_is_the_working_day_before(meeting: date, reminder: date) -> None:
    assert reminder_date(meeting) == reminder


@pytest.mark.parametrize(
    ("meeting", "today", "due"),
    [
        (D(2026, 11, 30), D(2026, 11, 27), True),  # Friday for Monday
        (D(2026, 11, 30), D(2026, 11, 26), False),  # too early
        (D(2026, 11, 30), D(2026, 11, 28), True),  # missed Friday's run: Saturday catches up
        (D(2026, 11, 30), D(2026, 11, 30), False),  # the day itself: too late
        (D(2026, 11, 30), D(2026, 12, 1), False),
    ],
)
def test_reminder_due(meeting: date, today: date, due: bool) -> None:
    assert reminder_due(meeting, today) is due


def test_custom_closed_days_replace_the_holidays() -> None:
    assert is_working_day(D(2026, 11, 11), closed=set())
    assert reminder_date(D(2026, 12, 2), closed={D(2026, 12, 1)}) == D(2026, 11, 30)


@pytest.mark.parametrize(
    ("training", "today", "follow_up", "recurring"),
    [
        # Tuesday training: follow-up the next Tuesday, then every other Tuesday.
        (D(2026, 11, 3), D(2026, 11, 3), D(2026, 11, 10), (D(2026, 11, 24), D(2026, 12, 8))),
        # Follow-up would fall on Independence Day: it moves to Thursday 12th; the series stays
        # anchored on the 11th (25 Nov, 9 Dec).
        (D(2026, 11, 4), D(2026, 11, 4), D(2026, 11, 12), (D(2026, 11, 25), D(2026, 12, 9))),
        # A recurring date on Christmas Eve moves to Monday 28th.
        (D(2026, 12, 3), D(2026, 12, 3), D(2026, 12, 10), (D(2026, 12, 28), D(2027, 1, 7))),
        # Training recorded late: the follow-up goes to the first working day from today.
        (D(2026, 11, 2), D(2026, 11, 20), D(2026, 11, 20), (D(2026, 11, 23), D(2026, 12, 7))),
    ],
)
def test_meeting_plan(training: date, today: date, follow_up: date, recurring: tuple[date, ...]) -> None:
    plan = meeting_plan(training, today, recurring_count=2)
    assert plan.follow_up == follow_up
    assert plan.recurring == recurring


def test_next_recurring_date_follows_the_rhythm() -> None:
    training = D(2026, 11, 3)  # anchor 10 Nov; rhythm 24 Nov, 8 Dec, 22 Dec, 5 Jan ...
    assert next_recurring_date(training, D(2026, 11, 10)) == D(2026, 11, 24)
    assert next_recurring_date(training, D(2026, 11, 24)) == D(2026, 12, 8)
    assert next_recurring_date(training, D(2026, 12, 9)) == D(2026, 12, 22)
    assert next_recurring_date(training, D(2026, 1, 1)) == D(2026, 11, 24)


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        ({}, "kickoff"),
        ({"kickoff": "done"}, "configuration"),
        ({"kickoff": "done", "configuration": "in_progress"}, "configuration"),
        ({s: "done" for s in STAGES[:4]}, "follow_up"),
        ({s: "done" for s in STAGES}, None),
        # Out of order: the first stage not done is current.
        ({"kickoff": "done", "training": "done"}, "configuration"),
    ],
)
def test_current_stage(states: dict[str, str], expected: str | None) -> None:
    assert current_stage(states) == expected


def test_prerequisites_form_the_seed_order() -> None:
    assert missing_prerequisites("kickoff", {}) == ()
    assert missing_prerequisites("training", {"kickoff": "done"}) == ("configuration",)
    assert missing_prerequisites("follow_up", {"training": "done"}) == ()  # not after protocol
    with pytest.raises(ValueError):
        missing_prerequisites("lunch", {})


TODAY = D(2026, 11, 27)


@pytest.mark.parametrize(
    ("stage", "to", "states", "actual", "reason", "problems"),
    [
        ("kickoff", "done", {}, TODAY, "", ()),
        ("kickoff", "done", {}, None, "", ("actual_date_required",)),
        ("kickoff", "done", {}, TODAY + timedelta(days=1), "", ("actual_date_in_future",)),
        ("training", "done", {"kickoff": "done"}, TODAY, "", ("reason_required",)),
        ("training", "done", {"kickoff": "done"}, TODAY, "   ", ("reason_required",)),
        ("training", "done", {"kickoff": "done"}, TODAY, "client insisted", ()),
        ("configuration", "in_progress", {"kickoff": "done"}, None, "", ()),
        ("configuration", "in_progress", {}, None, "", ("reason_required",)),
        ("kickoff", "done", {"kickoff": "done"}, TODAY, "", ("already_done",)),
        ("kickoff", "pending", {}, None, "", ("unknown_state",)),
    ],
)
def test_check_stage_change(stage, to, states, actual, reason, problems) -> None:
    check = check_stage_change(stage, to, states, actual_on=actual, today=TODAY, reason=reason)
    assert check.problems == problems
    assert check.allowed is (not problems)


def test_out_of_order_with_a_reason_names_what_was_skipped() -> None:
    check = check_stage_change(
        "protocol", "done", {"kickoff": "done"}, actual_on=TODAY, today=TODAY, reason="signed early"
    )
    assert check.allowed and check.out_of_order == ("training",)


@pytest.mark.parametrize(
    ("signed", "training", "code"),
    [
        (TODAY, TODAY, None),
        (TODAY, TODAY - timedelta(days=3), None),
        (TODAY - timedelta(days=1), TODAY, "before_training"),
        (TODAY + timedelta(days=1), TODAY, "in_future"),
        (TODAY, None, "training_not_done"),
    ],
)
def test_protocol_date(signed: date, training: date | None, code: str | None) -> None:
    assert check_protocol_date(signed, training, TODAY) == code


def test_meeting_time_and_stall() -> None:
    now = datetime(2026, 11, 27, 12, tzinfo=UTC)
    assert meeting_time_allowed(now + timedelta(minutes=1), now)
    assert not meeting_time_allowed(now, now)
    assert not meeting_time_allowed(now - timedelta(days=1), now)
    assert is_stalled(now - timedelta(days=7), now, 7)
    assert not is_stalled(now - timedelta(days=6, hours=23), now, 7)


def test_missing_items_lists_required_incomplete_ones() -> None:
    items = [("ERP access", True, False), ("Logo", False, False), ("Forms", True, True)]
    assert missing_items(items) == ["ERP access"]


# -- properties ------------------------------------------------------------------------------

days = st.dates(min_value=D(2020, 1, 1), max_value=D(2040, 12, 31))


@given(days)
def test_reminder_is_a_working_day_strictly_before_and_close(meeting: date) -> None:
    reminder = reminder_date(meeting)
    assert is_working_day(reminder)
    assert reminder < meeting
    assert (meeting - reminder).days <= 6  # the longest closed run in Poland is short
    # No working day lies between the reminder and the meeting.
    for offset in range(1, (meeting - reminder).days):
        assert not is_working_day(reminder + timedelta(days=offset))


@given(days, st.integers(min_value=0, max_value=10))
def test_reminder_due_exactly_between_reminder_date_and_meeting(meeting: date, back: int) -> None:
    today = meeting - timedelta(days=back)
    assert reminder_due(meeting, today) is (reminder_date(meeting) <= today < meeting)


@given(days, st.integers(min_value=0, max_value=40), st.integers(min_value=0, max_value=6))
def test_meeting_plan_invariants(training: date, late: int, count: int) -> None:
    today = training + timedelta(days=late)
    plan = meeting_plan(training, today, count)
    anchor = follow_up_anchor(training)
    assert is_working_day(plan.follow_up)
    assert plan.follow_up >= max(anchor, today)
    assert len(plan.recurring) == count
    previous = plan.follow_up
    for day in plan.recurring:
        assert is_working_day(day)
        assert day > previous
        # Every recurring date sits on the two-week rhythm, moved forward at most a few days.
        shift = (day - anchor).days % 14
        assert shift <= 6
        previous = day


@given(days)
def test_working_day_on_or_after_is_the_nearest(day: date) -> None:
    found = working_day_on_or_after(day)
    assert found >= day and is_working_day(found)
    assert all(not is_working_day(day + timedelta(days=k)) for k in range((found - day).days))
