"""Views of the agent queue: named filter sets, built in or saved (personal or shared), with counts.

A view is the queue's query arguments (`q` included); `?view=<key>` on the queue expands to them
(`expand`), so a view's page, its count and "the next ticket of the view" are the same query
(tickets.queue.filtered_tickets). A built-in view's key is a word ("mine"), a saved view's its id.

Counts: one statement per page for every view shown (`counts`), each view a scalar subquery
that walks its own index. A count stops at VIEW_COUNT_CAP (config, 1000; shown as "1000+"): past that the number
tells an agent nothing more, and the page stays as fast at a million tickets as at ten thousand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from flask import current_app
from sqlalchemy import Select, bindparam, func, or_, select

from helpdesk.accounts import User
from helpdesk.clock import utcnow
from helpdesk.errors import Forbidden, NotFound
from helpdesk.extensions import db
from helpdesk.i18n import _, _l
from helpdesk.text import check_text, whole_number
from tickets.access import MAX_ID, TicketError
from tickets.models import SavedView
from tickets.queue import filtered_tickets, parse_queue_filters, window_values

NAME_MAX = 80
MAX_SAVED = 100  # per owner
# The query arguments a view keeps (never the page: cursor, limit).
VIEW_ARGS = ("q", "status", "category", "priority", "client", "assignee", "breaching_within",
             "breached", "sort", "unconfirmed", "approval")


@dataclass(frozen=True)
class View:
    key: str  # "mine", or a saved view's id as text
    name: str
    args: dict[str, str]
    builtin: bool = False
    shared: bool = False
    owner_id: int | None = None
    owner_name: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def editable_by(self, user: User) -> bool:
        return not self.builtin and self.owner_id == user.id


BUILTIN: tuple[tuple[str, Any, dict[str, str]], ...] = (
    ("mine", _l("Mine"), {"assignee": "me"}),
    ("unassigned", _l("Unassigned"), {"assignee": "none"}),
    ("breaching", _l("Breaching within 2 h"), {"breaching_within": "2", "sort": "due"}),
    ("waiting", _l("Waiting on client"), {"status": "waiting_on_client"}),
    ("category_to_confirm", _l("Category to confirm"), {"unconfirmed": "1"}),
    ("awaiting_approval", _l("Awaiting approval"), {"approval": "pending", "status": "all"}),
)
BUILTIN_KEYS = tuple(key for key, _name, _args in BUILTIN)


def builtin_views() -> list[View]:
    return [View(key=key, name=str(name), args=dict(args), builtin=True) for key, name, args in BUILTIN]


def view_of(row: SavedView, owner_name: str | None = None) -> View:
    return View(key=str(row.id), name=row.name, args=dict(row.args), shared=row.shared,
                owner_id=row.owner_id, owner_name=owner_name)


_saved = view_of


def views_for(user: User) -> list[View]:
    """The built-in views, then the user's own and the shared ones by name: one query."""
    rows = db.session.execute(_views_statement(), {"user_id": user.id}).all()
    return builtin_views() + [_saved(row, name) for row, name in rows]


@cache
def _views_statement() -> Select:
    # Built once: building the statement cost as much as running it (every queue page).
    return (
        select(SavedView, func.coalesce(func.nullif(User.name, ""), User.email))
        .join(User, User.id == SavedView.owner_id)
        .where(or_(SavedView.owner_id == bindparam("user_id"), SavedView.shared.is_(True)))
        .order_by(SavedView.name, SavedView.id)
    )


def find_view(user: User, key: str) -> View:
    """A built-in view by key, or a saved one the user may use (own or shared) by id; else NotFound."""
    for view in builtin_views():
        if view.key == key:
            return view
    view_id = whole_number(key or "")
    row = db.session.get(SavedView, view_id) if view_id is not None and 0 < view_id <= MAX_ID else None
    if row is None or not user.is_staff or (row.owner_id != user.id and not row.shared):
        raise NotFound(_("There is no such view."))
    return _saved(row)


def expand(view: View, user: User) -> dict[str, str]:
    """The view's query arguments for this user ("me" is the user)."""
    args = dict(view.args)
    if args.get("assignee") == "me":
        args["assignee"] = str(user.id)
    return args


def counts(user: User, views: list[View], now: datetime | None = None) -> dict[str, int | None]:
    """How many tickets each view shows (at most VIEW_COUNT_CAP + 1; None for a view whose
    filters no longer parse), all in ONE statement."""
    now = now or utcnow()
    cap = count_cap()
    # The statement is built once per user and set of views, and run again with the instant of
    # each page (queue.window_values): building it cost as much as running it.
    key = (db.engine.dialect.name, user.id, user.role, user.client_id, user.is_client_admin, cap,
           tuple((view.key, tuple(sorted(view.args.items()))) for view in views))
    built = _COUNTS.get(key)
    if built is None:
        columns, keys, used = [], [], []
        for view in views:
            filters = parse_queue_filters(expand(view, user))
            if filters.errors:
                continue
            matching = filtered_tickets(user, filters, now=now).with_only_columns(1).limit(cap + 1).subquery()
            columns.append(select(func.count()).select_from(matching).scalar_subquery().label(f"c{len(keys)}"))
            keys.append(view.key)
            used.append(filters)
        if len(_COUNTS) >= 256:
            _COUNTS.clear()
        built = _COUNTS[key] = (select(*columns) if columns else None, keys, used)
    statement, keys, used = built
    found: dict[str, int | None] = {view.key: None for view in views}
    if statement is not None:
        found.update(zip(keys, db.session.execute(statement, window_values(used, now)).one(), strict=True))
    return found


# The views' counts statements by (dialect, user, views): see `counts`.
_COUNTS: dict[tuple[Any, ...], tuple[Select | None, list[str], list[Any]]] = {}


def count_cap() -> int:
    return int(current_app.config["VIEW_COUNT_CAP"])


def view_args(args: Any) -> dict[str, str]:
    """The filter arguments worth keeping from a query string or form (blanks and paging dropped)."""
    return {name: str(args.get(name)).strip() for name in VIEW_ARGS if str(args.get(name) or "").strip()}


# -- changing (staff only; one's own views) -------------------------------------------------


def _check_name(name: Any) -> str:
    fields: dict[str, str] = {}
    name = check_text(fields, "name", name, required=True, limit=NAME_MAX, one_line=True)
    if fields:
        raise TicketError(_("Please correct the marked fields."), fields)
    return name


def save_view(user: User, *, name: Any, args: dict[str, str], shared: bool = False) -> SavedView:
    """Keep the current filters under a name, for the owner or (shared) for all staff."""
    if not user.is_staff:
        raise Forbidden(_("Only staff can do this."))
    name = _check_name(name)
    args = view_args(args)
    filters = parse_queue_filters(args)
    if filters.errors:
        raise TicketError(_("Some filters are not valid."), filters.errors)
    owned = db.session.scalar(select(func.count()).select_from(SavedView).where(SavedView.owner_id == user.id))
    if owned >= MAX_SAVED:
        raise TicketError(_("You have %(n)s views; delete one first.", n=MAX_SAVED), {})
    row = SavedView(owner_id=user.id, name=name, shared=bool(shared), args=args, created_at=utcnow())
    db.session.add(row)
    db.session.commit()
    return row


def _own(user: User, view_id: int) -> SavedView:
    row = db.session.get(SavedView, view_id) if 0 < view_id <= MAX_ID else None
    if row is None or not user.is_staff or (row.owner_id != user.id and not row.shared):
        raise NotFound(_("There is no such view."))
    if row.owner_id != user.id:
        raise Forbidden(_("Only the view's owner can change it."))
    return row


def _refuse_if_routing(row: SavedView, *, deleting: bool) -> None:
    """A view an auto-assignment rule routes by stays shared and stays (tickets.autoassign)."""
    from tickets.autoassign import rules_using_view  # autoassign reads views; the rules read back here

    rules = ", ".join(rules_using_view(row.id))
    if not rules:
        return
    if deleting:
        message = _("New tickets are assigned by this view (rule: %(rules)s), so it cannot be deleted. "
                    "Ask an admin to change the rule first.", rules=rules)
    else:
        message = _("New tickets are assigned by this view (rule: %(rules)s), so it stays shared. "
                    "Ask an admin to change the rule first.", rules=rules)
    raise TicketError(message, {})


def rename_view(user: User, view_id: int, *, name: Any, shared: bool) -> SavedView:
    row = _own(user, view_id)
    row.name = _check_name(name)
    if row.shared and not shared:
        _refuse_if_routing(row, deleting=False)
    row.shared = bool(shared)
    db.session.commit()
    return row


def delete_view(user: User, view_id: int) -> None:
    row = _own(user, view_id)
    _refuse_if_routing(row, deleting=True)
    db.session.delete(row)
    db.session.commit()
