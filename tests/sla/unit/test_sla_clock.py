"""SLA clocks from their history: pauses over a weekend, a change of target mid-way, facts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpdesk.calendars.arithmetic import always_open, default_calendar
from tickets.sla.clock import ClockHistory, Pause, counted_seconds, instant_after, read_clock, warning_seconds

WARSAW = ZoneInfo("Europe/Warsaw")
OFFICE = default_calendar()  # Monday to Friday 08:00-16:00 Warsaw, Polish holidays
ALWAYS = always_open("24/7", "Europe/Warsaw")
HOUR = 3600


def warsaw(*args: int) -> datetime:
    return datetime(*args, tzinfo=WARSAW)


def utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


# January 2026: Monday 12th to Friday 16th, the weekend, Monday 19th to Wednesday 21st.
MON = warsaw(2026, 1, 12, 9, 0)
FRI_10 = warsaw(2026, 1, 16, 10, 0)


@pytest.mark.parametrize(
    ("start", "minutes", "due"),
    [
        (MON, 240, warsaw(2026, 1, 12, 13, 0)),
        (warsaw(2026, 1, 16, 14, 0), 240, warsaw(2026, 1, 19, 10, 0)),  # Friday into Monday
        (warsaw(2026, 1, 16, 14, 0), 120, warsaw(2026, 1, 16, 16, 0)),  # ends at closing: due at closing
        (warsaw(2026, 1, 17, 11, 0), 60, warsaw(2026, 1, 19, 9, 0)),  # filed on Saturday
        (warsaw(2025, 12, 23, 15, 0), 120, warsaw(2025, 12, 29, 9, 0)),  # 24-26 Dec closed, weekend
    ],
)
def test_due_without_pauses_is_plain_business_time(start: datetime, minutes: int, due: datetime) -> None:
    reading = read_clock(OFFICE, ClockHistory(start), minutes, 80, now=start)
    assert reading.due_at == utc(due)
    assert reading.state == "running" and reading.outcome is None
    assert reading.remaining_seconds == minutes * 60


def test_pause_over_a_weekend_moves_the_due_by_the_business_time_paused() -> None:
    # Filed Friday 10:00 with a two-day target; waited on the client from Friday 12:00 to
    # Monday 12:00: 2 h counted, then 4 h on Friday and 4 h on Monday paused.
    pause = Pause(utc(warsaw(2026, 1, 16, 12, 0)), utc(warsaw(2026, 1, 19, 12, 0)))
    history = ClockHistory(utc(FRI_10), (pause,))
    now = utc(warsaw(2026, 1, 21, 9, 0))
    reading = read_clock(OFFICE, history, 960, 80, now)
    assert reading.due_at == utc(warsaw(2026, 1, 21, 10, 0))  # Tuesday 10:00 without the pause
    assert reading.paused_seconds == 8 * HOUR
    assert reading.elapsed_seconds == 15 * HOUR
    assert reading.remaining_seconds == HOUR
    without = read_clock(OFFICE, ClockHistory(utc(FRI_10)), 960, 80, now)
    assert without.due_at == utc(warsaw(2026, 1, 20, 10, 0))


def test_while_paused_the_due_is_unknown_and_the_time_left_stands_still() -> None:
    history = ClockHistory(utc(MON), (Pause(utc(warsaw(2026, 1, 12, 10, 0))),))
    for now in (warsaw(2026, 1, 12, 11, 0), warsaw(2026, 1, 14, 15, 0)):
        reading = read_clock(OFFICE, history, 240, 80, utc(now))
        assert (reading.state, reading.due_at) == ("paused", None)
        assert reading.remaining_seconds == 3 * HOUR
    assert reading.warning_at is None  # 80 % of 4 h is 3 h 12 min in: not reached before the pause


def test_a_pause_after_the_due_instant_does_not_move_it() -> None:
    late_pause = Pause(utc(warsaw(2026, 1, 12, 15, 0)), utc(warsaw(2026, 1, 13, 12, 0)))
    reading = read_clock(OFFICE, ClockHistory(utc(MON), (late_pause,)), 60, 80, utc(warsaw(2026, 1, 13, 13, 0)))
    assert reading.due_at == utc(warsaw(2026, 1, 12, 10, 0))
    assert reading.outcome == "breached"


def test_priority_change_mid_way_is_answered_from_the_history() -> None:
    # Filed Monday 09:00 as normal (4 h), waited on the client 09:15-09:45; at 10:00 the
    # priority changes: the new due instant counts the new target from the filing, less the pause.
    pause = Pause(utc(warsaw(2026, 1, 12, 9, 15)), utc(warsaw(2026, 1, 12, 9, 45)))
    history = ClockHistory(utc(MON), (pause,))
    now = utc(warsaw(2026, 1, 12, 10, 0))
    normal = read_clock(OFFICE, history, 240, 80, now)
    high = read_clock(OFFICE, history, 120, 80, now)
    urgent = read_clock(OFFICE, history, 30, 80, now)
    tiny = read_clock(OFFICE, history, 15, 80, now)
    assert normal.due_at == utc(warsaw(2026, 1, 12, 13, 30))
    assert high.due_at == utc(warsaw(2026, 1, 12, 11, 30))
    assert high.remaining_seconds == 90 * 60 and high.outcome is None
    assert urgent.due_at == utc(warsaw(2026, 1, 12, 10, 0)) == now  # ran out just now
    assert (urgent.outcome, urgent.remaining_seconds) == ("breached", 0)
    assert tiny.due_at == utc(warsaw(2026, 1, 12, 9, 15))  # ran out as the pause began


def test_stopping_within_target_is_met_after_it_is_breached() -> None:
    history = ClockHistory(utc(MON), stopped_at=utc(warsaw(2026, 1, 12, 12, 59)))
    met = read_clock(OFFICE, history, 240, 80, utc(warsaw(2026, 1, 20, 9, 0)))
    assert (met.state, met.outcome, met.elapsed_seconds) == ("stopped", "met", 3 * HOUR + 59 * 60)
    exact = ClockHistory(utc(MON), stopped_at=utc(warsaw(2026, 1, 12, 13, 0)))
    assert read_clock(OFFICE, exact, 240, 80, utc(warsaw(2026, 1, 20, 9, 0))).outcome == "met"
    late = ClockHistory(utc(MON), stopped_at=utc(warsaw(2026, 1, 12, 13, 0, 1)))
    assert read_clock(OFFICE, late, 240, 80, utc(warsaw(2026, 1, 20, 9, 0))).outcome == "breached"


def test_reopening_resumes_where_the_clock_stopped() -> None:
    # Resolved Monday 11:00 (2 h counted), reopened Tuesday 10:00: the resolved span is a pause.
    reopened = Pause(utc(warsaw(2026, 1, 12, 11, 0)), utc(warsaw(2026, 1, 13, 10, 0)))
    reading = read_clock(OFFICE, ClockHistory(utc(MON), (reopened,)), 240, 80, utc(warsaw(2026, 1, 13, 10, 0)))
    assert reading.due_at == utc(warsaw(2026, 1, 13, 12, 0))
    assert reading.remaining_seconds == 2 * HOUR


def test_warning_at_the_share_of_the_target() -> None:
    assert warning_seconds(60, 80) == 48 * 60
    reading = read_clock(OFFICE, ClockHistory(utc(MON)), 60, 80, utc(MON))
    assert reading.warning_at == utc(warsaw(2026, 1, 12, 9, 48))
    later = read_clock(OFFICE, ClockHistory(utc(MON)), 60, 50, utc(MON))
    assert later.warning_at == utc(warsaw(2026, 1, 12, 9, 30))


def test_seconds_are_kept_on_a_24_7_calendar_and_across_the_spring_change() -> None:
    start = datetime(2026, 5, 4, 12, 0, 30, tzinfo=UTC)
    assert read_clock(ALWAYS, ClockHistory(start), 1, 80, start).due_at == start + timedelta(minutes=1)
    night = warsaw(2026, 3, 29, 1, 30)  # clocks jump from 02:00 to 03:00
    reading = read_clock(ALWAYS, ClockHistory(utc(night)), 120, 80, utc(night))
    assert reading.due_at == utc(warsaw(2026, 3, 29, 4, 30))
    assert reading.due_at - utc(night) == timedelta(hours=2)


def test_targets_must_be_positive() -> None:
    with pytest.raises(ValueError, match="more than zero"):
        read_clock(OFFICE, ClockHistory(utc(MON)), 0, 80, utc(MON))


# Property: at its due instant a clock has counted exactly its target, whatever the pauses.
ORIGIN = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)
pauses_strategy = st.lists(
    st.tuples(st.integers(0, 20 * 24 * 60), st.integers(1, 4 * 24 * 60)), max_size=4
)


@settings(deadline=None, database=None)  # as many examples as the profile says
@given(
    start=st.integers(0, 10 * 24 * 60),
    pauses=pauses_strategy,
    target=st.integers(1, 5 * 8 * 60),
    calendar=st.sampled_from([OFFICE, ALWAYS]),
)
def test_property_a_clock_counts_its_target_by_the_due_instant(start, pauses, target, calendar) -> None:
    started = ORIGIN + timedelta(minutes=start)
    spans = tuple(
        Pause(started + timedelta(minutes=offset, seconds=17), started + timedelta(minutes=offset + length))
        for offset, length in pauses
    )
    history = ClockHistory(started, spans)
    due = instant_after(calendar, history, target * 60)
    assert due is not None
    counted, _ = counted_seconds(calendar, history, due)
    # Whole seconds are floored per pause: at most a second off per pause.
    assert target * 60 - len(spans) <= counted <= target * 60
    # ... and one business second earlier it had not.
    assert counted_seconds(calendar, history, due - timedelta(seconds=len(spans) + 1))[0] < target * 60
