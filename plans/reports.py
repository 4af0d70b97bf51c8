"""Usage reports: what each client used in a period and why, summed in SQL from the ledger.

A report period is a calendar month (``2026-11``) or quarter (``2026-Q4``). It holds the ledger
rows whose accounting period *starts* in it: for a plan anchored on the 15th, "November" is the
period 15 November - 14 December; for a quarterly plan, the quarter's figures appear in the
month the quarter starts. Every figure is a SUM over ``usage_entries`` filtered on
(client, period start) and can be drilled down to exactly the rows it adds up; the sums are read
from ``usage_totals`` (the ledger summed per period by database triggers), and the ticket counts
from ``filed_ticket_counts`` (the tickets filed per period by current category and source, kept
the same way), so a report costs what its period holds, not what the ledger or the decisions
have gathered since subscriptions began.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, Integer, Numeric, String, bindparam, case, cast, func, literal, select, union_all
from sqlalchemy.orm import joinedload

from helpdesk.companies import Client
from helpdesk.date_bounds import EARLIEST, LATEST, out_of_bounds_message, within_bounds
from helpdesk.extensions import db
from helpdesk.i18n import _
from plans.coverage import CATEGORIES, SOURCES
from plans.labels import period_name
from plans.models import (
    CHARGES,
    KINDS,
    OVERAGE_CHARGES,
    CoverageDecision,
    FiledTicketCount,
    Subscription,
    SupportPlan,
    UsageEntry,
    UsageTotal,
)
from plans.periods import Period
from plans.services import (
    BadRequest,
    NotFound,
    PeriodAllowance,
    allowance_history,
    allowance_used,
    calendar_month,
    get_client,
)

SUM_NAMES = ("used", "tickets_counted", "free", "billable", "pending", "goodwill", "unbilled")


def _refuse_years_out_of_bounds(label: str) -> None:
    """A label naming a year outside the date bounds is refused with their message (400)."""
    for year in re.findall(r"(?<![0-9])[0-9]{4}(?=-)", label):
        if not EARLIEST.year <= int(year) <= LATEST.year:
            raise BadRequest(out_of_bounds_message())


def report_period(label: str | None, today: date) -> Period:
    """The calendar month or quarter a label names (this month when empty); 400 otherwise."""
    if not label:
        return calendar_month(today)
    _refuse_years_out_of_bounds(label)
    try:
        period = Period.from_label(label.strip())
    except (ValueError, OverflowError):
        period = None
    if period is None or not (period.is_calendar_month or period.is_calendar_quarter):
        raise BadRequest(_("Choose a month such as 2026-11 or a quarter such as 2026-Q4."))
    if not within_bounds(period.start):
        raise BadRequest(out_of_bounds_message())
    return period


def _sums(table: Any = UsageTotal) -> list[Any]:
    """The ledger sums every report shows, as labelled SQL expressions over ``usage_totals`` (or,
    given ``UsageEntry``, over the ledger rows themselves)."""
    summed = table is UsageTotal
    currency = func.nullif(table.currency, "") if summed else table.currency

    def total(condition: Any, column: Any) -> Any:
        return func.coalesce(func.sum(case((condition, column), else_=0)), 0)

    return [
        total(table.charge == "allowance", table.minutes).label("used"),
        total(table.charge == "allowance", table.tickets).label("tickets_counted"),
        *(total(table.charge == name, table.minutes).label(name) for name in ("free", *OVERAGE_CHARGES)),
        func.coalesce(func.sum(table.amount), 0).label("value"),
        func.min(currency).label("currency"),
        func.max(currency).label("currency_max"),
    ]


@dataclass
class Sums:
    """Minutes by charge, tickets counted against allowances, and the value of billable overage."""

    used: int = 0
    tickets_counted: int = 0
    free: int = 0
    billable: int = 0
    pending: int = 0
    goodwill: int = 0
    unbilled: int = 0
    value: Decimal = Decimal(0)
    currency: str | None = None
    mixed_currencies: bool = False

    @classmethod
    def from_row(cls, row: Any) -> Sums:
        return cls(
            **{name: int(getattr(row, name)) for name in SUM_NAMES},
            value=Decimal(row.value).quantize(Decimal("0.01")),
            currency=row.currency,
            mixed_currencies=row.currency != row.currency_max,
        )

    @property
    def overage(self) -> int:
        """Minutes beyond coverage, however they end up charged."""
        return self.billable + self.pending + self.goodwill + self.unbilled


@dataclass
class ClientUsage:
    """One client's line of the usage report."""

    client_id: int
    name: str
    slug: str
    sums: Sums = field(default_factory=Sums)
    plans: list[str] = field(default_factory=list)
    periods: list[PeriodAllowance] = field(default_factory=list)
    by_category: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CATEGORIES, 0))
    by_source: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SOURCES, 0))

    @property
    def allowance_minutes(self) -> int | None:
        values = [p.terms.allowance_minutes for p in self.periods if p.terms.allowance_minutes is not None]
        return sum(values) if values else None

    @property
    def rollover_minutes(self) -> int | None:
        if self.allowance_minutes is None:
            return None
        return sum(p.rollover_in for p in self.periods)

    @property
    def allowance_tickets(self) -> int | None:
        values = [p.terms.allowance_tickets for p in self.periods if p.terms.allowance_tickets is not None]
        return sum(values) if values else None

    @property
    def remaining_minutes(self) -> int | None:
        if self.allowance_minutes is None:
            return None
        return max(0, self.allowance_minutes + (self.rollover_minutes or 0) - self.sums.used)

    @property
    def tickets(self) -> int:
        return sum(self.by_category.values())


def _in_period(period: Period, table: Any = UsageEntry) -> list[Any]:
    return [table.period_start >= period.start, table.period_start < period.end]


def ledger_sums(period: Period, client_id: int | None = None) -> dict[int, Sums]:
    """The ledger sums per client for a report period, from the period's rows of ``usage_totals``
    (a few per client and period, whatever the number of ledger rows)."""
    query = (
        select(UsageTotal.client_id, *_sums()).where(*_in_period(period, UsageTotal)).group_by(UsageTotal.client_id)
    )
    if client_id is not None:
        query = query.where(UsageTotal.client_id == client_id)
    return {row.client_id: Sums.from_row(row) for row in db.session.execute(query)}


def _latest_decisions(period: Period, client_id: int | None = None) -> Any:
    """The latest decision of every ticket filed in the period (as a subquery of ids)."""
    filed = select(CoverageDecision.ticket_id).where(
        CoverageDecision.trigger == "filed",
        CoverageDecision.period_start >= period.start,
        CoverageDecision.period_start < period.end,
    )
    if client_id is not None:
        filed = filed.where(CoverageDecision.client_id == client_id)
    return (
        select(func.max(CoverageDecision.id).label("id"))
        .where(CoverageDecision.ticket_id.in_(filed))
        .group_by(CoverageDecision.ticket_id)
        .subquery()
    )


def _ticket_counts_query(period: Period, client_id: int | None = None) -> Any:
    """(client, "category:source" now, count) of the tickets filed in the period.

    Read from ``filed_ticket_counts`` (the tickets filed per period, client, current category
    and current source, kept by database triggers on the decisions): a few rows per client in
    the period, whatever the number of tickets filed then or decided since.
    """
    counts = select(
        FiledTicketCount.client_id, (FiledTicketCount.category + ":" + FiledTicketCount.source).label("current"),
        func.sum(FiledTicketCount.tickets).label("filed"),
    ).where(*_in_period(period, FiledTicketCount)).group_by(
        FiledTicketCount.client_id, FiledTicketCount.category, FiledTicketCount.source)
    if client_id is not None:
        counts = counts.where(FiledTicketCount.client_id == client_id)
    return counts


def ticket_counts(period: Period, client_id: int | None = None) -> dict[int, list[tuple[str, str, int]]]:
    """(category, current source, count) of the tickets filed in the period, per client."""
    counts: dict[int, list[tuple[str, str, int]]] = {}
    for client, current_value, count in db.session.execute(_ticket_counts_query(period, client_id)):
        category, _, source = current_value.partition(":")
        counts.setdefault(client, []).append((category, source, int(count)))
    return counts


def _client_figures(period: Period, client_id: int | None = None) -> Any:
    """One statement for every client's figures in the period: a row of ledger sums per client
    (from ``usage_totals``) and a row per client, current category and current source of the
    tickets filed then (from ``filed_ticket_counts``), with the client's name beside each."""
    sums = select(UsageTotal.client_id.label("client_id"), *_sums(), cast(None, String).label("current"),
                  literal(0).label("filed")).where(*_in_period(period, UsageTotal)).group_by(UsageTotal.client_id)
    if client_id is not None:
        sums = sums.where(UsageTotal.client_id == client_id)
    counts = _ticket_counts_query(period, client_id).subquery()
    zero = literal(0)
    tickets = select(
        counts.c.client_id, *(zero.label(name) for name in SUM_NAMES), cast(0, Numeric(14, 2)).label("value"),
        cast(None, String).label("currency"), cast(None, String).label("currency_max"), counts.c.current,
        counts.c.filed,
    )
    lines = union_all(sums, tickets).subquery()
    return select(Client.name, Client.slug, lines).join(Client, Client.id == lines.c.client_id)


def _joined(value: Any) -> Any:
    """The values of a group joined by commas (string_agg on PostgreSQL, group_concat on SQLite)."""
    if db.session.get_bind().dialect.name == "postgresql":
        return func.string_agg(value, literal(","))
    return func.group_concat(value, ",")


def _subscriptions_with_usage(period: Period, client_id: int | None = None) -> Any:
    """One statement for the subscriptions running in the period, each with its client's name and
    the allowance used in each of its periods up to this one, as "start:minutes:tickets" joined
    by commas (from the per-period sums of ``usage_totals``; a period without allowance use has
    none): what the rollover is carried from. One row per subscription."""
    used = (
        cast(UsageTotal.period_start, String) + ":" + cast(UsageTotal.minutes, String) + ":"
        + cast(UsageTotal.tickets, String)
    )
    query = (
        select(Subscription.id, Subscription.client_id, Subscription.plan_id, Subscription.starts_on,
               Subscription.ends_on, Client.name, Client.slug, _joined(used).label("used"))
        .join(Client, Client.id == Subscription.client_id)
        .outerjoin(UsageTotal, (UsageTotal.subscription_id == Subscription.id) & (UsageTotal.charge == "allowance")
                   & (UsageTotal.period_start < period.end))
        .where(Subscription.starts_on < period.end,
               (Subscription.ends_on.is_(None)) | (Subscription.ends_on >= period.start))
        .group_by(Subscription.id, Client.id)
    )
    if client_id is not None:
        query = query.where(Subscription.client_id == client_id)
    return query


@dataclass(frozen=True)
class _Subscribed:
    """What ``allowance_history`` reads of a subscription, from a plain row and its plan."""

    id: int
    client_id: int
    starts_on: date
    ends_on: date | None
    plan: SupportPlan


class _Bound:
    """A report period as bound parameters (":start", ":end"), to build a statement once."""

    start = bindparam("start", type_=Date)
    end = bindparam("end", type_=Date)


_STATEMENTS: dict[tuple[str, str, bool], Any] = {}


def _statement(build: Any, one_client: bool) -> Any:
    """The statement ``build`` makes for any period (and, with ``one_client``, the client
    ":client"), built once per process and database kind: building it took longer than
    running it."""
    key = (db.session.get_bind().dialect.name, build.__name__, one_client)
    if key not in _STATEMENTS:
        _STATEMENTS[key] = build(_Bound, bindparam("client", type_=Integer) if one_client else None)
    return _STATEMENTS[key]


def usage_report(period: Period, client_id: int | None = None) -> list[ClientUsage]:
    """Per client: minutes used against allowance and rollover, overage and its value, tickets
    by category and by coverage source. Three statements whatever the number of clients: the
    figures, the subscriptions with their allowance use per period (both reading the per-period
    sums of ``usage_totals``) and their plans with the plans' versions; the sums run in SQL."""
    params = {"start": period.start, "end": period.end, "client": client_id}
    lines: dict[int, ClientUsage] = {}
    for row in db.session.execute(_statement(_client_figures, client_id is not None), params):
        line = lines.get(row.client_id)
        if line is None:
            line = lines[row.client_id] = ClientUsage(row.client_id, row.name, row.slug)
        if row.current is None:
            line.sums = Sums.from_row(row)
        else:
            category, _, source = row.current.partition(":")
            line.by_category[category] += int(row.filed)
            line.by_source[source] += int(row.filed)
    subscriptions: dict[int, tuple[int, int, date, date | None]] = {}
    used: dict[int, dict[date, tuple[int, int]]] = {}
    for sid, cid, plan_id, starts_on, ends_on, name, slug, joined in db.session.execute(
        _statement(_subscriptions_with_usage, client_id is not None), params
    ):
        subscriptions[sid] = (cid, plan_id, starts_on, ends_on)
        if cid not in lines:
            lines[cid] = ClientUsage(cid, name, slug)
        mine = used[sid] = {}
        for item in joined.split(",") if joined else ():
            start_text, minutes, tickets = item.split(":")
            start = date.fromisoformat(start_text)
            had_minutes, had_tickets = mine.get(start, (0, 0))  # one row per currency
            mine[start] = (had_minutes + int(minutes), had_tickets + int(tickets))
    plan_ids = {plan_id for _, plan_id, _, _ in subscriptions.values()}
    plans = {plan.id: plan for plan in db.session.scalars(
        select(SupportPlan).options(joinedload(SupportPlan.versions)).where(SupportPlan.id.in_(plan_ids))
    ).unique()} if plan_ids else {}
    last_day = period.end - timedelta(days=1)
    for sid, (cid, plan_id, starts_on, ends_on) in sorted(subscriptions.items(), key=lambda s: (s[1][0], s[1][2])):
        line = lines[cid]
        plan = plans[plan_id]
        subscribed = _Subscribed(sid, cid, starts_on, ends_on, plan)
        mine = allowance_history(subscribed, last_day, used.get(sid, {}), since=period.start)  # type: ignore[arg-type]
        if mine and plan.name not in line.plans:
            line.plans.append(plan.name)
        line.periods += mine
    return sorted(lines.values(), key=lambda line: (line.name.lower(), line.client_id))


def client_line(period: Period, client_id: int) -> ClientUsage:
    """One client's report line; 404 when the client had no plan and no recorded work then."""
    client = get_client(client_id)
    lines = usage_report(period, client_id)
    if not lines or (not lines[0].periods and not any(getattr(lines[0].sums, n) for n in SUM_NAMES)):
        raise NotFound(
            _("%(client)s had no support plan and no recorded work in %(period)s.", client=client.name,
              period=period.label)
        )
    return lines[0]


def ledger_rows(
    period: Period,
    client_id: int,
    *,
    charge: str | None = None,
    source: str | None = None,
    kind: str | None = None,
    ticket_id: int | None = None,
) -> list[UsageEntry]:
    """The rows behind a figure of the report, in the order the work was done."""
    query = select(UsageEntry).where(UsageEntry.client_id == client_id, *_in_period(period))
    if charge == "overage":
        query = query.where(UsageEntry.charge.in_(OVERAGE_CHARGES))
    elif charge:
        if charge not in CHARGES:
            raise BadRequest(_("Unknown charge: %(value)s", value=charge))
        query = query.where(UsageEntry.charge == charge)
    if source:
        if source not in SOURCES:
            raise BadRequest(_("Unknown coverage source: %(value)s", value=source))
        query = query.where(UsageEntry.source == source)
    if kind:
        if kind not in KINDS:
            raise BadRequest(_("Unknown kind: %(value)s", value=kind))
        query = query.where(UsageEntry.kind == kind)
    if ticket_id is not None:
        query = query.where(UsageEntry.ticket_id == ticket_id)
    return list(db.session.scalars(query.order_by(UsageEntry.work_date, UsageEntry.id)))


def report_tickets(
    period: Period, client_id: int, *, category: str | None = None, source: str | None = None
) -> list[CoverageDecision]:
    """The latest decision of each ticket behind a ticket count of the report."""
    if category and category not in CATEGORIES:
        raise BadRequest(_("Unknown category: %(value)s", value=category))
    if source and source not in SOURCES:
        raise BadRequest(_("Unknown coverage source: %(value)s", value=source))
    latest = _latest_decisions(period, client_id)
    query = select(CoverageDecision).join(latest, latest.c.id == CoverageDecision.id)
    if category:
        query = query.where(CoverageDecision.category == category)
    if source:
        query = query.where(CoverageDecision.source == source)
    return list(db.session.scalars(query.order_by(CoverageDecision.ticket_id)))


@dataclass
class TicketLines:
    ticket_id: int
    rows: list[UsageEntry]

    @property
    def minutes(self) -> int:
        """Minutes of work (approval rows move minutes between charges and add none)."""
        return sum(r.minutes for r in self.rows if r.kind != "approval")

    @property
    def value(self) -> Decimal:
        return sum((r.amount for r in self.rows), Decimal(0))


def statement(period: Period, client_id: int) -> tuple[ClientUsage, list[TicketLines]]:
    """A client's statement: the report line and every ledger row, grouped by ticket."""
    line = client_line(period, client_id)
    groups: dict[int, list[UsageEntry]] = {}
    for row in ledger_rows(period, client_id):
        groups.setdefault(row.ticket_id, []).append(row)
    return line, [TicketLines(tid, rows) for tid, rows in sorted(groups.items())]


# -- the client's own view ---------------------------------------------------------------------


@dataclass
class PeriodUsage:
    """One subscription period as the client admin sees it."""

    plan: str
    allowance: PeriodAllowance
    sums: Sums

    @property
    def label(self) -> str:
        return self.allowance.period.label


def client_periods(client_id: int, today: date) -> list[PeriodUsage]:
    """The client's plan periods from the first subscription up to today, newest first."""
    subscriptions = [
        s for s in db.session.scalars(
            select(Subscription).where(Subscription.client_id == client_id, Subscription.starts_on <= today)
        )
    ]
    if not subscriptions:
        return []
    used = allowance_used([s.id for s in subscriptions], date.max)
    rows = db.session.execute(
        select(UsageTotal.subscription_id, UsageTotal.period_start, *_sums())
        .where(UsageTotal.client_id == client_id, UsageTotal.subscription_id != 0)
        .group_by(UsageTotal.subscription_id, UsageTotal.period_start)
    ).all()
    sums = {(row.subscription_id, row.period_start): Sums.from_row(row) for row in rows}
    periods: list[PeriodUsage] = []
    for subscription in subscriptions:
        for allowance in allowance_history(subscription, today, used.get(subscription.id, {})):
            key = (subscription.id, allowance.period.start)
            periods.append(PeriodUsage(subscription.plan.name, allowance, sums.get(key, Sums())))
    return sorted(periods, key=lambda p: p.allowance.period.start, reverse=True)


def client_period(client_id: int, label: str, today: date) -> PeriodUsage:
    """One of the client's plan periods by label; 400 for a bad label, 404 without a plan."""
    _refuse_years_out_of_bounds(label)
    try:
        wanted = Period.from_label(label)
    except (ValueError, OverflowError):  # OverflowError: the day after 9999-12-31
        raise BadRequest(_("That is not a period.")) from None
    if not (within_bounds(wanted.start) and within_bounds(wanted.last_day)):
        raise BadRequest(out_of_bounds_message())
    for usage in client_periods(client_id, today):
        if usage.allowance.period == wanted:
            return usage
    raise NotFound(_("Your company had no support plan for the period %(period)s.", period=period_name(wanted)))


def client_period_rows(client_id: int, usage: PeriodUsage) -> list[UsageEntry]:
    period = usage.allowance.period
    return list(
        db.session.scalars(
            select(UsageEntry)
            .where(UsageEntry.client_id == client_id, UsageEntry.period_start == period.start,
                   UsageEntry.period_label == period.label)
            .order_by(UsageEntry.work_date, UsageEntry.id)
        )
    )


def _money(value: Decimal) -> Decimal:
    """An amount with two decimals, as a number: a CSV cell keeps its sign (never text)."""
    return Decimal(value).quantize(Decimal("0.01"))


def csv_rows(lines: Iterable[ClientUsage]) -> Iterable[list[Any]]:
    """The usage report as CSV rows, header first (column names stay English for tools)."""
    yield [
        "client", "plans", "periods", "allowance_minutes", "rollover_minutes", "used_minutes", "remaining_minutes",
        "allowance_tickets", "tickets_counted", "free_minutes", "overage_minutes", "billable_minutes",
        "pending_minutes", "goodwill_minutes", "unbilled_minutes", "overage_value", "currency",
        *(f"tickets_{c}" for c in CATEGORIES), *(f"source_{s}" for s in SOURCES),
    ]
    for line in lines:
        s = line.sums
        yield [
            line.slug, "; ".join(line.plans), "; ".join(p.period.label for p in line.periods),
            "" if line.allowance_minutes is None else line.allowance_minutes,
            "" if line.rollover_minutes is None else line.rollover_minutes, s.used,
            "" if line.remaining_minutes is None else line.remaining_minutes,
            "" if line.allowance_tickets is None else line.allowance_tickets, s.tickets_counted, s.free, s.overage,
            s.billable, s.pending, s.goodwill, s.unbilled, _money(s.value), s.currency or "",
            *(line.by_category[c] for c in CATEGORIES), *(line.by_source[x] for x in SOURCES),
        ]


def csv_ledger(rows: Iterable[UsageEntry]) -> Iterable[list[Any]]:
    yield ["id", "work_date", "ticket_id", "time_entry_id", "decision_id", "period", "source", "kind", "charge",
           "minutes", "tickets", "amount", "currency", "author_id", "created_at"]
    for r in rows:
        yield [r.id, r.work_date.isoformat(), r.ticket_id, r.time_entry_id or "", r.decision_id, r.period_label,
               r.source, r.kind, r.charge, r.minutes, r.tickets, _money(r.amount), r.currency or "",
               r.author_id or "", r.created_at.isoformat()]
