"""Demo data at scale: a year of tickets shaped like production, written set-based.

`seed_history(target, users)` tops the tickets up to `target`. The tickets are laid out in
filing order over the past year, across the demo clients and a few more production clients on
the Standard plan (subscribed a year ago), and each gets what the services would have written:

- its coverage decision when filed and one per time entry, made by the same pure rules
  (`plans.coverage.decide`, `charge_time`, `plans.services.approvals.next_approval`) from the
  same inputs, which are stored with the decision; the usage ledger rows the engine writes (a
  ticket counted against the allowance, minutes from the allowance, free minutes, billable or
  pending overage), so allowance use and rollover, and therefore every later decision, follow
  from the rows before them, and ledger totals are sums of rows as always;
- its two SLA clocks read by `tickets.sla.clock.read_clock` on its policy's calendar from its
  history (filed, first public reply, waiting on the client, resolved or closed), the warnings
  and breaches a sweep would have recorded, and the ticket's derived SLA columns
  (`tickets.sla.refresh.derived_state`);
- replies, pauses and history events (created, assigned, replied, status changes, time logged,
  SLA facts).

No ORM object per row: rows are tuples, written per batch of a few thousand tickets with COPY on
PostgreSQL and executemany on SQLite. On SQLite each batch is a transaction and the triggers keep
the summaries (ticket_counts, sla_month_counts, usage_totals, filed_ticket_counts, the search
index) as the rows arrive. On PostgreSQL (as a superuser) the whole load is one transaction without per-row
triggers: the search documents are made as the tickets are inserted and every summary is
recounted set-based at the end (`_FastLoad`).
"""

from __future__ import annotations

import itertools
import json
import multiprocessing
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import click
from flask import current_app
from sqlalchemy import func, select, text

from helpdesk.accounts import User, create_user, user_by_email
from helpdesk.calendars.arithmetic import business_seconds_between
from helpdesk.calendars.models import business_calendar
from helpdesk.calendars.policies import SlaPolicy, default_policy
from helpdesk.clock import utcnow
from helpdesk.companies import Client, client_by_slug, create_client
from helpdesk.extensions import db
from plans.coverage import (
    ClientState,
    SubscriptionTerms,
    Usage,
    charge_time,
    decide,
    rollover,
)
from plans.models import Subscription, SupportPlan
from plans.periods import Period, period_containing
from plans.services.allowances import calendar_month, periods_of, subscription_terms
from plans.services.approvals import next_approval
from plans.services.ledger import amount
from tickets.models import CLOCKS, PRIORITIES, Ticket
from tickets.sla.clock import ClockHistory, Pause, read_clock
from tickets.sla.policies import policy_for_source
from tickets.sla.refresh import derived_state
from tickets.vocabulary import CoverageSource

DESCRIPTION = "Generated demo ticket."
BATCH = 4000  # tickets per batch (each brings about ten rows in other tables)
REBUILD_INDEXES_FROM = 100_000  # PostgreSQL: a load of this many tickets builds the indexes after it
EXTRA_CLIENTS = tuple((f"demo-{n:02d}", f"Demo Client {n:02d}") for n in range(1, 9))
SUBJECTS = ("Order sync delay", "Offer import question", "Courier mapping", "Invoice numbering", "Stock mismatch",
            "Label printing station", "Returns flow", "Price list update", "New warehouse", "API timeout")
REPLIES = ("Thank you, we are looking into it.", "Fixed on our side; please check again.",
           "Could you send a screenshot of the settings page?", "Settings → Delivery → Mapping.")
CLIENT_REPLIES = ("Here is the screenshot.", "Works now, thanks!", "Still the same after the update.")

# Column order of each table written; ids are given for the rows others refer to.
COLUMNS = {
    "tickets": ("id", "client_id", "requester_id", "assignee_id", "subject", "description", "category", "priority",
                "status", "created_at", "updated_at", "resolved_at", "closed_at", "coverage_source",
                "coverage_covered", "coverage_approval", "first_responded_at", "sla_policy_id", "sla_source",
                "sla_state", "first_response_due_at", "resolution_due_at", "next_deadline_at", "sla_check_at",
                "sla_paused_seconds"),
    "time_entries": ("id", "ticket_id", "author_id", "minutes", "work_date", "note", "created_at"),
    "coverage_decisions": ("id", "ticket_id", "client_id", "time_entry_id", "trigger", "why", "category", "source",
                           "covered", "needs_approval", "billable", "approval", "approval_rate", "approval_currency",
                           "reason_msgid", "reason_params", "period_label", "period_start", "subscription_id",
                           "inputs", "decision", "charge", "actor_id", "created_at"),
    "usage_entries": ("client_id", "subscription_id", "period_label", "period_start", "work_date", "source", "kind",
                      "charge", "minutes", "tickets", "amount", "rate", "currency", "ticket_id", "time_entry_id",
                      "decision_id", "author_id", "created_at"),
    "messages": ("id", "ticket_id", "author_id", "body", "internal", "via", "created_at"),
    "ticket_events": ("ticket_id", "actor_id", "via", "kind", "data", "internal", "created_at"),
    "sla_pauses": ("ticket_id", "reason", "started_at", "ended_at"),
    "sla_clocks": ("ticket_id", "kind", "policy_id", "target_minutes", "warning_percent", "state", "due_at",
                   "warning_at", "stopped_at", "outcome", "elapsed_seconds", "paused_seconds", "updated_at"),
    "sla_events": ("ticket_id", "clock", "kind", "instant", "recorded_at"),
}
class Json(str):
    """A JSON value already encoded (as json.dumps would encode it): written as it is."""


JSON_COLUMNS = {"coverage_decisions": {"reason_params", "inputs", "decision", "charge"}, "ticket_events": {"data"}}
EXPLICIT_IDS = ("tickets", "time_entries", "coverage_decisions", "messages")


class Rows:
    """Rows per table as tuples in `COLUMNS` order; pure, so worker processes build them too."""

    def __init__(self) -> None:
        self.rows: dict[str, list[tuple]] = {name: [] for name in COLUMNS}
        self._getters = {name: columns for name, columns in COLUMNS.items()}

    def add(self, table: str, **values: Any) -> None:
        self.rows[table].append(tuple(map(values.get, self._getters[table])))

    def extend(self, other: dict[str, list[tuple]]) -> None:
        for name, rows in other.items():
            self.rows[name] += rows


def write_rows(rows: dict[str, list[tuple]], *, fast: bool = False) -> None:
    """Write one batch in table order (every table after those it refers to): COPY on
    PostgreSQL, executemany on SQLite. Empties the lists; the caller commits.

    `fast` (PostgreSQL with the triggers off, see `_FastLoad`): the tickets go through a
    staging table and are inserted with the search documents their messages give them, as the
    triggers of migration 0016 would have made them; each ticket row is written once."""
    connection = db.session.connection()
    postgres = connection.dialect.name == "postgresql"
    raw = connection.connection.driver_connection
    texts: dict[int, list[tuple[int, bool, str]]] = {}
    if fast:
        for message_id, ticket_id, _author, body, internal, *_ in rows["messages"]:
            texts.setdefault(ticket_id, []).append((message_id, internal, body))
    for name, batch in rows.items():
        if not batch:
            continue
        columns = COLUMNS[name]
        json_at = [i for i, c in enumerate(columns) if c in JSON_COLUMNS.get(name, ())]
        if postgres:
            target = name
            if fast and name == "tickets":
                target, columns = _STAGE, (*columns, "public_text", "all_text")
                batch = [(*row, *_texts(texts.get(row[0]))) for row in batch]
            with raw.cursor() as cursor, cursor.copy(f"COPY {target} ({', '.join(columns)}) FROM STDIN") as copy:
                write = copy.write_row
                if json_at:
                    dumps = json.dumps
                    for row in batch:
                        row = list(row)
                        for i in json_at:
                            value = row[i]
                            if value is not None and type(value) is not Json:
                                row[i] = dumps(value)
                        write(row)
                else:
                    for row in batch:
                        write(row)
            if target == _STAGE:
                connection.exec_driver_sql(_STAGE_INSERT)
                connection.exec_driver_sql(f"TRUNCATE {_STAGE}")
        else:
            marks = ", ".join("?" * len(columns))
            cursor = raw.cursor()
            cursor.executemany(f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({marks})",
                               [tuple(_sqlite(v, i in json_at) for i, v in enumerate(row)) for row in batch])
            cursor.close()
        rows[name].clear()


def _texts(messages: list[tuple[int, bool, str]] | None) -> tuple[str | None, str | None]:
    """A ticket's public and all message bodies joined in id order, as the trigger's string_agg."""
    if not messages:
        return None, None
    messages.sort()
    public = [body for _, internal, body in messages if not internal]
    return (" ".join(public) if public else None), " ".join(body for _, _, body in messages)


# -- PostgreSQL bulk load without per-row triggers ----------------------------------------------

_STAGE = "demo_load_tickets"
_OWN = "search_document('OP-' || id || ' ' || subject || ' ' || description)"
# What tickets_search_documents() (on insert) and then messages_search_documents() (one
# statement for the batch's messages) leave in the two documents.
_STAGE_INSERT = (
    f"INSERT INTO tickets ({', '.join(COLUMNS['tickets'])}, search_public, search_staff) "
    f"SELECT {', '.join(COLUMNS['tickets'])}, "
    f"CASE WHEN public_text IS NULL THEN own ELSE coalesce(own, ''::tsvector) || search_document(public_text) END, "
    f"CASE WHEN all_text IS NULL THEN own ELSE coalesce(own, ''::tsvector) || search_document(all_text) END "
    f"FROM (SELECT *, {_OWN} AS own FROM {_STAGE}) staged ORDER BY id"
)
# Every summary the triggers keep, recounted from its rows (the backfills of migrations 0013,
# 0025, 0017 and 0027).
_PG_MONTH = "to_char(t.created_at AT TIME ZONE 'Europe/Warsaw', 'YYYY-MM')"
_FIRST = "c.kind = 'first_response'"
# The plan of each ticket's latest coverage decision, which the triggers of migration 0025 copy
# as decisions arrive: run while they are off (before the indexes are built again).
_PLAN_OF_TICKETS = (
    "UPDATE tickets t SET sla_plan_id = latest.plan_id FROM (SELECT DISTINCT ON (d.ticket_id) d.ticket_id, "
    "s.plan_id FROM coverage_decisions d LEFT JOIN subscriptions s ON s.id = d.subscription_id "
    "ORDER BY d.ticket_id, d.id DESC) latest "
    "WHERE latest.ticket_id = t.id AND t.sla_plan_id IS DISTINCT FROM latest.plan_id"
)
_RECOUNTS = (
    "DELETE FROM ticket_counts",
    "INSERT INTO ticket_counts (client_id, status, n) SELECT client_id, status, count(*) FROM tickets "
    "GROUP BY client_id, status",
    "DELETE FROM sla_month_counts",
    "INSERT INTO sla_month_counts (month, client_id, category, priority, source, plan_id, tickets, first_met, "
    "first_decided, resolution_met, resolution_decided, paused_seconds) "
    f"SELECT {_PG_MONTH} AS m, t.client_id, t.category, t.priority, coalesce(t.sla_source, '') AS src, "
    "(CASE WHEN t.sla_source = 'support_plan' THEN coalesce(t.sla_plan_id, 0) ELSE 0 END) AS pl, "
    f"sum(CASE WHEN {_FIRST} THEN 1 ELSE 0 END), "
    f"sum(CASE WHEN {_FIRST} AND c.outcome = 'met' THEN 1 ELSE 0 END), "
    f"sum(CASE WHEN {_FIRST} AND c.outcome IS NOT NULL THEN 1 ELSE 0 END), "
    "sum(CASE WHEN c.kind = 'resolution' AND c.outcome = 'met' THEN 1 ELSE 0 END), "
    "sum(CASE WHEN c.kind = 'resolution' AND c.outcome IS NOT NULL THEN 1 ELSE 0 END), "
    f"sum(CASE WHEN {_FIRST} THEN t.sla_paused_seconds ELSE 0 END) "
    "FROM sla_clocks c JOIN tickets t ON t.id = c.ticket_id GROUP BY m, t.client_id, t.category, t.priority, src, pl",
    "DELETE FROM usage_totals",
    "INSERT INTO usage_totals (period_start, client_id, subscription_id, charge, currency, minutes, tickets, "
    "amount, entries) SELECT period_start, client_id, coalesce(subscription_id, 0), charge, coalesce(currency, ''), "
    "sum(minutes), sum(tickets), sum(amount), count(*) FROM usage_entries GROUP BY period_start, client_id, "
    "coalesce(subscription_id, 0), charge, coalesce(currency, '')",
    "DELETE FROM filed_ticket_counts",
    "INSERT INTO filed_ticket_counts (period_start, client_id, category, source, tickets) "
    "SELECT f.period_start, f.client_id, c.category, c.source, count(*) FROM coverage_decisions f "
    "JOIN (SELECT ticket_id, max(id) AS id FROM coverage_decisions GROUP BY ticket_id) latest "
    "ON latest.ticket_id = f.ticket_id JOIN coverage_decisions c ON c.id = latest.id "
    "WHERE f.\"trigger\" = 'filed' GROUP BY f.period_start, f.client_id, c.category, c.source",
)


class _FastLoad:
    """PostgreSQL, when this role may: the whole load is one transaction with
    `session_replication_role = replica`, so no per-row trigger fires (the summary triggers of
    migrations 0013/0015/0017/0027, the search triggers of 0016, the foreign-key checks: the rows
    are made consistent); the tickets get their search documents as they are inserted, and every
    summary is recounted set-based before the commit. The tables whose summaries are recounted
    are locked against other writers (readers go on) for the load, so the recount is exact.
    A failure rolls everything back."""

    def __init__(self) -> None:
        connection = db.session.connection()
        self.on = (connection.dialect.name == "postgresql"
                   and connection.exec_driver_sql("SELECT current_setting('is_superuser')").scalar() == "on")
        self.indexes: list[str] = []

    def begin(self, *, rebuild_indexes: bool = False) -> None:
        """With `rebuild_indexes` (a load that at least doubles the tables), the secondary indexes
        of the tables written are dropped for the load and built again after it, in the same
        transaction: one sort per index instead of an insert per row (the GIN search indexes
        most). Readers of those tables wait for the commit then."""
        if not self.on:
            return
        run = db.session.connection().exec_driver_sql
        run("LOCK TABLE tickets, messages, sla_clocks, usage_entries, coverage_decisions IN SHARE ROW EXCLUSIVE MODE")
        if rebuild_indexes:
            names = ", ".join(f"'{name}'" for name in COLUMNS)
            found = run(
                "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
                f"JOIN pg_class t ON t.oid = i.indrelid WHERE t.relname IN ({names}) "
                "AND t.relnamespace = 'public'::regnamespace "
                "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid) "
                "ORDER BY 1").all()
            for name, definition in found:
                run(f"DROP INDEX {name}")
                self.indexes.append(definition)
        run("SET LOCAL session_replication_role = replica")
        run(f"CREATE TEMP TABLE {_STAGE} ON COMMIT DROP AS SELECT {', '.join(COLUMNS['tickets'])}, "
            "''::text AS public_text, ''::text AS all_text FROM tickets WITH NO DATA")

    def finish(self) -> None:
        if not self.on:
            return
        run = db.session.connection().exec_driver_sql
        run(_PLAN_OF_TICKETS)
        run("SET LOCAL session_replication_role = origin")
        if self.indexes:
            run("SET LOCAL maintenance_work_mem = '256MB'")
            for definition in self.indexes:
                run(definition)
        for statement in _RECOUNTS:
            run(statement)


def _sqlite(value: Any, is_json: bool) -> Any:
    """A value as SQLAlchemy stores it on SQLite (naive UTC text, ISO dates, JSON text)."""
    if is_json:
        return value if value is None or type(value) is Json else json.dumps(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bool):
        return int(value)
    return value


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


@dataclass
class Plan:
    """A subscription as the rules see it, with the plan terms of each of its periods (pure)."""

    id: int
    starts_on: date
    ends_on: date | None
    period: str
    terms: dict[date, SubscriptionTerms]  # by period start
    terms_dict: dict[date, dict] = field(default_factory=dict)

    def is_active_on(self, day: date) -> bool:
        return self.starts_on <= day and (self.ends_on is None or day <= self.ends_on)


@dataclass
class Account:
    """One client as the engine sees it: allowance use per period of its subscription (pure)."""

    client_id: int
    requesters: list[int]
    state: ClientState
    plan: Plan | None
    state_dict: dict = field(default_factory=dict)
    # period start -> [minutes, tickets] taken from the allowance, and the rollover into it
    used: dict[date, list[int]] = field(default_factory=dict)
    rollover_in: dict[date, int] = field(default_factory=dict)
    last: Period | None = None
    periods: dict[date, Period] = field(default_factory=dict)  # by day

    def situation(self, day: date) -> tuple[Period, SubscriptionTerms | None, Usage]:
        """The period, terms and usage on `day`, as `plans.services.allowances.situation` reads them."""
        plan = self.plan
        if plan is None or not plan.is_active_on(day):
            return _month(day), None, Usage()
        period = self.periods.get(day)
        if period is None:
            period = self.periods[day] = period_containing(plan.starts_on, plan.period, day)
        if period.start not in self.used:
            carried = 0
            if self.last is not None and self.last.start < period.start:
                terms = plan.terms[self.last.start].plan
                minutes = self.used[self.last.start][0]
                carried = rollover(allowance_minutes=terms.allowance_minutes, minutes_used=max(0, minutes),
                                   rollover_in=self.rollover_in[self.last.start], cap=terms.rollover_cap_minutes)
            self.rollover_in[period.start] = carried
            self.used[period.start] = [0, 0]
            self.last = period
        minutes, tickets = self.used[period.start]
        return period, plan.terms[period.start], Usage(max(0, minutes), max(0, tickets), self.rollover_in[period.start])

    def take(self, period: Period, minutes: int, tickets: int) -> None:
        used = self.used[period.start]
        used[0] += minutes
        used[1] += tickets


_MONTHS: dict[date, Period] = {}
_LABELS: dict[Period, str] = {}


def _month(day: date) -> Period:
    found = _MONTHS.get(day)
    if found is None:
        found = _MONTHS[day] = calendar_month(day)
    return found


def _label(period: Period) -> str:
    found = _LABELS.get(period)
    if found is None:
        found = _LABELS[period] = period.label
    return found


@dataclass(frozen=True)
class Policy:
    """An SLA policy as the clocks need it (pure): targets by (clock, priority) and its calendar."""

    id: int
    calendar: Any
    warning_percent: int
    minutes: dict[tuple[str, str], int]


@dataclass
class Context:
    now: datetime
    zone: ZoneInfo
    agent_id: int
    policies: dict[str, Policy | None]
    ids: dict[str, int] = field(default_factory=dict)
    stride: int = 1  # worker processes take every stride-th id, from their own offset
    days: dict[int, date] = field(default_factory=dict)
    decisions: dict[tuple, tuple] = field(default_factory=dict)
    inputs: dict[tuple, str] = field(default_factory=dict)

    def next_id(self, table: str) -> int:
        self.ids[table] += self.stride
        return self.ids[table]

    def day(self, instant: datetime) -> date:
        hour = int(instant.timestamp()) // 3600  # the zone's offset changes on whole hours
        found = self.days.get(hour)
        if found is None:
            found = self.days[hour] = instant.astimezone(self.zone).date()
        return found


def _staff(role: str) -> int | None:
    return db.session.scalar(select(User.id).where(User.role == role, User.active.is_(True)).order_by(User.id))


def _extra_clients(starts_on: date) -> None:
    """Production clients on the Standard plan since `starts_on`, one client user each, once."""
    plan = db.session.scalar(select(SupportPlan).where(SupportPlan.name == "Standard"))
    for slug, name in EXTRA_CLIENTS:
        client = client_by_slug(slug) or create_client(slug, name)
        if client.phase != "production":
            client.phase = "production"
            client.protocol_signed_on = starts_on - timedelta(days=60)
        email = f"client@{slug}.example"
        if user_by_email(email) is None:
            create_user(email=email, password="opiekun-demo", role="client", client_slug=slug,
                        name=f"{name} User", commit=False)
        if plan is not None and db.session.scalar(select(func.count(Subscription.id)).where(
                Subscription.client_id == client.id)) == 0:
            # A year-old subscription, as if made then (the service accepts only today or later).
            db.session.add(Subscription(client_id=client.id, plan_id=plan.id, starts_on=starts_on, ends_on=None,
                                        created_by_id=_staff("manager"),
                                        created_at=datetime.combine(starts_on, datetime.min.time(), UTC)))
    db.session.commit()


def _accounts(until: date) -> list[tuple[Account, int]]:
    """Every client with client users, as pure data, and its share of the tickets."""
    accounts = []
    clients = db.session.scalars(select(Client).order_by(Client.id)).all()
    for client in clients:
        requesters = list(db.session.scalars(
            select(User.id).where(User.client_id == client.id, User.role == "client").order_by(User.id)))
        if not requesters:
            continue
        subscription = db.session.scalar(
            select(Subscription).where(Subscription.client_id == client.id).order_by(Subscription.starts_on))
        plan = None
        if subscription is not None:
            terms = {p.start: subscription_terms(subscription, p) for p in periods_of(subscription, until)}
            plan = Plan(subscription.id, subscription.starts_on, subscription.ends_on, subscription.plan.period, terms,
                        {start: t.to_dict() for start, t in terms.items()})
        state = ClientState(client.phase, client.protocol_signed_on, client.package_months)
        weight = 1 if client.slug == "globex" else 3
        accounts.append((Account(client.id, requesters, state, plan, state.to_dict()), weight))
    return accounts


def _pure(policy: SlaPolicy | None) -> Policy | None:
    if policy is None:
        return None
    return Policy(policy.id, business_calendar(policy.calendar_id), policy.warning_percent,
                  {(kind, p): policy.minutes(kind, p) for kind in CLOCKS for p in PRIORITIES})


def _policies() -> dict[str, Policy | None]:
    """The SLA policy of each coverage source, as `policy_terms_for_ticket` would choose it."""
    out: dict[str, SlaPolicy | None] = {s: policy_for_source(s) for s in CoverageSource.values()}
    plan = db.session.scalar(select(SupportPlan).where(SupportPlan.name == "Standard"))
    if plan is not None:
        version = plan.version_on(utcnow().date())
        if version.sla_policy_id is not None:
            out["support_plan"] = db.session.get(SlaPolicy, version.sla_policy_id)
    out["approved"] = default_policy()  # uncovered work a manager approved runs on the default policy
    return {source: _pure(policy) for source, policy in out.items()}


# Shares (weights) of each status for tickets older than two weeks and for recent ones, of each
# category and of each priority.
OLD_STATUS = {"closed": 55, "resolved": 42, "open": 2, "waiting_on_client": 1, "new": 0}
RECENT_STATUS = {"new": 20, "open": 30, "waiting_on_client": 15, "resolved": 25, "closed": 10}
CATEGORY_SHARE = {"question": 40, "configuration_change": 30, "bug": 30}
PRIORITY_SHARE = {"low": 20, "normal": 55, "high": 20, "urgent": 5}


_CUMULATIVE: dict[int, tuple[list[str], list[int]]] = {}


def _pick(rng: random.Random, shares: dict[str, int]) -> str:
    """`rng.choices(list(shares), list(shares.values()))[0]`, with the running totals made once
    (the same draw: choices accumulates the weights itself otherwise)."""
    found = _CUMULATIVE.get(id(shares))
    if found is None:
        found = _CUMULATIVE[id(shares)] = (list(shares), list(itertools.accumulate(shares.values())))
    return rng.choices(found[0], cum_weights=found[1])[0]


def _status(rng: random.Random, age_days: float) -> str:
    return _pick(rng, OLD_STATUS if age_days > 14 else RECENT_STATUS)


def _decide(w: Rows, ctx: Context, account: Account, ticket: dict, *, trigger: str, at: datetime,
            actor_id: int | None, previous: str | None, pending: int, time_entry: tuple[int, int] | None = None
            ) -> tuple[dict, list[tuple]]:
    """A decision as `decide_for_ticket` / `charge_time_entry` make it, with its ledger rows.

    Returns the decision's values and the ledger rows; updates the account's allowance use.
    """
    day = ctx.day(at)
    period, terms, usage = account.situation(day)
    category = ticket["category"]
    # The rules are pure: the same arguments give the same decision, so it is made once. Without
    # a ticket allowance the tickets used change nothing in it.
    counts_tickets = terms is not None and terms.plan.allowance_tickets is not None
    key = (category, account.client_id, day, usage if counts_tickets else (usage.minutes_used, usage.rollover_minutes))
    made = ctx.decisions.get(key)
    if made is None:
        if len(ctx.decisions) > 100_000:
            ctx.decisions.clear()
        decision = decide(category=category, client=account.state, subscription=terms, usage=usage, today=day)
        made = ctx.decisions[key] = (decision, _dumps(decision.to_dict()), _dumps(decision.reason.to_dict()["params"]))
    decision, decision_dict, reason_params = made
    # The inputs as json.dumps writes them, from a prefix encoded once per client, period and category.
    head_key = (category, account.client_id, period.start if terms is not None else None)
    head = ctx.inputs.get(head_key)
    if head is None:
        head = ctx.inputs[head_key] = (
            f'{{"category": {json.dumps(category)}, "client": {json.dumps(account.state_dict)}, "subscription": '
            f'{json.dumps(None if terms is None else account.plan.terms_dict[period.start])}, "usage": ')
    inputs = Json(f'{head}{{"minutes_used": {usage.minutes_used}, "tickets_used": {usage.tickets_used}, '
                  f'"rollover_minutes": {usage.rollover_minutes}}}, "today": "{day.isoformat()}"}}')
    charge = None
    entries: list[dict] = []
    decision_id = ctx.next_id("coverage_decisions")
    common = {"client_id": account.client_id, "ticket_id": ticket["id"], "decision_id": decision_id,
              "period_label": _label(period), "period_start": period.start, "created_at": at,
              "subscription_id": terms.id if terms else None, "work_date": day, "author_id": actor_id}
    if time_entry is None:
        approval = next_approval(previous, uncovered=not decision.covered, trigger=trigger, pending_minutes=pending)
        if decision.within_allowance and terms is not None and not ticket["counted"]:
            entries.append({**common, "source": "support_plan", "kind": "consumption", "charge": "allowance",
                            "minutes": 0, "tickets": 1, "amount": Decimal(0)})
            ticket["counted"] = True
    else:
        entry_id, minutes = time_entry
        plan = terms.plan if terms is not None and decision.source in ("support_plan", "none") else None
        charge = charge_time(decision=decision, minutes=minutes, plan=plan, usage=usage)
        approval = next_approval(previous, uncovered=charge.overage_minutes > 0 and not charge.billable_overage,
                                 trigger=trigger, pending_minutes=pending)
        common["time_entry_id"] = entry_id
        if charge.covered_minutes and charge.consumes_allowance:
            entries.append({**common, "source": decision.source, "kind": "consumption", "charge": "allowance",
                            "minutes": charge.covered_minutes, "tickets": 0 if ticket["counted"] else 1,
                            "amount": Decimal(0)})
            ticket["counted"] = True
        elif charge.covered_minutes:
            entries.append({**common, "source": decision.source, "kind": "consumption", "charge": "free",
                            "minutes": charge.covered_minutes, "tickets": 0, "amount": Decimal(0)})
        if charge.overage_minutes:
            rate = currency = None
            if charge.billable_overage and plan is not None:
                bucket, rate, currency = "billable", plan.hourly_rate, plan.currency
            elif approval in ("goodwill", "pending"):
                bucket = approval
            else:
                bucket = "unbilled"
            entries.append({**common, "source": decision.source, "kind": "overage", "charge": bucket,
                            "minutes": charge.overage_minutes, "tickets": 0, "amount": amount(charge.overage_minutes, rate),
                            "rate": rate, "currency": currency})
    for e in entries:
        if e["charge"] == "allowance" and terms is not None:
            account.take(period, e["minutes"], e["tickets"])
        w.add("usage_entries", **e)
    w.add("coverage_decisions", id=decision_id, ticket_id=ticket["id"], client_id=account.client_id,
          time_entry_id=time_entry[0] if time_entry else None, trigger=trigger, why=None, category=category,
          source=decision.source, covered=decision.covered, needs_approval=decision.needs_approval,
          billable=decision.billable, approval=approval, approval_rate=None, approval_currency=None,
          reason_msgid=decision.reason.msgid, reason_params=reason_params,
          period_label=_label(period), period_start=period.start, subscription_id=terms.id if terms else None,
          inputs=inputs, decision=decision_dict,
          charge=None if charge is None else _dumps({
              "billed_minutes": charge.billed_minutes, "covered_minutes": charge.covered_minutes,
              "overage_minutes": charge.overage_minutes, "consumes_allowance": charge.consumes_allowance,
              "needs_approval": charge.needs_approval, "billable_overage": charge.billable_overage}),
          actor_id=actor_id, created_at=at)
    return {"source": decision.source, "covered": decision.covered, "approval": approval}, entries


def _event(w: Rows, ticket_id: int, actor_id: int | None, kind: str, at: datetime, data: str, *,
           internal: bool = False, via: str = "web") -> None:
    """A history event; `data` is its JSON (see `_data`)."""
    # COLUMNS["ticket_events"]: ticket_id, actor_id, via, kind, data, internal, created_at
    w.rows["ticket_events"].append((ticket_id, actor_id, via if actor_id else "system", kind, data, internal, at))


_DATA: dict[tuple, Json] = {}


def _data(**values: Any) -> Json:
    """Event data as JSON, encoded once for each value (the seed repeats few)."""
    key = tuple(values.items())
    found = _DATA.get(key)
    if found is None:
        found = _DATA[key] = Json(json.dumps(values))
    return found


def _dumps(value: Any) -> Json:
    return Json(json.dumps(value))


def _one_ticket(w: Rows, ctx: Context, rng: random.Random, account: Account, tid: int, created: datetime) -> None:
    now = ctx.now
    requester = rng.choice(account.requesters)
    category = _pick(rng, CATEGORY_SHARE)
    priority = _pick(rng, PRIORITY_SHARE)
    age_days = (now - created).total_seconds() / 86400
    status = _status(rng, age_days)
    ticket = {"id": tid, "category": category, "counted": False}
    minute = timedelta(minutes=1)

    # The history: first public reply, waiting on the client, resolution.
    first = resolved = closed = None
    pauses: list[tuple[datetime, datetime | None]] = []
    if status != "new":
        late = rng.random() < 0.12
        first = created + timedelta(minutes=rng.randrange(600, 3000) if late else rng.randrange(5, 200))
        if first >= now:
            first, status = None, "new"
    if status in ("resolved", "closed"):
        resolved = first + timedelta(minutes=rng.randrange(30, 60 * 24 * (12 if rng.random() < 0.1 else 3)))
        if resolved >= now - minute:
            resolved, status = None, "open"
        elif status == "closed":
            closed = resolved + timedelta(days=2)
            if closed >= now:
                closed, status = None, "resolved"
    if status == "waiting_on_client":
        pauses.append((first + minute, None))
    elif resolved is not None and rng.random() < 0.2:
        start = first + minute
        end = min(start + timedelta(minutes=rng.randrange(30, 2880)), resolved - minute)
        if end > start:
            pauses.append((start, end))
    assignee = None if status == "new" else ctx.agent_id

    # Coverage when filed, then one time entry on a third of the tickets worked on.
    via = "web"
    _event(w, tid, requester, "created", created, _data(category=category, priority=priority), via=via)
    coverage, _ = _decide(w, ctx, account, ticket, trigger="filed", at=created, actor_id=requester, previous=None,
                          pending=0)
    pending = 0
    if assignee is not None:
        _event(w, tid, ctx.agent_id, "assigned", first - minute, _data(**{"from": None, "to": assignee}))
        message_id = ctx.next_id("messages")
        w.add("messages", id=message_id, ticket_id=tid, author_id=ctx.agent_id, body=rng.choice(REPLIES),
              internal=False, via="web", created_at=first)
        _event(w, tid, ctx.agent_id, "replied", first, Json(f'{{"message_id": {message_id}}}'))
        _event(w, tid, ctx.agent_id, "status_changed", first, _data(**{"from": "new", "to": "open"}))
        if rng.random() < 0.35:
            entry_id = ctx.next_id("time_entries")
            minutes = rng.randrange(5, 121)
            logged = first + minute
            day = ctx.day(logged)
            w.add("time_entries", id=entry_id, ticket_id=tid, author_id=ctx.agent_id, minutes=minutes, work_date=day,
                  note="", created_at=logged)
            coverage, entries = _decide(w, ctx, account, ticket, trigger="time_entry", at=logged,
                                        actor_id=ctx.agent_id, previous=coverage["approval"], pending=pending,
                                        time_entry=(entry_id, minutes))
            pending += sum(e["minutes"] for e in entries if e["charge"] == "pending")
            _event(w, tid, ctx.agent_id, "time_logged", logged, _dumps(
                {"time_entry_id": entry_id, "minutes": minutes, "work_date": day.isoformat(),
                 "source": coverage["source"]}), internal=True)
    for start, end in pauses:
        w.add("sla_pauses", ticket_id=tid, reason="waiting_on_client", started_at=start, ended_at=end)
        _event(w, tid, ctx.agent_id, "status_changed", start, _data(**{"from": "open", "to": "waiting_on_client"}))
        if end is not None:
            w.add("messages", id=ctx.next_id("messages"), ticket_id=tid, author_id=requester,
                  body=rng.choice(CLIENT_REPLIES), internal=False, via="web", created_at=end)
            _event(w, tid, requester, "replied", end, Json(f'{{"message_id": {ctx.ids["messages"]}}}'))
            _event(w, tid, requester, "status_changed", end, _data(**{"from": "waiting_on_client", "to": "open"}))
    if resolved is not None:
        _event(w, tid, ctx.agent_id, "status_changed", resolved, _data(**{"from": "open", "to": "resolved"}))
    if closed is not None:
        _event(w, tid, ctx.agent_id, "status_changed", closed, _data(**{"from": "resolved", "to": "closed"}))

    # The SLA clocks as `tickets.sla.refresh` leaves them.
    source = coverage["source"]
    policy = ctx.policies["approved" if source == "none" and coverage["approval"] in ("billable", "goodwill")
                          else source]
    sla: dict[str, Any] = {"sla_policy_id": None, "sla_state": None, "first_response_due_at": None,
                           "resolution_due_at": None, "next_deadline_at": None, "sla_check_at": None,
                           "sla_paused_seconds": 0}
    if policy is not None:
        cal = policy.calendar
        spans = tuple(Pause(s, e) for s, e in pauses)
        stop = resolved or closed
        first_stop = first if first is not None and (stop is None or first <= stop) else stop
        readings, facts = {}, set()
        for kind, stopped in zip(CLOCKS, (first_stop, stop), strict=True):
            target = policy.minutes[kind, priority]
            reading = read_clock(cal, ClockHistory(created, spans, stopped), target, policy.warning_percent, now)
            readings[kind] = reading
            until = min(stopped, now) if stopped is not None else now
            if reading.due_at is not None and reading.due_at <= until:
                facts.add((kind, "breach"))
                recorded = reading.due_at + minute
                w.add("sla_events", ticket_id=tid, clock=kind, kind="breach", instant=reading.due_at,
                      recorded_at=recorded)
                _event(w, tid, None, "sla_breached", recorded, _dumps({"clock": kind, "instant": _iso(reading.due_at)}),
                       internal=True)
            elif reading.warning_at is not None and reading.warning_at <= until:
                facts.add((kind, "warning"))
                recorded = reading.warning_at + minute
                w.add("sla_events", ticket_id=tid, clock=kind, kind="warning", instant=reading.warning_at,
                      recorded_at=recorded)
                _event(w, tid, None, "sla_warning", recorded, _dumps({"clock": kind, "instant": _iso(reading.warning_at)}),
                       internal=True)
            w.add("sla_clocks", ticket_id=tid, kind=kind, policy_id=policy.id, target_minutes=target,
                  warning_percent=policy.warning_percent, state=reading.state, due_at=reading.due_at,
                  warning_at=reading.warning_at, stopped_at=stopped, outcome=reading.outcome,
                  elapsed_seconds=reading.elapsed_seconds, paused_seconds=reading.paused_seconds,
                  updated_at=min(stopped or now, now))
        state, next_deadline, check_at = derived_state(readings, facts, now)
        sla = {"sla_policy_id": policy.id, "sla_state": state,
               "first_response_due_at": readings["first_response"].due_at,
               "resolution_due_at": readings["resolution"].due_at, "next_deadline_at": next_deadline,
               "sla_check_at": check_at,
               "sla_paused_seconds": sum(business_seconds_between(cal, s, e or now) for s, e in pauses)}
    updated = max(x for x in (created, first, resolved, closed, *(e for _, e in pauses)) if x is not None)
    w.add("tickets", id=tid, client_id=account.client_id, requester_id=requester, assignee_id=assignee,
          subject=rng.choice(SUBJECTS), description=DESCRIPTION, category=category, priority=priority,
          status=status, created_at=created, updated_at=updated, resolved_at=resolved, closed_at=closed,
          coverage_source=source, coverage_covered=coverage["covered"], coverage_approval=coverage["approval"],
          first_responded_at=first, sla_source=source, **sla)


def _next_ids() -> dict[str, int]:
    return {name: db.session.scalar(text(f"SELECT COALESCE(MAX(id), 0) FROM {name}")) for name in EXPLICIT_IDS}


def _generate(ctx: Context, accounts: list[Account], plan: list[tuple[int, datetime, int, int]]) -> dict[str, list[tuple]]:
    """The rows of the tickets in `plan` (id, filing instant, account index, random seed)."""
    rows = Rows()
    for tid, created, index, seed in plan:
        _one_ticket(rows, ctx, random.Random(seed), accounts[index], tid, created)
    return rows.rows


def _worker(connection: Any, ctx: Context, accounts: list[Account]) -> None:
    """A forked process: generates the rows of each plan it is sent, until it is sent None."""
    while (plan := connection.recv()) is not None:
        connection.send(_generate(ctx, accounts, plan))
    connection.close()


def seed_history(target: int, *, batch: int = BATCH, days: int = 365, extra_clients: bool = True,
                 workers: int = 1, rebuild_indexes_from: int = REBUILD_INDEXES_FROM) -> int:
    """Top the tickets up to `target` with a history like production's; returns how many were added.

    The tickets go to every client that has client users (with `extra_clients`, first adding
    the demo-NN clients on the Standard plan); the first active agent works them. With
    `workers` > 1, forked processes generate the rows (each owns a share of the clients, whose
    allowance use is its own) while this one writes the previous batch.
    """
    have = db.session.scalar(select(func.count(Ticket.id))) or 0
    missing = max(0, target - have)
    if not missing:
        return 0
    now = utcnow()
    zone = ZoneInfo(current_app.config.get("COVERAGE_TIMEZONE") or "Europe/Warsaw")
    starts_on = (now - timedelta(days=days)).astimezone(zone).date().replace(day=1)
    if extra_clients:
        _extra_clients(starts_on)
    pairs = _accounts(now.astimezone(zone).date())
    accounts = [a for a, _ in pairs]
    weights = [w for _, w in pairs]
    ids = _next_ids()
    ctx = Context(now=now, zone=zone, agent_id=_staff("agent"), policies=_policies())
    rng = random.Random(have)
    # Filing instants in order over the period, ending a few minutes ago; later tickets continue
    # where the last seed stopped, so a top-up keeps the order of ids and instants.
    latest = db.session.scalar(select(func.max(Ticket.created_at)).where(Ticket.description == DESCRIPTION))
    begin = max(now - timedelta(days=days), latest or now - timedelta(days=days))
    step = (now - timedelta(minutes=5) - begin) / missing
    workers = max(1, min(workers, len(accounts)))
    fast = _FastLoad()
    db.session.commit()  # nothing open while forking
    pipes = []
    for k in range(workers):
        # Worker k takes ids base + k + 1, base + k + 1 + workers, ... of the tables others refer to.
        mine = Context(now=now, zone=zone, agent_id=ctx.agent_id, policies=ctx.policies, stride=workers,
                       ids={name: ids[name] + k - workers + 1 for name in EXPLICIT_IDS if name != "tickets"})
        owned = [a if i % workers == k else None for i, a in enumerate(accounts)]
        if workers == 1:
            pipes.append((None, mine, owned))
            continue
        parent, child = multiprocessing.get_context("fork").Pipe()
        process = multiprocessing.get_context("fork").Process(target=_worker, args=(child, mine, owned), daemon=True)
        process.start()
        child.close()
        pipes.append((parent, process, owned))

    indexes, cumulative = range(len(accounts)), list(itertools.accumulate(weights))

    def plan_of(start: int, size: int) -> list[list[tuple[int, datetime, int, int]]]:
        shares: list[list] = [[] for _ in range(workers)]
        for i in range(start, start + size):
            index = rng.choices(indexes, cum_weights=cumulative)[0]
            shares[index % workers].append((ids["tickets"] + i + 1, begin + step * (i + rng.random()), index,
                                            rng.getrandbits(32)))
        return shares

    added = 0
    try:
        fast.begin(rebuild_indexes=missing >= rebuild_indexes_from and missing >= have)
        with click.progressbar(length=missing, label="Creating tickets with their history") as bar:
            size = min(batch, missing)
            shares = plan_of(0, size)
            if workers > 1:
                for (pipe, _, _), share in zip(pipes, shares, strict=True):
                    pipe.send(share)
            while added < missing:
                if workers == 1:
                    _, mine, owned = pipes[0]
                    rows = _generate(mine, owned, shares[0])
                else:
                    rows = Rows()
                    for pipe, _, _ in pipes:
                        rows.extend(pipe.recv())
                    rows = rows.rows
                done, added = size, added + size
                if added < missing:  # the workers start on the next batch while this one is written
                    size = min(batch, missing - added)
                    shares = plan_of(added, size)
                    if workers > 1:
                        for (pipe, _, _), share in zip(pipes, shares, strict=True):
                            pipe.send(share)
                write_rows(rows, fast=fast.on)
                if not fast.on:
                    db.session.commit()
                bar.update(done)
        fast.finish()
    except BaseException:
        db.session.rollback()
        raise
    finally:
        for pipe, process, _ in pipes:
            if pipe is not None:
                pipe.send(None)
                process.join(timeout=30)
    if db.session.connection().dialect.name == "postgresql":
        for name in EXPLICIT_IDS:
            db.session.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                                    f"(SELECT COALESCE(MAX(id), 1) FROM {name}))"))
        db.session.commit()
    return added
