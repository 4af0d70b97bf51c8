"""The manager's overview of the ticket load (plans and reports add their own pages)."""

from __future__ import annotations

from flask import Blueprint, render_template
from sqlalchemy import func, select

from helpdesk.companies import Client
from helpdesk.extensions import db
from helpdesk.security import manager_required
from tickets.models import STATUSES, Ticket

bp = Blueprint("manager", __name__, url_prefix="/manager")


@bp.route("/")
@manager_required
def home():
    rows = db.session.execute(
        select(Client.slug, Client.name, Client.phase, Ticket.status, func.count(Ticket.id))
        .join(Ticket, Ticket.client_id == Client.id, isouter=True)
        .group_by(Client.slug, Client.name, Client.phase, Ticket.status)
        .order_by(Client.name)
    ).all()
    table: dict[str, dict] = {}
    for slug, name, phase, status, count in rows:
        entry = table.setdefault(slug, {"name": name, "phase": phase, "counts": dict.fromkeys(STATUSES, 0)})
        if status:
            entry["counts"][status] = count
    return render_template("manager/home.html", table=table, statuses=STATUSES)
