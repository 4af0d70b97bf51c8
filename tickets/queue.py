"""The ticket queue: filters from query arguments, sort orders and keyset cursors, one page.

Used by the agent queue, the client portal's list and the API's ticket list. Every page is read
through `visible_tickets` (tickets.access), so a queue never shows another company's tickets.
Unknown filter values are reported per field (`QueueFilters.errors`), never guessed.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, bindparam, func, literal_column, select, tuple_
from sqlalchemy.orm import joinedload

from helpdesk.accounts import User
from helpdesk.calendars.models import Calendar, calendar_key_columns
from helpdesk.calendars.policies import SlaPolicy
from helpdesk.clock import utcnow
from helpdesk.companies import SLUG_RE, Client
from helpdesk.date_bounds import parse_instant
from helpdesk.extensions import db
from helpdesk.i18n import _
from helpdesk.text import whole_number
from plans.models import APPROVALS
from tickets import search
from tickets.access import MAX_ID, TicketError, own_or_followed, visible_tickets
from tickets.models import CATEGORIES, OPEN_STATUSES, PRIORITIES, STATUSES, Ticket

BREACHING_WITHIN_MAX = 100_000  # minutes (about ten weeks)
SORTS = ("newest", "due")
MAX_BREACHING_HOURS = 24 * 30
ALL_STATUSES = frozenset(STATUSES)


@dataclass
class QueueFilters:
    statuses: tuple[str, ...] = OPEN_STATUSES
    category: str | None = None
    priority: str | None = None
    client: str | None = None  # slug
    assignee: str | None = None  # user id, "none" for unassigned
    breaching_within_minutes: int | None = None  # SLA due within this many minutes
    limit: int = 50
    cursor: str | None = None
    # "newest": by id, newest first; "due": nearest due instant first, tickets without one last.
    sort: str = "newest"
    breaching_within: int | None = None  # hours: a due instant still ahead, at most this far
    breached: bool = False  # a breach recorded on a clock still running
    q: search.SearchQuery | None = None  # full text (tickets.search), with the other filters
    unconfirmed: bool = False  # only tickets whose category is to be confirmed
    approval: str | None = None  # coverage approval, e.g. "pending"
    errors: dict[str, str] = field(default_factory=dict)


# -- reading ---------------------------------------------------------------------------------


def encode_cursor(values: list[Any]) -> str:
    raw = json.dumps(values, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str = "newest") -> list[Any]:
    """The keyset of the last row of the previous page: [id], or [due instant or None, id]."""
    def invalid() -> TicketError:
        return TicketError(_("The page cursor is not valid."), {"cursor": _("Invalid cursor.")})

    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise invalid() from exc
    if sort == "due":
        if not isinstance(values, list) or len(values) != 2 or not isinstance(values[1], int) \
                or isinstance(values[1], bool) or not 0 < values[1] <= MAX_ID \
                or not (values[0] is None or isinstance(values[0], str)):
            raise invalid()
        if values[0] is not None:
            try:
                values[0] = parse_instant(values[0])
            except ValueError as exc:  # malformed, naive, or outside the date bounds
                raise invalid() from exc
        return values
    if not isinstance(values, list) or len(values) != 1 or not isinstance(values[0], int) \
            or isinstance(values[0], bool) or not 0 < values[0] <= MAX_ID:
        raise invalid()
    return values


def _count_arg(filters: QueueFilters, args: dict[str, str], name: str, most: int, refusal: str) -> int | None:
    """The whole number from 1 to `most` in query argument `name`; None when it is absent, or
    refused (then `refusal` is the filters' error for `name`)."""
    text = (args.get(name) or "").strip()
    if not text:
        return None
    count = whole_number(text)
    if count is None or not 1 <= count <= most:
        filters.errors[name] = refusal
        return None
    return count


def parse_queue_filters(args: dict[str, str], *, default_limit: int = 50) -> QueueFilters:
    """Read queue filters from query arguments; unknown values are reported, not guessed."""
    filters = QueueFilters(limit=default_limit)
    q = args.get("q") or ""
    if len(q) > search.MAX_QUERY_CHARS:
        filters.errors["q"] = _("A search is at most %(limit)s characters.", limit=search.MAX_QUERY_CHARS)
    else:
        filters.q = search.parse(q)
    status = (args.get("status") or "").strip()
    if not status and filters.q is not None:
        status = "all"  # a search looks through every ticket unless a status is chosen
    if status == "all":
        filters.statuses = STATUSES
    elif status:
        wanted = tuple(s for s in status.split(",") if s)
        bad = [s for s in wanted if s not in STATUSES]
        if bad:
            filters.errors["status"] = _("Unknown status: %(value)s", value=", ".join(bad))
        else:
            filters.statuses = wanted
    category = (args.get("category") or "").strip()
    if category and category not in CATEGORIES:
        filters.errors["category"] = _("Unknown category: %(value)s", value=category)
    elif category:
        filters.category = category
    priority = (args.get("priority") or "").strip()
    if priority and priority not in PRIORITIES:
        filters.errors["priority"] = _("Unknown priority: %(value)s", value=priority)
    elif priority:
        filters.priority = priority
    client = (args.get("client") or "").strip()
    if client and not SLUG_RE.fullmatch(client):
        filters.errors["client"] = _("Unknown client: %(value)s", value=client[:40])
    elif client:
        filters.client = client
    assignee = (args.get("assignee") or "").strip()
    assignee_id = whole_number(assignee)
    if assignee and assignee != "none" and (assignee_id is None or assignee_id > MAX_ID):
        filters.errors["assignee"] = _("Unknown assignee: %(value)s", value=assignee[:20])
    elif assignee:
        filters.assignee = assignee
    filters.breaching_within_minutes = _count_arg(
        filters, args, "breaching_within_minutes", BREACHING_WITHIN_MAX,
        _("A whole number of minutes from 1 to %(limit)s.", limit=BREACHING_WITHIN_MAX),
    )
    filters.limit = _count_arg(
        filters, args, "limit", 200, _("The limit is a whole number from 1 to 200.")
    ) or filters.limit
    filters.cursor = (args.get("cursor") or "").strip() or None
    sort = (args.get("sort") or "").strip()
    if sort and sort not in SORTS:
        filters.errors["sort"] = _("Unknown order: %(value)s", value=sort)
    elif sort:
        filters.sort = sort
    filters.breaching_within = _count_arg(
        filters, args, "breaching_within", MAX_BREACHING_HOURS,
        _("Breaching within is a whole number of hours from 1 to %(max)s.", max=MAX_BREACHING_HOURS),
    )
    breached = (args.get("breached") or "").strip()
    if breached and breached not in ("0", "1"):
        filters.errors["breached"] = _("Breached is 1 or 0.")
    filters.breached = breached == "1"
    unconfirmed = (args.get("unconfirmed") or "").strip()
    if unconfirmed and unconfirmed not in ("0", "1"):
        filters.errors["unconfirmed"] = _("Category to confirm is 1 or 0.")
    filters.unconfirmed = unconfirmed == "1"
    approval = (args.get("approval") or "").strip()
    if approval and approval not in APPROVALS:
        filters.errors["approval"] = _("Unknown approval: %(value)s", value=approval[:20])
    elif approval:
        filters.approval = approval
    return filters


def status_in(statuses: tuple[str, ...]) -> Any:
    """``status IN ('new', 'open', ...)`` with the statuses written into the SQL, not bound: the
    partial indexes of open tickets (ix_tickets_open_*) serve only a query naming the same
    statuses as constants. SQLite never matched them with parameters (the queue walked every
    ticket with a due instant), nor does a PostgreSQL generic plan. The statuses are checked
    codes (parse_queue_filters), written by the dialect's own quoting."""
    return Ticket.status.in_(bindparam("status", list(statuses), expanding=True, literal_execute=True, unique=True))


def _rare(condition: ColumnElement[bool]) -> ColumnElement[bool]:
    """A condition few tickets meet, on a column whose other values almost all of them have (no
    approval asked, category confirmed, an assignee). SQLite's statistics (sqlite_stat1) know only the
    average number of rows per value, which this skew makes the whole table, so its planner read
    every open ticket (or, for approvals, every ticket) instead of the column's index: at 100,000
    tickets the views' counts took half a second. likelihood() tells it the truth; PostgreSQL
    knows the most common values and needs nothing."""
    if db.session.get_bind().dialect.name == "sqlite":
        return func.likelihood(condition, literal_column("0.001"))
    return condition


def filtered_tickets(
    user: User, filters: QueueFilters, *, requester_only: bool = False, now: datetime | None = None,
    probe: bool = False,
) -> Select[tuple[Ticket]]:
    """The tickets the filters select among those the user may see, unordered: the queue's
    pages and the views' counts (tickets.saved_views) are made from it. `probe`: see
    tickets.search.matches (a page's search may first look its words up in the index)."""
    if filters.errors:
        raise TicketError(_("Some filters are not valid."), filters.errors)
    now = now or utcnow()
    query = visible_tickets(user)
    if set(filters.statuses) != ALL_STATUSES:
        # Every status (status=all, a search) is no condition: the CHECK constraint allows no
        # other; leaving it out lets a filter's own index lead (approval=pending: no table scan).
        query = query.where(status_in(filters.statuses))
        if set(filters.statuses) < set(OPEN_STATUSES) and db.session.get_bind().dialect.name == "sqlite":
            # Some of the open statuses (status=new): on SQLite the open statuses' own condition
            # as well, true of every row the first selects: its planner uses a partial index
            # (ix_tickets_open_status_due_id) only for a query naming the index's WHERE, and does
            # not infer it from the narrower list. PostgreSQL does infer it, and would take the
            # two conditions for independent ones, expect almost no row and sort them all.
            query = query.where(status_in(OPEN_STATUSES))
    if requester_only:
        query = query.where(own_or_followed(user))
    if filters.category:
        query = query.where(Ticket.category == filters.category)
    if filters.priority:
        query = query.where(Ticket.priority == filters.priority)
    if filters.client:
        query = query.where(Ticket.client_id.in_(select(Client.id).where(Client.slug == filters.client)))
    if filters.assignee == "none":
        query = query.where(_rare(Ticket.assignee_id.is_(None)))
    elif filters.assignee:
        query = query.where(Ticket.assignee_id == int(filters.assignee))
    if filters.breached:
        query = query.where(Ticket.sla_state == "breached")
    if filters.unconfirmed:
        query = query.where(_rare(Ticket.category_to_confirm.is_(True)))
    if filters.approval:
        query = query.where(_rare(Ticket.coverage_approval == filters.approval))
    if filters.q is not None:
        query = query.where(search.matches(filters.q, staff=user.is_staff, probe=probe))
    within = _window(filters)
    if within is not None:
        # Named parameters (see window_values): a statement built once is run again with new instants.
        due_type = Ticket.__table__.c.next_deadline_at.type
        query = query.where(
            Ticket.next_deadline_at > bindparam("now", now, type_=due_type),
            Ticket.next_deadline_at <= bindparam(_until(within), now + within, type_=due_type),
        )
    return query


def _window(filters: QueueFilters) -> timedelta | None:
    """How far ahead the "breaching within" filter looks, if it is set."""
    if filters.breaching_within_minutes is not None:  # the API's finer filter
        return timedelta(minutes=filters.breaching_within_minutes)
    if filters.breaching_within is not None:
        return timedelta(hours=filters.breaching_within)
    return None


def _until(within: timedelta) -> str:
    return f"until_{int(within.total_seconds()) // 60}"


def window_values(filters: list[QueueFilters], now: datetime) -> dict[str, datetime]:
    """The parameters of the time windows of statements made by `filtered_tickets` from these
    filters, for `now`: run a statement built earlier with them and it is the one built now."""
    values = {"now": now}
    for within in filter(None, map(_window, filters)):
        values[_until(within)] = now + within
    return values


def _listing_columns() -> tuple[Any, ...]:
    """What a row of the agent's queue shows (and its SLA badge and cursor need), as plain
    columns: Core rows instead of ORM objects (loading 50 tickets with their client, people and
    policy as objects was a fifth of the page's time). The calendar's key columns come along
    (helpdesk.calendars.models.calendars_from_keys), so the badges need no statement of their own."""
    t = Ticket.__table__.c
    return (
        t.id, t.subject, t.category, t.category_to_confirm, t.priority, t.status, t.created_at,
        t.coverage_source, t.coverage_covered, t.coverage_approval, t.sla_state, t.next_deadline_at,
        t.client_id, _CLIENTS.c.name.label("client_name"),
        t.requester_id, _REQUESTERS.c.name.label("requester_name"), _REQUESTERS.c.email.label("requester_email"),
        t.assignee_id, _ASSIGNEES.c.name.label("assignee_name"), _ASSIGNEES.c.email.label("assignee_email"),
        *(column.label(f"calendar_{column.key}") for column in calendar_key_columns()),
    )


_CLIENTS = Client.__table__.alias("row_clients")
_REQUESTERS = User.__table__.alias("requesters")
_ASSIGNEES = User.__table__.alias("assignees")


def _listing_from() -> Any:
    """The tickets with what a listed row names: each a many-to-one outer join, as the joined
    loads of `queue_page` were (the plans walk the tickets' index and stop after a page)."""
    t = Ticket.__table__
    policies = SlaPolicy.__table__
    calendars = Calendar.__table__
    return (
        t.outerjoin(_CLIENTS, _CLIENTS.c.id == t.c.client_id)
        .outerjoin(_REQUESTERS, _REQUESTERS.c.id == t.c.requester_id)
        .outerjoin(_ASSIGNEES, _ASSIGNEES.c.id == t.c.assignee_id)
        .outerjoin(policies, policies.c.id == t.c.sla_policy_id)
        .outerjoin(calendars, calendars.c.id == policies.c.calendar_id)
    )


def queue_page(
    user: User, filters: QueueFilters, *, requester_only: bool = False, now: datetime | None = None,
) -> tuple[list[Ticket], str | None]:
    """One page of tickets, by keyset: one query whatever the page size and however deep.

    Newest first by id; or (sort "due") nearest due instant first, by keyset on
    (next_deadline_at, id), tickets without a pending due instant after them by id.
    """
    return _page(user, filters, requester_only, now or utcnow(), listing=False)


def queue_listing(user: User, filters: QueueFilters, *, now: datetime | None = None) -> tuple[list[Row[Any]], str | None]:
    """The page `queue_page` gives, as Core rows of the columns the agent's queue shows (see
    `_listing_columns`): the same filters, order, keyset and scoping, one statement."""
    return _page(user, filters, False, now or utcnow(), listing=True)


def _page(user: User, filters: QueueFilters, requester_only: bool, now: datetime, *, listing: bool) -> tuple[list[Any], str | None]:
    key = _page_key(user, filters, requester_only, listing)
    statement = _PAGES.get(key) if key is not None else None
    if statement is None:
        statement = _page_statement(user, filters, requester_only, now, listing)
        if key is not None:
            if len(_PAGES) >= 256:
                _PAGES.clear()
            _PAGES[key] = statement
    if listing:
        rows: list[Any] = list(db.session.execute(statement, window_values([filters], now)))
    else:
        rows = list(db.session.scalars(statement, window_values([filters], now)).unique())
    next_cursor = None
    if len(rows) > filters.limit:
        rows = rows[: filters.limit]
        last = rows[-1]
        if filters.sort == "due":
            next_cursor = encode_cursor([_iso(last.next_deadline_at), last.id])
        else:
            next_cursor = encode_cursor([last.id])
    return rows, next_cursor


# First pages' statements (no cursor, no search) by their filters and reader: see `_page_key`.
_PAGES: dict[tuple[Any, ...], Select[Any]] = {}


def _page_key(user: User, filters: QueueFilters, requester_only: bool, listing: bool) -> tuple[Any, ...] | None:
    """What a first page's statement depends on (its instants are parameters: window_values), so
    one built earlier is run again: building it cost as much as running it (the agent queue).
    None for a page not kept: after a cursor, a search (its probe reads the index), refused filters."""
    if filters.cursor or filters.q is not None or filters.errors:
        return None
    return (db.session.get_bind().dialect.name, user.id, user.role, user.client_id, user.is_client_admin,
            requester_only, listing, filters.statuses,
            filters.category, filters.priority, filters.client, filters.assignee, filters.breaching_within_minutes,
            filters.limit, filters.sort, filters.breaching_within, filters.breached, filters.unconfirmed,
            filters.approval)


def _page_statement(user: User, filters: QueueFilters, requester_only: bool, now: datetime,
                    listing: bool) -> Select[Any]:
    query = filtered_tickets(user, filters, requester_only=requester_only, now=now, probe=True)
    if filters.sort == "due":
        query = _due_order(query, filters)
    else:
        if filters.cursor:
            (last_id,) = decode_cursor(filters.cursor)
            query = query.where(Ticket.id < last_id)
        query = query.order_by(Ticket.id.desc()).limit(filters.limit + 1)
    if listing:
        return query.with_only_columns(*_listing_columns(), maintain_column_froms=False).select_from(_listing_from())
    return query.options(
        joinedload(Ticket.client),
        # Not the people's companies (User.client is joined by default): a list shows names only.
        joinedload(Ticket.requester).load_only(User.name, User.email).lazyload(User.client),
        joinedload(Ticket.assignee).load_only(User.name, User.email).lazyload(User.client),
        joinedload(Ticket.sla_policy).lazyload("*"),
    )


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def _due_order(query: Select[tuple[Ticket]], filters: QueueFilters) -> Select[tuple[Ticket]]:
    """Nearest due instant first, then tickets without one, each part a range on its index.

    A single (next_deadline_at, id) range cannot say "and then the NULLs" in a way an index can
    walk, so the page is the union of two ranges, each limited to a page, in one statement.
    """
    size = filters.limit + 1
    due, ident = Ticket.next_deadline_at, Ticket.id
    after = decode_cursor(filters.cursor, "due") if filters.cursor else None
    if after is not None and after[0] is None:
        # Already among the tickets without a due instant.
        undated = query.where(due.is_(None), ident > after[1])
        return undated.order_by(due.asc().nulls_last(), ident).limit(size)
    head, tail = due_halves(query, filters)
    page_ids = select(head.subquery().c.id).union_all(select(tail.subquery().c.id))
    return (
        select(Ticket)
        .where(Ticket.id.in_(page_ids))
        .order_by(due.asc().nulls_last(), ident)
        .limit(size)
    )


def due_halves(query: Select[tuple[Ticket]], filters: QueueFilters) -> tuple[Select[Any], Select[Any]]:
    """The two ranges of a "due" page (from the first page or a cursor among the dated tickets):
    the ids of the tickets with a due instant in (next_deadline_at, id) order, and of those
    without one by id, each at most a page and one long. Each is a range on an index that
    serves both the filter and the order (see tests of the plans), whatever the backlog."""
    size = filters.limit + 1
    due, ident = Ticket.next_deadline_at, Ticket.id
    after = decode_cursor(filters.cursor, "due") if filters.cursor else None
    dated = query.where(due.is_not(None))
    if after is not None and after[0] is not None:
        dated = dated.where(tuple_(due, ident) > tuple_(after[0], after[1]))
    head = dated.with_only_columns(ident).order_by(due, ident).limit(size)
    # By (next_deadline_at, id), though next_deadline_at is NULL in every row: the same order
    # as by id, but one an index (filter column, next_deadline_at, id) gives PostgreSQL as it
    # stands (IS NULL is no equality to its planner, so "by id" would need a sort).
    tail = query.where(due.is_(None)).with_only_columns(ident).order_by(due, ident).limit(size)
    return head, tail


def position_of(ticket: Ticket, sort: str) -> str:
    """The keyset cursor of `ticket` in the order `sort`: the rows after it are the next page."""
    if sort == "due":
        return encode_cursor([_iso(ticket.next_deadline_at), ticket.id])
    return encode_cursor([ticket.id])


def next_in_queue(user: User, filters: QueueFilters, position: str, *, now: datetime | None = None) -> Ticket | None:
    """The row of the same queue (filters and order) after the one at `position` (see
    `position_of`), or None when it was the last; the queue's own query, one row long."""
    following = replace(filters, cursor=position, limit=1, errors={})
    rows, _cursor = queue_page(user, following, now=now)
    return rows[0] if rows else None
