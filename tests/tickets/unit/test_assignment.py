"""The auto-assignment rule (tickets/assignment.py) and @mention parsing (tickets/mentions.py): pure."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpdesk.calendars.arithmetic import BusinessCalendar, always_open, default_calendar
from tickets.assignment import (
    LEAST_LOADED,
    ROUND_ROBIN,
    Candidate,
    RuleSpec,
    available,
    choose_assignee,
    matching_rule,
    on_duty,
    views_to_check,
)
from tickets.mentions import mentioned_logins, resolve_mentions

OFFICE = default_calendar()  # Mon-Fri 08:00-16:00 Europe/Warsaw, Polish holidays
ALWAYS = always_open()
# Tokyo 09:00-17:00 every day: on duty while Warsaw sleeps.
TOKYO = BusinessCalendar("tokyo", "Asia/Tokyo", tuple(((time(9), time(17)),) for _ in range(7)))

WEDNESDAY_NOON = datetime(2026, 12, 2, 11, 0, tzinfo=UTC)  # 12:00 in Warsaw, 20:00 in Tokyo
WEDNESDAY_NIGHT = datetime(2026, 12, 2, 23, 30, tzinfo=UTC)  # 00:30 Warsaw, 08:30 Tokyo
THURSDAY_EARLY = datetime(2026, 12, 3, 1, 0, tzinfo=UTC)  # 02:00 Warsaw, 10:00 Tokyo
CHRISTMAS = datetime(2026, 12, 25, 11, 0, tzinfo=UTC)  # a Friday, a Polish public holiday


def test_on_duty_follows_each_calendar_in_its_own_time_zone():
    assert on_duty(OFFICE, WEDNESDAY_NOON)
    assert not on_duty(OFFICE, WEDNESDAY_NIGHT)
    assert not on_duty(OFFICE, CHRISTMAS)
    assert not on_duty(TOKYO, WEDNESDAY_NOON)
    assert not on_duty(TOKYO, WEDNESDAY_NIGHT)  # 08:30 in Tokyo: not yet
    assert on_duty(TOKYO, THURSDAY_EARLY)
    assert on_duty(ALWAYS, CHRISTMAS)
    # The end of a working interval is off duty; its start is on duty.
    assert on_duty(OFFICE, datetime(2026, 12, 2, 7, 0, tzinfo=UTC))
    assert not on_duty(OFFICE, datetime(2026, 12, 2, 15, 0, tzinfo=UTC))
    with pytest.raises(ValueError):
        on_duty(OFFICE, datetime(2026, 12, 2, 12, 0))


def test_round_robin_goes_in_turn_after_the_last_one_and_wraps():
    team = [Candidate(i, ALWAYS) for i in (7, 3, 5)]
    assert choose_assignee(ROUND_ROBIN, team, {}, None, WEDNESDAY_NOON).user_id == 3
    assert choose_assignee(ROUND_ROBIN, team, {}, 3, WEDNESDAY_NOON).user_id == 5
    assert choose_assignee(ROUND_ROBIN, team, {}, 5, WEDNESDAY_NOON).user_id == 7
    assert choose_assignee(ROUND_ROBIN, team, {}, 7, WEDNESDAY_NOON).user_id == 3
    # The last one assigned left the team: the next id after it still takes the turn.
    assert choose_assignee(ROUND_ROBIN, team, {}, 4, WEDNESDAY_NOON).user_id == 5


def test_least_loaded_takes_the_fewest_open_tickets_and_breaks_ties_in_turn():
    team = [Candidate(i, ALWAYS) for i in (1, 2, 3)]
    choice = choose_assignee(LEAST_LOADED, team, {1: 4, 2: 1, 3: 2}, None, WEDNESDAY_NOON)
    assert (choice.user_id, choice.load, choice.available, choice.strategy) == (2, 1, 3, LEAST_LOADED)
    assert choose_assignee(LEAST_LOADED, team, {1: 2, 2: 2, 3: 2}, 1, WEDNESDAY_NOON).user_id == 2
    assert choose_assignee(LEAST_LOADED, team, {1: 2, 2: 2, 3: 2}, 3, WEDNESDAY_NOON).user_id == 1
    assert choose_assignee(LEAST_LOADED, team, {3: 5}, 1, WEDNESDAY_NOON).user_id == 2  # missing: none open


def test_nobody_away_off_duty_or_inactive_is_chosen_and_nobody_left_means_none():
    team = [
        Candidate(1, OFFICE, away=True),
        Candidate(2, TOKYO),  # off duty at noon in Warsaw
        Candidate(3, ALWAYS, active=False),
        Candidate(4, OFFICE),
    ]
    assert [c.user_id for c in available(team, WEDNESDAY_NOON)] == [4]
    assert choose_assignee(LEAST_LOADED, team, {4: 99}, None, WEDNESDAY_NOON).user_id == 4
    assert choose_assignee(ROUND_ROBIN, team, {}, None, THURSDAY_EARLY).user_id == 2
    assert choose_assignee(ROUND_ROBIN, team, {}, None, CHRISTMAS) is None
    assert choose_assignee(LEAST_LOADED, [], {}, None, WEDNESDAY_NOON) is None
    with pytest.raises(ValueError):
        choose_assignee("by_mood", team, {}, None, WEDNESDAY_NOON)


def test_the_first_enabled_rule_that_fits_the_category_and_priority_applies():
    rules = [
        RuleSpec(1, enabled=False, category="bug"),
        RuleSpec(2, enabled=True, category="bug", priority="urgent"),
        RuleSpec(3, enabled=True, category="bug"),
        RuleSpec(4, enabled=True),
    ]
    assert matching_rule(rules, category="bug", priority="urgent").rule_id == 2
    assert matching_rule(rules, category="bug", priority="low").rule_id == 3
    assert matching_rule(rules, category="question", priority="urgent").rule_id == 4
    assert matching_rule(rules[:3], category="question", priority="normal") is None


calendars = st.sampled_from([OFFICE, ALWAYS, TOKYO])
candidates = st.lists(
    st.builds(Candidate, user_id=st.integers(1, 40), calendar=calendars, away=st.booleans(), active=st.booleans()),
    max_size=8, unique_by=lambda c: c.user_id,
)
instants = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC))


@given(candidates, st.sampled_from([ROUND_ROBIN, LEAST_LOADED]),
       st.dictionaries(st.integers(1, 40), st.integers(0, 50)), st.none() | st.integers(1, 40), instants)
def test_never_assigns_someone_away_inactive_or_off_duty(team, strategy, loads, last, now):
    choice = choose_assignee(strategy, team, loads, last, now)
    fit = [c for c in team if c.active and not c.away and on_duty(c.calendar, now)]
    if not fit:
        assert choice is None
        return
    chosen = next(c for c in team if c.user_id == choice.user_id)
    assert chosen.active and not chosen.away and on_duty(chosen.calendar, now)
    if strategy == LEAST_LOADED:
        assert choice.load == min(loads.get(c.user_id, 0) for c in fit)


@given(st.lists(st.integers(1, 1000), min_size=1, max_size=10, unique=True), st.integers(1, 5),
       st.none() | st.integers(1, 1000))
def test_round_robin_is_fair_each_available_agent_gets_a_turn_before_anyone_a_second(ids, rounds, start):
    team = [Candidate(i, ALWAYS) for i in ids]
    last, given_to = start, []
    for _ in range(rounds * len(ids)):
        last = choose_assignee(ROUND_ROBIN, team, {}, last, WEDNESDAY_NOON).user_id
        given_to.append(last)
    assert Counter(given_to) == dict.fromkeys(ids, rounds)
    for window in range(0, len(given_to), len(ids)):  # every run of len(ids) tickets: each once
        assert sorted(given_to[window:window + len(ids)]) == sorted(ids)


@given(st.lists(st.integers(1, 1000), min_size=1, max_size=8, unique=True), st.integers(1, 40))
def test_least_loaded_evens_out_the_loads(ids, tickets):
    team = [Candidate(i, ALWAYS) for i in ids]
    loads: dict[int, int] = {}
    last = None
    for _ in range(tickets):
        choice = choose_assignee(LEAST_LOADED, team, loads, last, WEDNESDAY_NOON)
        loads[choice.user_id] = loads.get(choice.user_id, 0) + 1
        last = choice.user_id
    counts = [loads.get(i, 0) for i in ids]
    assert max(counts) - min(counts) <= 1


def test_mentions_are_logins_after_an_at_sign_not_inside_addresses():
    text = "Please look, @anna and @Bob.Smith@vendor.example. Mail x@y.example; @@odd, (@ola) @anna again"
    assert mentioned_logins(text) == ["anna", "bob.smith@vendor.example", "ola"]
    assert mentioned_logins("no mentions here") == []
    assert mentioned_logins("@agent2, thanks") == ["agent2"]


def test_a_login_names_a_whole_address_or_a_unique_local_part():
    staff = [(1, "anna@vendor.example"), (2, "anna@partner.example"), (3, "ola@vendor.example")]
    assert resolve_mentions(["ola"], staff) == [3]
    assert resolve_mentions(["anna"], staff) == []  # two Annas: say which
    assert resolve_mentions(["anna@partner.example", "ola", "ola@vendor.example"], staff) == [2, 3]
    assert resolve_mentions(["nobody"], staff) == []


def test_a_rule_by_view_matches_only_a_ticket_in_its_view_and_keeps_its_place():
    rules = [
        RuleSpec(1, enabled=True, view_id=10),
        RuleSpec(2, enabled=False, view_id=11),
        RuleSpec(3, enabled=True, category="bug", view_id=12),
        RuleSpec(4, enabled=True, category="bug"),
        RuleSpec(5, enabled=True, view_id=13),
        RuleSpec(6, enabled=True),
    ]
    # Only the views that can still decide are asked about: not a disabled rule's, not one
    # whose category does not fit, not those after the first fitting rule without a view.
    assert views_to_check(rules, category="bug", priority="low") == [10, 12]
    assert views_to_check(rules, category="question", priority="low") == [10, 13]
    assert matching_rule(rules, category="bug", priority="low", views={10, 12}).rule_id == 1
    assert matching_rule(rules, category="bug", priority="low", views={12}).rule_id == 3
    assert matching_rule(rules, category="bug", priority="low", views=set()).rule_id == 4
    assert matching_rule(rules, category="question", priority="low", views={13}).rule_id == 5
    assert matching_rule(rules, category="question", priority="low").rule_id == 6
    assert matching_rule(rules[:3], category="question", priority="low", views={11}) is None
