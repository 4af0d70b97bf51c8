"""The bulk action's summary: counts, and refusals grouped by reason in the order seen."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tickets.bulk_summary import Outcome, summarize


def test_refusals_are_grouped_by_reason():
    summary = summarize([
        Outcome("OP-1"),
        Outcome("OP-2", "A ticket cannot go from Closed to Waiting on client."),
        Outcome("OP-3", unchanged=True),
        Outcome("OP-4", "There is no such ticket."),
        Outcome("OP-5", "A ticket cannot go from Closed to Waiting on client."),
        Outcome("OP-6"),
    ])
    assert (summary.changed, summary.unchanged, summary.failed) == (2, 1, 3)
    assert summary.failures == (
        ("A ticket cannot go from Closed to Waiting on client.", ("OP-2", "OP-5")),
        ("There is no such ticket.", ("OP-4",)),
    )


def test_nothing_selected_is_nothing_done():
    summary = summarize([])
    assert (summary.changed, summary.unchanged, summary.failed, summary.failures) == (0, 0, 0, ())


@given(st.lists(st.tuples(st.integers(1, 99), st.sampled_from([None, "a", "b"]), st.booleans()), max_size=30))
def test_every_ticket_is_counted_once(rows):
    outcomes = [Outcome(f"OP-{n}", refusal, unchanged=unchanged and refusal is None) for n, refusal, unchanged in rows]
    summary = summarize(outcomes)
    assert summary.changed + summary.unchanged + summary.failed == len(outcomes)
    for reason, numbers in summary.failures:
        assert numbers == tuple(o.number for o in outcomes if o.refusal == reason)
    assert {reason for reason, _numbers in summary.failures} == {o.refusal for o in outcomes if o.refusal}
