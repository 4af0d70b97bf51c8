"""The manager's overview of the ticket load (plans and reports add their own pages)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from helpdesk import formats
from helpdesk.charts import Series, line_chart
from helpdesk.clock import utcnow
from helpdesk.companies import Client
from helpdesk.extensions import db
from helpdesk.forms import submit
from helpdesk.i18n import _
from helpdesk.security import manager_required
from plans import services as plans_services
from tickets import access, coverage
from tickets.access import TicketError
from tickets.backlog import backlog_weeks
from tickets.forms import ApprovalForm
from tickets.models import STATUSES, TicketCount
from tickets.services import Actor

bp = Blueprint("manager", __name__, url_prefix="/manager")


@bp.route("/")
@manager_required
def home():
    # The counts come from ticket_counts (kept by triggers), not from a GROUP BY over every ticket:
    # one query whose cost grows with the number of clients, not of tickets.
    rows = db.session.execute(
        select(Client.slug, Client.name, Client.phase, TicketCount.status, TicketCount.n)
        .join(TicketCount, TicketCount.client_id == Client.id, isouter=True)
        .order_by(Client.name, Client.id)
    ).all()
    table: dict[str, dict] = {}
    for slug, name, phase, status, count in rows:
        entry = table.setdefault(slug, {"name": name, "phase": phase, "counts": dict.fromkeys(STATUSES, 0)})
        if status:
            entry["counts"][status] = count
    return render_template("manager/home.html", table=table, statuses=STATUSES)


@bp.route("/backlog")
@manager_required
def backlog():
    """The open-ticket backlog at the end of each of the last twelve weeks (an estimate: tickets/backlog.py).

    A page of its own: the manager home reads only summary counts, this reads the tickets of the
    window (index ranges of twelve weeks, whatever the history before them)."""
    weeks = backlog_weeks(utcnow())
    chart = line_chart(
        [formats.day(day) for day, _open in weeks], [Series(_("Open tickets"), [n for _day, n in weeks])],
        formats.number,
    )
    return render_template("manager/backlog.html", chart=chart, weeks=weeks)


# -- the approval queue: uncovered work waits here for a manager --------------------------------



def _approvals_page(form: ApprovalForm | None = None, form_ticket_id: int | None = None, status: int = 200):
    try:
        rows, next_cursor = coverage.approval_queue(request.args.get("cursor"))
    except TicketError as exc:
        flash(exc.message, "error")
        rows, next_cursor, status = [], None, 400
    decisions = plans_services.current_decisions([t.id for t in rows])
    return render_template(
        "manager/approvals.html", tickets=rows, next_cursor=next_cursor, decisions=decisions,
        form=form or ApprovalForm(), form_ticket_id=form_ticket_id,
    ), status


@bp.route("/approvals")
@manager_required
def approvals():
    return _approvals_page()


@bp.route("/approvals/<int:ticket_id>", methods=["POST"])
@manager_required
def settle(ticket_id: int):
    ticket = access.get_ticket(current_user, ticket_id)
    form = ApprovalForm()
    outcome = submit(form, lambda: coverage.settle(
        Actor(current_user), ticket, outcome=form.outcome.data, message=form.message.data,
        rate=form.rate.data, currency=form.currency.data,
    ), flash_message=True)
    if not outcome.done:
        return _approvals_page(form, ticket_id, outcome.status)
    flash(_("%(number)s: decision recorded and the client told.", number=ticket.number), "success")
    return redirect(url_for("manager.approvals"))


@bp.route("/approvals/<int:ticket_id>/retry", methods=["POST"])
@manager_required
def retry(ticket_id: int):
    ticket = access.get_ticket(current_user, ticket_id)
    outcome = submit(ApprovalForm(), lambda: coverage.retry_coverage(Actor(current_user), ticket), flash_message=True)
    if not outcome.done:
        return _approvals_page(status=outcome.status)
    flash(_("Saved."), "success")
    return redirect(url_for("manager.approvals"))
