"""The manager's SLA report: share of first responses and resolutions within target.

Grouped by client, plan (the support plan's name for plan work, else the coverage source),
category, priority or month the ticket was filed, with the business time spent waiting on the
client beside it, and a chart of compliance over the months. A clock counts once it is
decided: met (stopped within target) or breached (its due instant passed first); clocks still
running within target are left out of the shares.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, render_template, request
from sqlalchemy import case, func, literal_column, select

from helpdesk import formats
from helpdesk.clock import utcnow
from helpdesk.companies import Client
from helpdesk.date_bounds import out_of_bounds_message, within_bounds
from helpdesk.extensions import db
from helpdesk.i18n import _, _l, format_date
from helpdesk.security import manager_required
from plans.models import SupportPlan
from tickets.models import SlaMonthCount
from tickets.vocabulary import Category, CoverageSource, Priority

bp = Blueprint("sla_report", __name__, url_prefix="/manager/sla")

REPORT_ZONE = ZoneInfo("Europe/Warsaw")
DIMENSIONS = {
    "month": _l("Month"),
    "client": _l("Client"),
    "plan": _l("Plan"),
    "category": _l("Category"),
    "priority": _l("Priority"),
}
MAX_MONTHS = 36


@dataclass
class Row:
    key: str
    label: str
    tickets: int
    first_met: int
    first_decided: int
    resolution_met: int
    resolution_decided: int
    paused_seconds: int

    @staticmethod
    def _share(met: int, decided: int) -> float | None:
        return round(100 * met / decided, 1) if decided else None

    @property
    def first_share(self) -> float | None:
        return self._share(self.first_met, self.first_decided)

    @property
    def resolution_share(self) -> float | None:
        return self._share(self.resolution_met, self.resolution_decided)

    @property
    def paused_hours(self) -> float:
        return round(self.paused_seconds / 3600, 1)

    @property
    def paused_minutes_per_ticket(self) -> int:
        return round(self.paused_seconds / 60 / self.tickets) if self.tickets else 0


def month_start(month: date) -> datetime:
    """The instant a month begins in the report's time zone, in UTC."""
    return datetime(month.year, month.month, 1, tzinfo=REPORT_ZONE).astimezone(UTC)


def next_month(month: date) -> date:
    return date(month.year + (month.month == 12), month.month % 12 + 1, 1)


def months_between(first: date, last: date) -> list[date]:
    out = [first]
    while out[-1] < last:
        out.append(next_month(out[-1]))
    return out


def report_rows(by: str, months: list[date]) -> list[Row]:
    """One row per group: tickets, clocks met of those decided, paused business time.

    The numbers come from sla_month_counts (kept by triggers, a few rows per month, client,
    category, priority and plan): the page costs the same at a million tickets as at ten
    thousand, whatever the grouping.
    """
    return _summary_rows(by, months)


def _plan_key(s: type[SlaMonthCount]):
    """The support plan's name for support-plan work (the plan of the ticket's latest coverage
    decision's subscription, kept in the summary's plan_id), else the coverage source that set
    the ticket's SLA."""
    source = func.nullif(s.source, "")
    return case((s.source == "support_plan", func.coalesce(SupportPlan.name, source)), else_=source)


def _summary_rows(by: str, months: list[date]) -> list[Row]:
    s = SlaMonthCount
    key = {"month": s.month, "client": Client.name, "category": s.category, "priority": s.priority,
           "plan": _plan_key(s)}[by]
    query = (
        select(key.label("grp"), func.sum(s.tickets), func.sum(s.first_met), func.sum(s.first_decided),
               func.sum(s.resolution_met), func.sum(s.resolution_decided), func.sum(s.paused_seconds))
        .where(s.month >= months[0].strftime("%Y-%m"), s.month <= months[-1].strftime("%Y-%m"))
        .group_by(literal_column("grp"))
        .order_by(literal_column("grp"))
    )
    if by == "client":
        query = query.join(Client, Client.id == s.client_id)
    elif by == "plan":
        query = query.outerjoin(SupportPlan, SupportPlan.id == s.plan_id)
    rows = []
    for value, *numbers in db.session.execute(query):
        tickets, fm, fd, rm, rd, paused = (int(n or 0) for n in numbers)
        if tickets or fd or rd:
            rows.append(Row(str(value), _label(by, value), tickets, fm, fd, rm, rd, paused))
    return rows


def _label(by: str, value: object) -> str:
    if value is None:
        return "—"
    if by == "month":
        year, month = str(value).split("-")
        return format_date(date(int(year), int(month), 1), "LLLL yyyy")
    if by == "plan":
        return str(CoverageSource.label_of(str(value)))
    if by == "category":
        return str(Category.label_of(str(value)))
    if by == "priority":
        return str(Priority.label_of(str(value)))
    return str(value)


def chart(rows: list[Row], months: list[date], width: int = 720, height: int = 240) -> dict:
    """Coordinates for an inline SVG line chart of compliance per month (0-100 %)."""
    by_key = {r.key: r for r in rows}
    left, right, top, bottom = 44, 32, 12, 36  # room for half of the last month's label
    inner_w, inner_h = width - left - right, height - top - bottom
    step = inner_w / max(len(months) - 1, 1)

    def y(share: float) -> float:
        return round(top + inner_h * (1 - share / 100), 1)

    series = {}
    for name in ("first", "resolution"):
        points = []
        for i, month in enumerate(months):
            row = by_key.get(month.strftime("%Y-%m"))
            share = getattr(row, f"{name}_share") if row else None
            if share is not None:
                points.append({"x": round(left + i * step, 1), "y": y(share), "share": share,
                               "label": _label("month", month.strftime("%Y-%m"))})
        series[name] = {"points": points, "path": " ".join(f"{p['x']},{p['y']}" for p in points)}
    ticks = [{"y": y(v), "label": formats.percent(v / 100, digits=0)} for v in (0, 25, 50, 75, 100)]
    labels = [
        {"x": round(left + i * step, 1), "label": format_date(m, "MMM yy")}
        for i, m in enumerate(months)
        if len(months) <= 12 or i % 2 == 0
    ]
    return {"width": width, "height": height, "left": left, "right": width - right, "top": top,
            "bottom": height - bottom, "series": series, "ticks": ticks, "labels": labels}


def _month_arg(name: str, fallback: date) -> tuple[date, str | None]:
    text = (request.args.get(name) or "").strip()
    if not text:
        return fallback, None
    try:
        year, month = text.split("-")
        first = date(int(year), int(month), 1)
    except ValueError:
        return fallback, _("Write a month as 2026-01.")
    if not within_bounds(first):
        return fallback, out_of_bounds_message()
    return first, None


@bp.route("/")
@manager_required
def report():
    today = utcnow().astimezone(REPORT_ZONE).date().replace(day=1)
    default_first = date(today.year - 1, today.month, 1)
    default_first = next_month(default_first)
    first, first_error = _month_arg("from", default_first)
    last, last_error = _month_arg("to", today)
    errors = {k: v for k, v in (("from", first_error), ("to", last_error)) if v}
    by = request.args.get("by") or "month"
    if by not in DIMENSIONS:
        errors["by"] = _("Choose how to group the report.")
        by = "month"
    if last < first:
        errors["to"] = _("The last month comes before the first.")
    elif len(months_between(first, last)) > MAX_MONTHS:
        errors["to"] = _("At most %(n)s months at once.", n=MAX_MONTHS)
    if errors:
        first, last = default_first, today
    months = months_between(first, last)
    rows = report_rows(by, months)
    monthly = rows if by == "month" else report_rows("month", months)
    total = Row("total", _("All"), *(sum(getattr(r, f) for r in rows) for f in (
        "tickets", "first_met", "first_decided", "resolution_met", "resolution_decided", "paused_seconds")))
    return render_template(
        "manager/sla_report.html", rows=rows, total=total, by=by, dimensions=DIMENSIONS,
        chart=chart(monthly, months), first=first, last=last, errors=errors,
    ), (400 if errors else 200)
