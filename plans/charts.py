"""A client's support usage over its last twelve plan periods, as a chart (helpdesk/charts.py)."""

from __future__ import annotations

from collections.abc import Sequence

from helpdesk.charts import Series, bar_chart
from helpdesk.formats import format_decimal
from helpdesk.i18n import _
from plans.labels import format_minutes, period_name
from plans.reports import PeriodUsage

MONTHS_SHOWN = 12


def usage_chart(periods: Sequence[PeriodUsage]) -> dict | None:
    """Allowance (with what rolled in), used and overage minutes per period, oldest first.

    ``periods`` come newest first (``reports.client_periods``); None when there is nothing to draw."""
    shown = list(reversed(periods[:MONTHS_SHOWN]))
    if not shown:
        return None
    hours = lambda minutes: None if minutes is None else minutes / 60  # noqa: E731  (the axis counts hours)
    return bar_chart(
        [period_name(p.allowance.period) for p in shown],
        [
            Series(_("Allowance"), [hours(p.allowance.available_minutes) for p in shown]),
            Series(_("Used"), [hours(p.allowance.minutes_used) for p in shown]),
            Series(_("Overage"), [hours(p.sums.overage) for p in shown]),
        ],
        lambda value: format_minutes(round(value * 60)),
        axis=lambda value: _("%(hours)s h", hours=format_decimal(value, "#,##0.#")),
    )
