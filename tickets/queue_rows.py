"""The agent queue's rows as HTML: one precompiled fragment filled from Core rows.

The Jinja loop over ORM tickets cost about 0.15 ms per row: ~35 attribute look-ups and ~25
escapes of values a page repeats (labels, clients, people), the SLA badge's words translated per
row. Here a row is one ``str.format`` of `ROW`; what a cell shows for one value (a category's
badge, a client's name, a coverage badge, an assignee) is made and escaped once per distinct value
on the page (`_Cells`); per row only the subject, the two dates and the SLA time left are made.

The markup is exactly what templates/agent/queue.html wrote in its loop (the integration and
browser tests read it): change it here and there together. Every value from the database or a
translation is escaped (markupsafe, as Jinja's autoescape does); the fragment's own text is not
formatted again, so a subject holding ``{`` or ``%`` is only text.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from markupsafe import Markup, escape

from helpdesk.babel_cache import short_datetime_formatter
from helpdesk.calendars.models import calendars_from_keys
from helpdesk.i18n import _
from helpdesk.vocabulary import label
from tickets.models import ticket_number
from tickets.sla.display import SlaWords, seconds_left

ROW = (
    '\n    <tr data-ticket="{id}">\n'
    '      <td class="select"><input type="checkbox" form="bulk" name="ticket" value="{id}" aria-label="{select}" {checked}></td>\n'
    '      <td>{number}</td>\n'
    '      <td class="subject" title="{subject}"><a href="{href_head}{id}{href_tail}">{subject}</a><span class="muted">{requester}</span></td>\n'
    '      <td>{client}</td>\n'
    '      <td>{category}</td>\n'
    '      <td>{coverage}</td>\n'
    '      <td>{priority}</td>\n'
    '      <td>{status}</td>\n'
    '      <td>{assignee}</td>\n'
    '      \n'
    '      <td class="sla"><span class="badge sla-{sla_class}">{sla_text}</span>\n'
    '        {due}</td>\n'
    '      <td class="muted">{filed}</td>\n'
    '    </tr>\n  '
)


class _Cells:
    """The cells of a page that depend on one value each, made on first use and kept for the page."""

    def __init__(self) -> None:
        self.to_confirm = escape(_("category to confirm"))
        self.undecided = escape(_("Undecided"))
        self.due = escape(_("due"))
        self.made: dict[tuple[Any, ...], str] = {}

    @staticmethod
    def _label(value: str | None, vocabulary: str, default: str | None = None) -> str:
        """A code's label, translated and escaped (the `label` filter: an unknown code as itself)."""
        return escape(str(label(value, vocabulary, default)))

    def get(self, key: tuple[Any, ...]) -> str:
        made = self.made.get(key)
        if made is None:
            made = self.made[key] = getattr(self, f"_{key[0]}")(*key[1:])
        return made

    def _name(self, name: str | None, email: str | None) -> str:
        return escape(name or email)  # User.display_name

    def _assignee(self, assignee_id: int | None, name: str | None, email: str | None) -> str:
        return self._name(name, email) if assignee_id is not None else "—"

    def _client(self, name: str | None) -> str:
        return escape(name)

    def _category(self, category: str, to_confirm: bool) -> str:
        badge = f'<span class="badge {escape(category)}">{self._label(category, "category")}</span>'
        return badge + (f'<div class="muted category-to-confirm">{self.to_confirm}</div>' if to_confirm else "")

    def _coverage(self, source: str | None, covered: bool | None, approval: str | None) -> str:
        # coverage_badge (templates/_coverage.html), as the queue wrote it out.
        if source:
            state = "covered" if covered else "uncovered"
            badge = f'<span class="badge cov {state}">{self._label(source, "coverage_source")}</span>'
        elif approval:
            badge = f'<span class="badge cov uncovered">{self.undecided}</span>'
        else:
            badge = "—"
        return badge + "\n" + (f'<div class="muted">{self._label(approval, "approval")}</div>' if approval else "")

    def _priority(self, priority: str) -> str:
        return f'<span class="badge {escape(priority)}">{self._label(priority, "priority")}</span>'

    def _status(self, status: str) -> str:
        return self._label(status, "status")

    def _sla_class(self, state: str | None) -> str:
        return escape(state or "none")

    def _sla_state(self, state: str | None) -> str:
        return self._label(state, "sla_state", "")


def queue_rows(rows: Sequence[Any], now: datetime, *, href: tuple[str, str], selected: Iterable[str] = ()) -> Markup:
    """The table rows of a page of `tickets.queue.queue_listing` rows: `href` is the link to a
    ticket split where its id goes (tickets.agent._ticket_href), `selected` the ticked ids."""
    calendars = calendars_from_keys(
        list({(r.calendar_id, r.calendar_version, r.calendar_created_at) for r in rows if r.calendar_id is not None})
    )
    cells = _Cells()
    cell = cells.get
    sla = SlaWords()
    when = short_datetime_formatter()  # helpdesk.formats.when, its pattern found once
    select_label = str(escape(_("Select %(number)s")))  # a number needs no escaping: plain `%`
    selected = set(selected)
    href_head, href_tail = escape(href[0]), escape(href[1])
    out = []
    for r in rows:
        number = ticket_number(r.id)
        subject = escape(r.subject)
        left = seconds_left(calendars.get(r.calendar_id), r.next_deadline_at, now)
        due = r.next_deadline_at
        out.append(ROW.format(
            id=r.id, number=number, subject=subject, href_head=href_head, href_tail=href_tail,
            select=select_label % {"number": number}, checked="checked" if str(r.id) in selected else "",
            requester=cell(("name", r.requester_name, r.requester_email)),
            client=cell(("client", r.client_name)),
            category=cell(("category", r.category, r.category_to_confirm)),
            coverage=cell(("coverage", r.coverage_source, r.coverage_covered, r.coverage_approval)),
            priority=cell(("priority", r.priority)),
            status=cell(("status", r.status)),
            assignee=cell(("assignee", r.assignee_id, r.assignee_name, r.assignee_email)),
            sla_class=cell(("sla_class", r.sla_state)),
            sla_text=escape(sla.text(r.sla_state, left)) or cell(("sla_state", r.sla_state)),
            due=f'<div class="muted">{cells.due} {escape(when(due))}</div>' if due else "",
            filed=escape(when(r.created_at)),
        ))
    return Markup("".join(out))
