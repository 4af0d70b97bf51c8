"""Macros: named reply texts (Polish and English) with placeholders and actions, personal or shared.

A macro is applied by sending the ticket's reply form: picking one fills the text (rendered for
the ticket, in the requester's language) and pre-sets the status, assignee, priority and category
fields, all still editable; the send counts the use (tickets.triage). Agents keep their own
macros; shared ones (no owner) are kept by managers and admins. The placeholders are
tickets.placeholders.PLACEHOLDERS; an unknown one is refused when the macro is saved.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from flask_babel import force_locale
from sqlalchemy import ForeignKey, Index, Select, String, Text, bindparam, or_, select, update
from sqlalchemy.orm import Mapped, mapped_column, relationship

from helpdesk.accounts import User
from helpdesk.clock import utcnow
from helpdesk.dbtypes import UTCDateTime
from helpdesk.errors import Forbidden, NotFound
from helpdesk.extensions import db
from helpdesk.i18n import _
from helpdesk.text import check_text
from tickets.access import MAX_ID, TicketError
from tickets.models import CATEGORIES, PRIORITIES, STATUSES, Ticket
from tickets.placeholders import PLACEHOLDERS, placeholder_problems, render
from tickets.vocabulary import CoverageSource

MANAGING_ROLES = ("manager", "admin")


class Macro(db.Model):
    """A reply template with actions. `owner_id` NULL: shared with every agent."""

    __tablename__ = "macros"
    __table_args__ = (Index("ix_macros_owner_id_name", "owner_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    body_en: Mapped[str] = mapped_column(Text, default="")
    body_pl: Mapped[str] = mapped_column(Text, default="")
    # Actions; "" leaves the field as it is. Assignee: "me" (whoever applies it) or a user id.
    set_status: Mapped[str] = mapped_column(String(20), default="")
    set_assignee: Mapped[str] = mapped_column(String(20), default="")
    set_priority: Mapped[str] = mapped_column(String(10), default="")
    set_category: Mapped[str] = mapped_column(String(30), default="")
    usage_count: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    owner: Mapped[User | None] = relationship(lazy="raise")

    @property
    def shared(self) -> bool:
        return self.owner_id is None


# -- reading ---------------------------------------------------------------------------------


def usable_macros(user: User) -> list[Macro]:
    """The macros `user` may apply: their own and the shared ones, by name."""
    return list(db.session.scalars(_usable_statement(), {"user_id": user.id}))


@cache
def _usable_statement() -> Select:
    # Built once: building the statement cost as much as running it (the ticket page).
    return select(Macro).where(
        or_(Macro.owner_id.is_(None), Macro.owner_id == bindparam("user_id"))
    ).order_by(Macro.name, Macro.id)


def get_macro(user: User, macro_id: Any) -> Macro:
    """A macro `user` may apply (their own or shared), else NotFound."""
    try:
        wanted = int(macro_id)
    except (TypeError, ValueError):
        wanted = 0
    macro = db.session.get(Macro, wanted) if 0 < wanted <= MAX_ID else None
    if macro is None or not user.is_staff or (macro.owner_id is not None and macro.owner_id != user.id):
        raise NotFound(_("There is no such macro."))
    return macro


def may_edit(user: User, macro: Macro) -> bool:
    return macro.owner_id == user.id if macro.owner_id is not None else user.role in MANAGING_ROLES


def placeholder_values(ticket: Ticket, language: str) -> dict[str, str]:
    """What each placeholder says for `ticket`, in `language` and the requester's time zone
    (the ticket's client and requester must be loaded)."""
    due = ticket.next_deadline_at
    source = ticket.coverage_source
    with force_locale(language):
        coverage = str(CoverageSource(source).label) if source else _("undecided")
    return {
        "client_name": ticket.client.name,
        "ticket_number": ticket.number,
        "due_at": format_datetime(due, "short", tzinfo=ZoneInfo(ticket.requester.timezone), locale=language)
        if due else "—",
        "coverage": coverage,
    }


def reply_language(ticket: Ticket) -> str:
    """The language the requester reads: Polish or English (English when unknown)."""
    return "pl" if (ticket.requester.language or "").startswith("pl") else "en"


def rendered_body(macro: Macro, ticket: Ticket) -> str:
    """The macro's text for this ticket in the requester's language (the other one when empty)."""
    language = reply_language(ticket)
    text = (macro.body_pl if language == "pl" else macro.body_en) or macro.body_en or macro.body_pl
    return render(text, placeholder_values(ticket, language))


def macro_actions(macro: Macro, user: User) -> dict[str, str]:
    """The reply form's action fields the macro pre-sets (only those it sets)."""
    actions = {"status": macro.set_status, "priority": macro.set_priority, "category": macro.set_category}
    actions["assignee"] = str(user.id) if macro.set_assignee == "me" else macro.set_assignee
    return {k: v for k, v in actions.items() if v}


# -- changing --------------------------------------------------------------------------------


def _check(values: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, str] = {}
    out: dict[str, Any] = {"name": check_text(fields, "name", values.get("name"), required=True, limit=100, one_line=True)}
    for key in ("body_en", "body_pl"):
        out[key] = check_text(fields, key, values.get(key), limit=20_000)
        problems = placeholder_problems(out[key]) if key not in fields else []
        if problems:
            fields[key] = _(
                "Unknown placeholder %(found)s; use %(known)s (write {{ and }} for braces).",
                found=", ".join(problems), known=", ".join("{" + p + "}" for p in PLACEHOLDERS),
            )
    if not out["body_en"] and not out["body_pl"] and "body_en" not in fields:
        fields["body_en"] = _("Write the text in at least one language.")
    for key, allowed in (("set_status", STATUSES), ("set_priority", PRIORITIES), ("set_category", CATEGORIES)):
        value = values.get(key) or ""
        if value and value not in allowed:
            fields[key] = _("Choose one of: %(values)s.", values=", ".join(allowed))
        out[key] = value
    assignee = values.get("set_assignee") or ""
    if assignee and assignee != "me":
        try:
            wanted = int(assignee)
        except (TypeError, ValueError):
            wanted = 0
        person = db.session.get(User, wanted) if 0 < wanted <= MAX_ID else None
        if person is None or not person.is_staff or not person.active:
            fields["set_assignee"] = _("Unknown agent.")
    out["set_assignee"] = assignee
    if fields:
        raise TicketError(_("Please correct the marked fields."), fields)
    return out


def save_macro(user: User, macro: Macro | None, values: dict[str, Any], *, shared: bool = False) -> Macro:
    """Create (macro None) or change a macro. Agents keep their own; managers and admins the shared."""
    if not user.is_staff:
        raise Forbidden(_("Only staff can keep macros."))
    if macro is not None and not may_edit(user, macro):
        raise Forbidden(_("Only managers and admins change shared macros."))
    if macro is None and shared and user.role not in MANAGING_ROLES:
        raise Forbidden(_("Only managers and admins make shared macros."))
    checked = _check(values)
    if macro is None:
        macro = Macro(owner_id=None if shared else user.id, usage_count=0, created_at=utcnow())
        db.session.add(macro)
    for key, value in checked.items():
        setattr(macro, key, value)
    macro.updated_at = utcnow()
    db.session.commit()
    return macro


def delete_macro(user: User, macro: Macro) -> None:
    if not may_edit(user, macro):
        raise Forbidden(_("Only managers and admins change shared macros."))
    db.session.delete(macro)
    db.session.commit()


def count_use(macro_id: int) -> None:
    """One more use, in the caller's transaction (no read-modify-write race)."""
    db.session.execute(update(Macro).where(Macro.id == macro_id).values(usage_count=Macro.usage_count + 1))
