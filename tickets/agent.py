"""The agent's side: the queue of tickets across clients, and working a ticket."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from helpdesk.accounts import User, staff_users
from helpdesk.calendars.policies import SlaPolicy
from helpdesk.clock import utcnow
from helpdesk.companies import Client
from helpdesk.errors import ServiceError
from helpdesk.extensions import db
from helpdesk.forms import flash_form_errors, form_status, refuse, submit
from helpdesk.i18n import _
from helpdesk.security import staff_required
from knowledge import services as help_services
from knowledge import views as help_views
from plans import services as plans_services
from tickets import access, coverage, saved_views, search, services
from tickets.access import TicketError
from tickets.forms import (
    AssignForm,
    CategoryForm,
    DeleteViewForm,
    PriorityForm,
    RenameViewForm,
    ReplyForm,
    SaveViewForm,
    StatusForm,
    TimeEntryForm,
    with_files,
)
from tickets.models import Ticket
from tickets.queue import parse_queue_filters, queue_page
from tickets.services import Actor
from tickets.sla.display import badges, ticket_clocks
from tickets.sla.jobs import inline_sweep

bp = Blueprint("agent", __name__, url_prefix="/agent")



def _queue_args() -> tuple[saved_views.View | None, dict[str, str]]:
    """The current view (from `?view=`) and the filter arguments in force: the view's, with
    any argument given beside it winning (a search within a view, the next page)."""
    args = {name: value for name, value in request.args.items() if value.strip()}
    view = None
    key = args.pop("view", None)
    if key:
        view = saved_views.find_view(current_user, key)  # NotFound: the refused page, 404
        args = {**saved_views.expand(view, current_user), **args}
    args.setdefault("sort", "due")
    return view, args


def _queue_page(view, args, *, status: int = 200, save_form=None, rename_form=None):
    filters = parse_queue_filters(args, default_limit=current_app.config["QUEUE_PAGE_SIZE"])
    now = utcnow()
    inline_sweep(now)
    try:
        rows, next_cursor = queue_page(current_user, filters, now=now)
    except TicketError as exc:
        rows, next_cursor, status = [], None, 400
        for message in exc.fields.values():  # each names its filter; the parameter name is no word
            flash(message, "error")
    views = saved_views.views_for(current_user)
    clients = db.session.execute(select(Client.slug, Client.name).order_by(Client.name)).all()
    if rename_form is None and view is not None and view.editable_by(current_user):
        rename_form = RenameViewForm(name=view.name, shared=view.shared)
    return render_template(
        "agent/queue.html",
        tickets=rows,
        badges=badges(rows, now),
        next_cursor=next_cursor,
        filters=filters,
        args=args,
        view=view,
        views=views,
        view_counts=saved_views.counts(current_user, views, now),
        count_cap=saved_views.count_cap(),
        saved_args=saved_views.view_args(args),
        save_form=save_form or SaveViewForm(),
        rename_form=rename_form,
        clients=clients,
        agents=staff_users(),
    ), status


@bp.route("/queue")
@staff_required
def queue():
    """Open tickets, nearest due instant first, with the business time left on each; the views
    beside them with their counts; `q` searches (a ticket number opens that ticket)."""
    view, args = _queue_args()
    number = search.ticket_number_in(args.get("q", ""))
    if number is not None and not args.get("cursor"):
        found = db.session.scalar(access.visible_tickets(current_user).where(Ticket.id == number).with_only_columns(Ticket.id))
        if found is not None:
            return redirect(url_for("agent.ticket", ticket_id=found))
    return _queue_page(view, args)


@bp.route("/views", methods=["POST"])
@staff_required
def save_view():
    """Keep the filters in force (posted as hidden fields) as a view of one's own or shared."""
    form = SaveViewForm()
    args = saved_views.view_args(request.form)
    outcome = submit(form, lambda: saved_views.save_view(
        current_user, name=form.name.data, args=args, shared=form.shared.data))
    if not outcome.done:
        return _queue_page(None, {"sort": "due", **args}, status=outcome.status or 422, save_form=form)
    flash(_("View saved."), "success")
    return redirect(url_for("agent.queue", view=outcome.value.id))


@bp.route("/views/<int:view_id>/rename", methods=["POST"])
@staff_required
def rename_view(view_id: int):
    view = saved_views.find_view(current_user, str(view_id))
    form = RenameViewForm()
    outcome = submit(form, lambda: saved_views.rename_view(
        current_user, view_id, name=form.name.data, shared=form.shared.data))
    if not outcome.done:
        return _queue_page(view, {"sort": "due", **saved_views.expand(view, current_user)},
                           status=outcome.status or 422, rename_form=form)
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
    saved_views.delete_view(current_user, view_id)
    flash(_("View deleted."), "success")
    return redirect(url_for("agent.queue"))


def _detail(ticket, reply_form=None, status: int = 200, time_form=None):
    events = access.history(current_user, ticket)
    people_ids = {e.data.get(k) for e in events if e.kind == "assigned" for k in ("from", "to")}
    people = {}
    if people_ids - {None}:
        people = {
            u.id: u.display_name
            for u in db.session.scalars(select(User).where(User.id.in_(people_ids - {None})))
        }
    policy_ids = {e.data["policy"].get(k) for e in events if e.kind == "sla_recomputed" for k in ("from", "to")}
    policies = {}
    if policy_ids - {None}:
        policies = dict(db.session.execute(
            select(SlaPolicy.id, SlaPolicy.name).where(SlaPolicy.id.in_(policy_ids - {None}))
        ).all())
    assign_form = AssignForm(assignee=str(ticket.assignee_id or ""))
    assign_form.assignee.choices = [("", _("Nobody"))] + [
        (str(u.id), u.display_name) for u in staff_users()
    ]
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
        reply_form=reply_form or ReplyForm(),
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


@bp.route("/tickets/<int:ticket_id>/reply", methods=["POST"])
@staff_required
def reply(ticket_id: int):
    ticket = access.get_ticket(current_user, ticket_id)
    form = ReplyForm()
    outcome = submit(form, with_files(lambda files: services.add_message(
        Actor(current_user), ticket, body=form.body.data, internal=form.internal.data, files=files
    )))
    if not outcome.done:
        return _detail(access.get_ticket(current_user, ticket_id), form, outcome.status)
    flash(_("Internal note added.") if form.internal.data else _("Reply sent."), "success")
    return redirect(url_for("agent.ticket", ticket_id=ticket_id))


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


@bp.route("/tickets/<int:ticket_id>/messages/<int:message_id>/article")
@staff_required
def reply_to_article(ticket_id: int, message_id: int):
    """A staff reply turned into a help article: the editor, filled with the reply's text."""
    ticket = access.get_ticket(current_user, ticket_id)
    message = next((m for m in access.thread(current_user, ticket) if m.id == message_id and not m.internal), None)
    if message is None:
        abort(404)
    return help_views.draft_from(ticket.subject, message.body)
