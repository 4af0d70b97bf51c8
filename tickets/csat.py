"""Satisfaction (CSAT): the client rates a resolved ticket 1-5, once; managers read the report.

The requester is asked in the resolution e-mail (a signed link, `/rate/<token>`, that names the
ticket and the requester: it works until RATING_LINK_DAYS and, since a ticket has one rating,
only once) and on the portal's ticket page. `rate` is the one service behind the portal form,
the link page and `POST /api/v1/tickets/{id}/rating`. A rating of 1 or 2 notifies the ticket's
agent and the managers (tickets.notices.rated_low, through the outbox).

The report groups `ticket_ratings` (agent, client, category and month copied at rating time)
with one GROUP BY per dimension, whatever the number of rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import Blueprint, current_app, render_template, request, url_for
from flask_babel import format_decimal, format_percent
from flask_login import current_user
from flask_wtf import FlaskForm
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError
from wtforms import SelectChoice, TextAreaField

from helpdesk.accounts import User, _ClockSigner
from helpdesk.clock import utcnow
from helpdesk.companies import Client
from helpdesk.csv_export import csv_response
from helpdesk.errors import Conflict, Forbidden, Invalid, NotFound
from helpdesk.extensions import db
from helpdesk.forms import RadioChoiceField, saved, submit
from helpdesk.i18n import _, _l, format_date
from helpdesk.security import client_required, manager_required
from helpdesk.text import check_text
from tickets import access, notices
from tickets import client_rules as rules
from tickets.models import Ticket, TicketEvent, TicketRating
from tickets.sla.report import REPORT_ZONE, _month_arg, months_between, next_month
from tickets.vocabulary import Category

RATING_LINK_DAYS = 30
COMMENT_MAX_CHARS = 2000
SCORE_LABELS = {
    1: _l("1 · Very poor"), 2: _l("2 · Poor"), 3: _l("3 · Fair"), 4: _l("4 · Good"), 5: _l("5 · Excellent"),
}


# -- the link --------------------------------------------------------------------------------


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="csat-rating", signer=_ClockSigner)


def rating_path(ticket: Ticket) -> str:
    """The path of the e-mail's rating link (the mail adds BASE_URL)."""
    token = _serializer().dumps({"ticket": ticket.id, "user": ticket.requester_id})
    return f"/rate/{token}"


def ticket_for_token(token: str) -> tuple[Ticket, User] | None:
    """The ticket and requester a valid, unexpired link names; None otherwise."""
    try:
        data = _serializer().loads(token, max_age=RATING_LINK_DAYS * 24 * 3600)
    except (SignatureExpired, BadSignature):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("ticket"), int) or not isinstance(data.get("user"), int):
        return None
    ticket = db.session.get(Ticket, data["ticket"])
    user = db.session.get(User, data["user"])
    if ticket is None or user is None or not user.active or ticket.requester_id != user.id:
        return None
    return ticket, user


# -- rating ----------------------------------------------------------------------------------


def rating_of(ticket_id: int) -> TicketRating | None:
    return db.session.scalar(select(TicketRating).where(TicketRating.ticket_id == ticket_id))


def can_rate(user: User, ticket: Ticket) -> bool:
    """Whether the page offers the form: the requester, on a resolved or closed ticket not yet rated."""
    return (user.is_client and user.id == ticket.requester_id
            and rules.may_rate(ticket.status, rating_of(ticket.id) is not None))


def rate(user: User, ticket: Ticket, *, score: Any, comment: Any = "", via: str = "web") -> TicketRating:
    """The requester rates their ticket once, after resolution. Commits.

    Another company's ticket is NotFound; a colleague's 403; before resolution or a second time
    409; a score that is not 1 to 5 is 422.
    """
    if not user.is_client or ticket.client_id != user.client_id:
        raise NotFound(_("No such ticket."))
    if user.id != ticket.requester_id:
        raise Forbidden(_("Only the person who filed the ticket can rate it."))
    fields: dict[str, str] = {}
    if isinstance(score, str) and score.strip().isdigit():
        score = int(score.strip())
    if not rules.valid_score(score):
        fields["score"] = _("Choose a score from 1 to 5.")
    comment = check_text(fields, "comment", comment or "", required=False, limit=COMMENT_MAX_CHARS)
    if fields:
        raise Invalid(_("Please correct the marked fields."), fields)
    if rating_of(ticket.id) is not None:
        raise Conflict(_("This ticket is already rated. Thank you!"))
    if not rules.may_rate(ticket.status, False):
        raise Conflict(_("A ticket can be rated once it is resolved."))
    now = utcnow()
    rating = TicketRating(
        ticket_id=ticket.id, client_id=ticket.client_id, rater_id=user.id, agent_id=ticket.assignee_id,
        category=ticket.category, score=score, comment=comment, via=via[:10], rated_at=now,
        month=rules.rating_month(now, str(REPORT_ZONE)),
    )
    db.session.add(rating)
    try:
        db.session.flush()
    except IntegrityError as exc:  # a second rating raced this one
        db.session.rollback()
        raise Conflict(_("This ticket is already rated. Thank you!")) from exc
    db.session.add(TicketEvent(ticket_id=ticket.id, actor_id=user.id, via=via, kind="rated",
                               data={"score": score}, created_at=now))
    if score in rules.LOW_SCORES:
        notices.rated_low(ticket, score, comment)
    db.session.commit()
    return rating


# -- the report ------------------------------------------------------------------------------

DIMENSIONS = {"agent": _l("Agent"), "client": _l("Client"), "category": _l("Category"), "month": _l("Month")}


@dataclass
class Row:
    key: str
    label: str
    count: int
    total: int
    satisfied: int

    @property
    def average(self) -> float | None:
        return self.total / self.count if self.count else None

    @property
    def share(self) -> float | None:
        return rules.satisfied_share(self.satisfied, self.count)


def _grouped(column: Any, first: date, last: date) -> list[tuple[Any, int, int, int]]:
    satisfied = func.sum(case((TicketRating.score >= 4, 1), else_=0))
    measures = (func.count(TicketRating.id), func.sum(TicketRating.score), satisfied)
    within = (TicketRating.month >= first, TicketRating.month <= last)
    if column is None:
        ((c, t, s),) = db.session.execute(select(*measures).where(*within)).all()
        return [(None, int(c), int(t or 0), int(s or 0))]
    query = select(column, *measures).where(*within).group_by(column)
    return [(k, int(c), int(t or 0), int(s or 0)) for k, c, t, s in db.session.execute(query)]


def report_rows(by: str, first: date, last: date) -> list[Row]:
    """One GROUP BY over the ratings of the months first..last, and one query for the names."""
    column = {"agent": TicketRating.agent_id, "client": TicketRating.client_id,
              "category": TicketRating.category, "month": TicketRating.month}[by]
    grouped = _grouped(column, first, last)
    names: dict[Any, str] = {}
    keys = [k for k, *_ in grouped if k is not None]
    if by == "agent" and keys:
        names = {u.id: u.display_name for u in db.session.scalars(select(User).where(User.id.in_(keys)))}
    elif by == "client" and keys:
        names = {c.id: c.name for c in db.session.scalars(select(Client).where(Client.id.in_(keys)))}
    rows = []
    for key, count, total, satisfied in grouped:
        if by == "month":
            label = format_date(key, "LLLL yyyy")
        elif by == "category":
            label = str(Category.label_of(str(key)))
        elif key is None:
            label = _("Nobody")
        else:
            label = names.get(key, "—")
        rows.append(Row(str(key), label, count, total, satisfied))
    if by == "month":
        rows.sort(key=lambda r: r.key)
    else:
        rows.sort(key=lambda r: r.label.lower())
    return rows


def report_total(first: date, last: date) -> Row:
    ((_key, count, total, satisfied),) = _grouped(None, first, last)
    return Row("total", _("All"), count, total, satisfied)


def chart(monthly: list[Row], months: list[date], width: int = 720, height: int = 240) -> dict:
    """Coordinates for an inline SVG bar chart of the average score per month (1-5)."""
    by_key = {r.key: r for r in monthly}
    left, right, top, bottom = 44, 12, 12, 36
    inner_w, inner_h = width - left - right, height - top - bottom
    slot = inner_w / max(len(months), 1)
    bars = []
    for i, month in enumerate(months):
        row = by_key.get(month.isoformat())
        if row is None or row.average is None:
            continue
        h = round(inner_h * row.average / 5, 1)
        bars.append({"x": round(left + i * slot + slot * 0.15, 1), "w": round(slot * 0.7, 1),
                     "y": round(top + inner_h - h, 1), "h": h,
                     "title": f"{format_date(month, 'LLLL yyyy')}: {format_decimal(row.average, '0.0')} ({row.count})"})
    ticks = [{"y": round(top + inner_h * (1 - v / 5), 1), "label": format_decimal(v, "0")} for v in range(6)]
    labels = [{"x": round(left + i * slot + slot / 2, 1), "label": format_date(m, "LLL yy")}
              for i, m in enumerate(months) if len(months) <= 12 or i % 2 == 0]
    return {"width": width, "height": height, "left": left, "right": width - right, "top": top,
            "bottom": height - bottom, "bars": bars, "ticks": ticks, "labels": labels}


def _period() -> tuple[date, date, dict[str, str]]:
    today = utcnow().astimezone(REPORT_ZONE).date().replace(day=1)
    default_first = next_month(date(today.year - 1, today.month, 1))
    first, first_error = _month_arg("from", default_first)
    last, last_error = _month_arg("to", today)
    errors = {k: v for k, v in (("from", first_error), ("to", last_error)) if v}
    if last < first:
        errors["to"] = _("The last month comes before the first.")
    elif len(months_between(first, last)) > 36:
        errors["to"] = _("At most %(n)s months at once.", n=36)
    if errors:
        first, last = default_first, today
    return first, last, errors


# -- pages -----------------------------------------------------------------------------------

bp = Blueprint("csat", __name__)


class RatingForm(FlaskForm):
    score = RadioChoiceField(_l("Your rating"), choices=[SelectChoice(str(k), v) for k, v in SCORE_LABELS.items()])
    comment = TextAreaField(_l("Comment (optional)"))


@bp.route("/portal/tickets/<int:ticket_id>/rating", methods=["POST"])
@client_required
def rate_in_portal(ticket_id: int):
    ticket = access.get_ticket(current_user, ticket_id)
    form = RatingForm()
    outcome = submit(form, lambda: rate(current_user, ticket, score=form.score.data, comment=form.comment.data),
                     flash_message=True)
    if outcome.done:
        return saved(_("Thank you for your rating."), url_for("portal.ticket", ticket_id=ticket_id))
    return saved(_("Your rating was not saved."), url_for("portal.ticket", ticket_id=ticket_id)) \
        if outcome.status == 400 else _portal_again(ticket_id, form, outcome.status)


def _portal_again(ticket_id: int, form: RatingForm, status: int | None):
    from tickets.portal import render_ticket

    return render_ticket(ticket_id, rating_form=form, status=status or 422)


@bp.route("/rate/<token>", methods=["GET", "POST"])
def rate_by_link(token: str):
    """The e-mail's link: no login needed; the signed token names the ticket and its requester."""
    found = ticket_for_token(token)
    if found is None:
        return render_template("portal/rate.html", ticket=None, form=None, rated=None), 404
    ticket, user = found
    rated = rating_of(ticket.id)
    form = RatingForm()
    status = 200
    if request.method == "POST" and rated is None:
        outcome = submit(form, lambda: rate(user, ticket, score=form.score.data, comment=form.comment.data,
                                            via="email"))
        if outcome.done:
            return render_template("portal/rate.html", ticket=ticket, form=None, rated=outcome.value, thanks=True)
        status = outcome.status or 422
    if rated is None and not rules.may_rate(ticket.status, False):
        return render_template("portal/rate.html", ticket=ticket, form=None, rated=None, not_yet=True), 409
    return render_template("portal/rate.html", ticket=ticket, form=None if rated else form, rated=rated), status


@bp.route("/manager/csat/")
@manager_required
def report():
    first, last, errors = _period()
    by = request.args.get("by") or "agent"
    if by not in DIMENSIONS:
        errors["by"] = _("Choose how to group the report.")
        by = "agent"
    months = months_between(first, last)
    rows = report_rows(by, first, last)
    monthly = rows if by == "month" else report_rows("month", first, last)
    return render_template(
        "manager/csat_report.html", rows=rows, total=report_total(first, last), by=by, dimensions=DIMENSIONS,
        chart=chart(monthly, months), first=first, last=last, errors=errors,
        fmt_average=lambda v: "—" if v is None else format_decimal(v, "0.00"),
        fmt_share=lambda v: "—" if v is None else format_percent(v, "#,##0.0%"),
    ), (400 if errors else 200)


@bp.route("/manager/csat/report.csv")
@manager_required
def report_csv():
    first, last, errors = _period()
    by = request.args.get("by") or "agent"
    if by not in DIMENSIONS or errors:
        return render_template("refused.html", status=400,
                               message=" ".join(errors.values()) or _("Choose how to group the report.")), 400
    rows = report_rows(by, first, last) + [report_total(first, last)]
    header = [str(DIMENSIONS[by]), _("Ratings"), _("Average"), _("Share of 4-5")]
    body = [[r.label, r.count, "" if r.average is None else round(r.average, 2),
             "" if r.share is None else round(r.share * 100, 1)] for r in rows]
    return csv_response([header, *body], f"csat-{by}-{first:%Y-%m}-{last:%Y-%m}.csv")
