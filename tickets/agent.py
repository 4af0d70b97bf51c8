"""The agent's side: the queue of tickets across clients, and working a ticket."""

from __future__ import annotations

from functools import cache
from urllib.parse import parse_qsl, urlencode

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import Select, select
from werkzeug.datastructures import MultiDict

from helpdesk.accounts import User, staff_users
from helpdesk.calendars.policies import SlaPolicy
from helpdesk.clock import utcnow
from helpdesk.companies import Client
from helpdesk.errors import ServiceError
from helpdesk.extensions import db
from helpdesk.forms import flash_form_errors, form_page, form_status, refuse, saved, submit
from helpdesk.i18n import _
from helpdesk.security import staff_required
from helpdesk.text import whole_number
from knowledge import services as help_services
from knowledge import views as help_views
from plans import services as plans_services
from tickets import access, bulk, coverage, macros, presence, saved_views, search, services, triage
from tickets.access import MAX_ID, TicketError
from tickets.forms import (
    AssignForm,
    BulkForm,
    CategoryForm,
    DeleteViewForm,
    MacroForm,
    PriorityForm,
    RenameViewForm,
    SaveViewForm,
    StatusForm,
    TimeEntryForm,
    TriageForm,
    with_files,
)
from tickets.placeholders import PLACEHOLDERS
from tickets.queue import next_in_queue, parse_queue_filters, position_of, queue_listing
from tickets.queue_rows import queue_rows
from tickets.services import UNSET, Actor
from tickets.sla.display import ticket_clocks
from tickets.sla.jobs import inline_sweep

bp = Blueprint("agent", __name__, url_prefix="/agent")
# The agent pages' keyboard script (tickets/static/, no build step), served outside /agent/.
assets = Blueprint("agent_assets", __name__, static_folder="static", static_url_path="/static/tickets")

# Query arguments of the queue that are not a filter of which rows it shows.
NOT_CARRIED = ("cursor", "macro")


def carried_args(args: MultiDict[str, str] | dict[str, str]) -> dict[str, str]:
    """The queue's arguments (filters, order, view, search) that links carry from the queue to a
    ticket and back, so the ticket page knows which queue the next ticket comes from."""
    return {k: v for k, v in dict(args).items() if k not in NOT_CARRIED and v and len(v) <= 500}


def expand_view(args: MultiDict[str, str] | dict[str, str]) -> tuple[saved_views.View | None, dict[str, str]]:
    """The current view (from `view=`) and the filter arguments in force: the view's, with any
    argument given beside it winning (a search within a view, the next page)."""
    args = {name: value for name, value in dict(args).items() if value and value.strip()}
    view = None
    key = args.pop("view", None)
    if key:
        view = saved_views.find_view(current_user, key)  # NotFound: the refused page, 404
        args = {**saved_views.expand(view, current_user), **args}
    args.setdefault("sort", "due")
    return view, args


def queue_filters(args: dict[str, str]):
    """The queue's filters from its arguments (a view expanded): the queue page and "next
    ticket" read them alike, so the next ticket comes from the same view and search."""
    _view, expanded = expand_view(args)
    return parse_queue_filters(expanded, default_limit=current_app.config["QUEUE_PAGE_SIZE"])


def _back_args(text: str | None) -> dict[str, str]:
    """A form's `back` field (the queue's query string) as arguments; nothing else gets through."""
    return carried_args(dict(parse_qsl(text))) if text and len(text) <= 2000 else {}


@bp.route("/queue")
@staff_required
def queue():
    """Open tickets, nearest due instant first, with the business time left on each; the views
    beside them with their counts; `q` searches (a ticket number opens that ticket)."""
    _view, expanded = expand_view(request.args)
    found = search.ticket_to_open(current_user, expanded)
    if found is not None:
        return redirect(url_for("agent.ticket", ticket_id=found))
    return _queue()


def _queue(bulk_form: BulkForm | None = None, status: int = 200, args: dict[str, str] | None = None, *,
           save_form: SaveViewForm | None = None, rename_form: RenameViewForm | None = None):
    args = carried_args(request.args) | {"cursor": request.args.get("cursor", "")} if args is None else args
    view, expanded = expand_view(args)
    filters = parse_queue_filters(expanded, default_limit=current_app.config["QUEUE_PAGE_SIZE"])
    now = utcnow()
    inline_sweep(now)
    try:
        rows, next_cursor = queue_listing(current_user, filters, now=now)
    except TicketError as exc:
        rows, next_cursor, status = [], None, 400
        for message in exc.fields.values():  # each names its filter; the parameter name is no word
            flash(message, "error")
    clients = db.session.execute(_clients_statement()).all()
    agents = staff_users()
    carried = carried_args(args)
    if bulk_form is None:
        bulk_form = BulkForm(formdata=None, back=urlencode(carried))
    bulk_form.assignee.choices = _assignee_choices(agents, keep=True)
    views = saved_views.views_for(current_user)
    if rename_form is None and view is not None and view.editable_by(current_user):
        rename_form = RenameViewForm(name=view.name, shared=view.shared)
    return render_template(
        "agent/queue.html",
        tickets=rows,
        rows=queue_rows(rows, now, href=_ticket_href(carried), selected=(bulk_form.ticket.data or [])),
        next_cursor=next_cursor,
        filters=filters,
        args=MultiDict(expanded),
        carried=carried,
        view=view,
        views=views,
        view_counts=saved_views.counts(current_user, views, now),
        count_cap=saved_views.count_cap(),
        saved_args=saved_views.view_args(expanded),
        save_form=save_form or SaveViewForm(),
        rename_form=rename_form,
        clients=clients,
        agents=agents,
        bulk_form=bulk_form,
    ), status


@cache
def _clients_statement() -> Select:
    # Built once: building the statement cost as much as running it (every queue page).
    return select(Client.slug, Client.name).order_by(Client.name)


# A ticket id no ticket has: url_for builds one link around it; each row puts its own id there.
_ID_SLOT = 987654321987654321


def _ticket_href(carried: dict[str, str]) -> tuple[str, str]:
    """The link to a ticket from the queue (its arguments carried), split where the id goes:
    url_for once per page, not once per row. The id is the path's first such run of digits."""
    head, tail = url_for("agent.ticket", ticket_id=_ID_SLOT, **carried).split(str(_ID_SLOT), 1)
    return head, tail


@bp.route("/views", methods=["POST"])
@staff_required
def save_view():
    """Keep the filters in force (posted as hidden fields) as a view of one's own or shared."""
    form = SaveViewForm()
    args = saved_views.view_args(request.form)
    outcome = submit(form, lambda: saved_views.save_view(
        current_user, name=form.name.data, args=args, shared=form.shared.data))
    if not outcome.done:
        return _queue(status=outcome.status or 422, args={"sort": "due", **args}, save_form=form)
    flash(_("View saved."), "success")
    return redirect(url_for("agent.queue", view=outcome.value.id))


@bp.route("/views/<int:view_id>/rename", methods=["POST"])
@staff_required
def rename_view(view_id: int):
    saved_views.find_view(current_user, str(view_id))  # 404 for a view this user may not see
    form = RenameViewForm()
    outcome = submit(form, lambda: saved_views.rename_view(
        current_user, view_id, name=form.name.data, shared=form.shared.data))
    if not outcome.done:
        return _queue(status=outcome.status or 422, args={"view": str(view_id)}, rename_form=form)
    flash(_("Saved."), "success")
    return redirect(url_for("agent.queue", view=view_id))


@bp.route("/views/<int:view_id>/delete", methods=["POST"])
@staff_required
def delete_view(view_id: int):
    form = DeleteViewForm()
    status = form_status(form)
    if status is not None:
        flash_form_errors(form, status)
        return redirect(url_for("agent.queue"))
    try:
        saved_views.delete_view(current_user, view_id)
    except TicketError as exc:  # a view an auto-assignment rule routes by: the message names the rule
        return _queue(status=refuse(None, exc), args={"view": str(view_id)})
    flash(_("View deleted."), "success")
    return redirect(url_for("agent.queue"))


def _assignee_choices(agents: list[User], *, keep: bool) -> list[tuple[str, str]]:
    first = [("", _("Keep")), ("none", _("Nobody"))] if keep else [("", _("Nobody"))]
    return first + [(str(u.id), u.display_name) for u in agents]


def _ticket_ids(values: list[str] | None) -> list[int] | None:
    """The ticked tickets' ids; None when one is not an id."""
    ids = [whole_number(v) for v in values or []]
    return None if any(i is None or not 0 < i <= MAX_ID for i in ids) else ids  # type: ignore[misc]


@bp.route("/queue/bulk", methods=["POST"])
@staff_required
def bulk_action():
    """One change to every ticked ticket, each on its own (tickets.bulk); a summary of what failed."""
    form = BulkForm()
    back = _back_args(form.back.data)
    ids = _ticket_ids(form.ticket.data)

    def apply():
        if ids is None:
            raise TicketError(_("Please correct the marked fields."), {"ticket": _("Unknown ticket.")})
        assignee = form.assignee.data or ""
        return bulk.bulk_update(
            Actor(current_user), ids,
            status=form.status.data or UNSET, priority=form.priority.data or UNSET,
            category=form.category.data or UNSET, reason=form.reason.data or "",
            assignee_id=UNSET if assignee == "" else (None if assignee == "none" else assignee),
        )

    outcome = submit(form, apply, flash_message=True)
    if not outcome.done:
        for message in form.ticket.errors:  # the check boxes are rows of the table: say it on top
            flash(message, "error")
        return _queue(form, outcome.status or 422, back)
    summary = outcome.value
    assert summary is not None
    if summary.changed:
        flash(_("Tickets changed: %(n)s.", n=summary.changed), "success")
    if summary.unchanged:
        flash(_("Tickets that already had these values: %(n)s.", n=summary.unchanged), "success")
    for reason, numbers in summary.failures:
        flash(_("Not changed: %(numbers)s. %(reason)s", numbers=", ".join(numbers), reason=reason), "error")
    return redirect(url_for("agent.queue", **back))


def _detail(ticket, reply_form=None, status: int = 200, time_form=None, new_events=(), back=None):
    now = utcnow()
    if status == 200:
        # First: its commit expires what the session holds; after the history was read, every
        # event was loaded again, one query each, when the page showed it.
        others = presence.mark_present(ticket.id, current_user.id, now)
    else:
        others = presence.others_present(ticket.id, current_user.id, now)
    events = access.history(current_user, ticket)
    agents = staff_users()
    # Assignees are staff: their names come from the staff list the forms need anyway; only a
    # former staff member (deactivated, or no longer staff) is read on its own.
    people_ids = {e.data.get(k) for e in events if e.kind == "assigned" for k in ("from", "to")} - {None}
    people = {u.id: u.display_name for u in agents if u.id in people_ids}
    if people_ids - people.keys():
        people |= {
            u.id: u.display_name
            for u in db.session.scalars(select(User).where(User.id.in_(people_ids - people.keys())))
        }
    policy_ids = {e.data["policy"].get(k) for e in events if e.kind == "sla_recomputed" for k in ("from", "to")}
    policies = {}
    if policy_ids - {None}:
        policies = dict(db.session.execute(
            select(SlaPolicy.id, SlaPolicy.name).where(SlaPolicy.id.in_(policy_ids - {None}))
        ).all())
    assign_form = AssignForm(assignee=str(ticket.assignee_id or ""))
    assign_form.assignee.choices = _assignee_choices(agents, keep=False)
    back = carried_args(request.args) if back is None else back
    if reply_form is None:
        reply_form = TriageForm(formdata=None, back=urlencode(back))
        _fill_from_macro(reply_form, ticket)
    reply_form.set_assignee.choices = _assignee_choices(agents, keep=True)
    if not reply_form.seen_event.data or new_events:
        reply_form.seen_event.data = str(max((e.id for e in events), default=0))
    return render_template(
        "agent/ticket.html",
        ticket=ticket,
        messages=access.thread(current_user, ticket),
        articles=help_services.suggestions(current_user, ticket.subject, language=None),
        attachments=access.attachments(current_user, ticket),
        events=events,
        people=people,
        policies=policies,
        clocks=ticket_clocks(ticket, utcnow()),
        reply_form=reply_form,
        new_event_ids={e.id for e in new_events},
        macros=macros.usable_macros(current_user),
        others=others,
        back=back,
        presence_seconds=current_app.config.get("PRESENCE_HEARTBEAT_SECONDS", 20),
        status_form=StatusForm(status=ticket.status),
        priority_form=PriorityForm(priority=ticket.priority),
        category_form=CategoryForm(category=ticket.category),
        assign_form=assign_form,
        time_form=time_form or TimeEntryForm(work_date=plans_services.coverage_today().isoformat()),
        time_entries=coverage.time_entries(ticket),
        time_charges=plans_services.time_entry_charges(ticket.id),
        decisions=plans_services.decisions_for_ticket(ticket.id),
    ), status


@bp.route("/tickets/<int:ticket_id>")
@staff_required
def ticket(ticket_id: int):
    return _detail(access.get_ticket(current_user, ticket_id))


def _fill_from_macro(form: TriageForm, ticket) -> None:
    """`?macro=ID`: the macro's text (rendered for this ticket) and actions in the reply form."""
    macro_id = request.args.get("macro")
    if not macro_id:
        return
    macro = macros.get_macro(current_user, macro_id)
    form.body.data = macros.rendered_body(macro, ticket)
    for name, value in macros.macro_actions(macro, current_user).items():
        getattr(form, f"set_{name}").data = value
    form.macro.data = str(macro.id)


@bp.route("/tickets/<int:ticket_id>/macro/<int:macro_id>")
@staff_required
def macro_filled(ticket_id: int, macro_id: int):
    """The macro's text for this ticket and the fields it pre-sets, as JSON (the picker's script)."""
    ticket = access.get_ticket(current_user, ticket_id)
    macro = macros.get_macro(current_user, macro_id)
    return jsonify(id=macro.id, body=macros.rendered_body(macro, ticket),
                   fields={f"set_{k}": v for k, v in macros.macro_actions(macro, current_user).items()})


@bp.route("/tickets/<int:ticket_id>/presence", methods=["POST"])
@staff_required
def heartbeat(ticket_id: int):
    """The page's heartbeat: I still have this ticket open; who else has?"""
    ticket = access.get_ticket(current_user, ticket_id)
    now = utcnow()
    return jsonify(others=presence.mark_present(ticket.id, current_user.id, now))


def _changed(value, current):
    """A triage field's value for the service: UNSET when it keeps what the ticket has."""
    return UNSET if value in (None, "") or value == current else value


@bp.route("/tickets/<int:ticket_id>/reply", methods=["POST"])
@staff_required
def reply(ticket_id: int):
    """Send the reply and set the fields in one submit (tickets.triage); then this ticket again,
    or with `then=next` the next ticket of the queue the page was opened from."""
    ticket = access.get_ticket(current_user, ticket_id)
    form = TriageForm()
    back = _back_args(form.back.data)
    filters = queue_filters(back)
    position = position_of(ticket, filters.sort)  # where it stood in the queue before the change
    seen = whole_number(form.seen_event.data or "")
    macro_id = whole_number(form.macro.data or "")
    assignee = form.set_assignee.data or ""

    collisions: list[triage.Collision] = []

    def send(files):
        try:
            return _send(files)
        except triage.Collision as collision:
            collisions.append(collision)
            raise

    def _send(files):
        return triage.send_and_set(
            Actor(current_user), ticket, body=form.body.data, internal=form.internal.data, files=files,
            status=_changed(form.set_status.data, ticket.status),
            priority=_changed(form.set_priority.data, ticket.priority),
            category=_changed(form.set_category.data, ticket.category),
            reason=form.category_reason.data or "",
            minutes=form.time_minutes.data,
            assignee_id=UNSET if assignee == "" else (None if assignee == "none" else assignee),
            seen_event_id=seen if seen is not None and seen <= MAX_ID else None,
            confirmed=form.confirm.data == "1",
            macro_id=macro_id if macro_id and macro_id <= MAX_ID else None,
        )

    outcome = submit(form, with_files(send), flash_message=True)
    if not outcome.done:
        return _detail(access.get_ticket(current_user, ticket_id), form, outcome.status, back=back,
                       new_events=collisions[0].events if collisions else ())
    if outcome.value is None:
        flash(_("Saved."), "success")
    else:
        flash(_("Internal note added.") if form.internal.data else _("Reply sent."), "success")
    if request.form.get("then") == "next":
        following = next_in_queue(current_user, filters, position) if not filters.errors else None
        if following is None:
            flash(_("That was the last ticket of this queue."), "success")
            return redirect(url_for("agent.queue", **back))
        return redirect(url_for("agent.ticket", ticket_id=following.id, **back))
    return redirect(url_for("agent.ticket", ticket_id=ticket_id, **back))


def _change(ticket_id: int, form_class, apply):
    ticket = access.get_ticket(current_user, ticket_id)
    form = form_class()
    status = form_status(form)
    if status is not None:
        flash_form_errors(form, status)
        return _detail(ticket, status=status)
    try:
        apply(Actor(current_user), ticket, form)
    except ServiceError as exc:
        # The page shows these small forms afresh, so every message is flashed.
        return _detail(access.get_ticket(current_user, ticket_id), status=refuse(None, exc, flash_message=True))
    flash(_("Saved."), "success")
    return redirect(url_for("agent.ticket", ticket_id=ticket_id))


@bp.route("/tickets/<int:ticket_id>/status", methods=["POST"])
@staff_required
def status(ticket_id: int):
    return _change(ticket_id, StatusForm, lambda a, t, f: services.change_status(a, t, f.status.data))


@bp.route("/tickets/<int:ticket_id>/priority", methods=["POST"])
@staff_required
def priority(ticket_id: int):
    return _change(ticket_id, PriorityForm, lambda a, t, f: services.change_priority(a, t, f.priority.data))


@bp.route("/tickets/<int:ticket_id>/category", methods=["POST"])
@staff_required
def category(ticket_id: int):
    return _change(
        ticket_id, CategoryForm, lambda a, t, f: services.reclassify(a, t, f.category.data, f.reason.data)
    )


@bp.route("/tickets/<int:ticket_id>/assign", methods=["POST"])
@staff_required
def assign(ticket_id: int):
    return _change(ticket_id, AssignForm, lambda a, t, f: services.assign(a, t, f.assignee.data or None))


@bp.route("/tickets/<int:ticket_id>/time", methods=["POST"])
@staff_required
def log_time(ticket_id: int):
    ticket = access.get_ticket(current_user, ticket_id)
    form = TimeEntryForm()
    outcome = submit(form, lambda: coverage.log_time(
        Actor(current_user), ticket, minutes=form.minutes.data, work_date=form.work_date.data, note=form.note.data
    ), flash_message=True)
    if not outcome.done:
        return _detail(access.get_ticket(current_user, ticket_id), status=outcome.status, time_form=form)
    flash(_("Time logged."), "success")
    return redirect(url_for("agent.ticket", ticket_id=ticket_id))


# -- macros ----------------------------------------------------------------------------------


@bp.route("/macros")
@staff_required
def macro_list():
    """My macros and the shared ones, with how often each was used."""
    return render_template("agent/macros.html", macros=macros.usable_macros(current_user),
                           may_edit=lambda m: macros.may_edit(current_user, m))


def _macro_form_page(macro=None):
    form = MacroForm(obj=macro) if request.method == "GET" else MacroForm()
    if request.method == "GET" and macro is not None:
        form.shared.data = macro.shared
    form.set_assignee.choices = [("", _("Keep")), ("me", _("Whoever applies it"))] + [
        (str(u.id), u.display_name) for u in staff_users()
    ]
    values = lambda: {k: getattr(form, k).data for k in (  # noqa: E731
        "name", "body_en", "body_pl", "set_status", "set_assignee", "set_priority", "set_category")}
    return form_page(
        form,
        lambda: macros.save_macro(current_user, macro, values(), shared=bool(form.shared.data)),
        page=lambda: render_template("agent/macro_form.html", form=form, macro=macro,
                                     editable=macro is None or macros.may_edit(current_user, macro),
                                     placeholders=PLACEHOLDERS,
                                     may_share=current_user.role in macros.MANAGING_ROLES),
        done=lambda saved_macro: saved(_("Macro saved."), url_for("agent.macro_list")),
    )


@bp.route("/macros/new", methods=["GET", "POST"])
@staff_required
def macro_new():
    return _macro_form_page()


@bp.route("/macros/<int:macro_id>", methods=["GET", "POST"])
@staff_required
def macro_edit(macro_id: int):
    """Change a macro; a shared one is shown to agents read-only (managers and admins change it)."""
    return _macro_form_page(macros.get_macro(current_user, macro_id))


@bp.route("/macros/<int:macro_id>/delete", methods=["POST"])
@staff_required
def macro_delete(macro_id: int):
    macros.delete_macro(current_user, macros.get_macro(current_user, macro_id))
    return saved(_("Macro deleted."), url_for("agent.macro_list"))
@bp.route("/tickets/<int:ticket_id>/messages/<int:message_id>/article")
@staff_required
def reply_to_article(ticket_id: int, message_id: int):
    """A staff reply turned into a help article: the editor, filled with the reply's text."""
    ticket = access.get_ticket(current_user, ticket_id)
    message = next((m for m in access.thread(current_user, ticket) if m.id == message_id and not m.internal), None)
    if message is None:
        abort(404)
    return help_views.draft_from(ticket.subject, message.body)
