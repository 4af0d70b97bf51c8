"""What a bulk action tells the agent: how many tickets changed, and which did not and why.

Pure: the outcomes in, the summary out (no Flask, no database, no clock).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Outcome:
    """One ticket's result: its number, and the refusal's message when it was not changed."""

    number: str
    refusal: str | None = None
    unchanged: bool = False  # it already had every value asked for

    @property
    def changed(self) -> bool:
        return self.refusal is None and not self.unchanged


@dataclass(frozen=True)
class Summary:
    changed: int
    unchanged: int
    # Each distinct reason once, with the numbers of the tickets it refused, in the order seen.
    failures: tuple[tuple[str, tuple[str, ...]], ...]

    @property
    def failed(self) -> int:
        return sum(len(numbers) for _reason, numbers in self.failures)


def summarize(outcomes: list[Outcome]) -> Summary:
    """Count the changed and unchanged tickets; group the refused ones by reason."""
    grouped: dict[str, list[str]] = {}
    for outcome in outcomes:
        if outcome.refusal is not None:
            grouped.setdefault(outcome.refusal, []).append(outcome.number)
    return Summary(
        changed=sum(1 for o in outcomes if o.changed),
        unchanged=sum(1 for o in outcomes if o.refusal is None and o.unchanged),
        failures=tuple((reason, tuple(numbers)) for reason, numbers in grouped.items()),
    )
