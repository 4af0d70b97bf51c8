"""The client portal: file a ticket, see your tickets and their threads, reply."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user, login_required

from helpdesk.clock import utcnow
from helpdesk.forms import submit
from helpdesk.i18n import _, language
from helpdesk.security import client_required
from helpdesk.storage import storage
from helpdesk.transactions import kept_after_commit
from knowledge import services as help_services
from plans import services as plans_services
from tickets import access, search, services
from tickets.access import TicketError
from tickets.forms import ActionForm, FollowerForm, NewTicketForm, ReplyForm, with_files
from tickets.queue import parse_queue_filters, queue_page
from tickets.services import Actor

bp = Blueprint("portal", __name__, url_prefix="/portal")
files_bp = Blueprint("files", __name__)



@bp.route("/")
@client_required
def tickets():
    args = dict(request.args)
    mine_only = not current_user.is_client_admin or args.get("scope") != "company"
    found = search.ticket_to_open(current_user, args)  # "OP-123" opens that ticket, if this user may see it
    if found is not None:
        return redirect(url_for("portal.ticket", ticket_id=found))
    filters = parse_queue_filters({**args, "status": args.get("status") or "all"}, default_limit=25)
    try:
        rows, next_cursor = queue_page(current_user, filters, requester_only=mine_only)
    except TicketError as exc:
        return render_template("portal/tickets.html", tickets=[], next_cursor=None, error=exc,
                               mine_only=mine_only), 400
    return render_template("portal/tickets.html", tickets=rows, next_cursor=next_cursor, error=None,
                           mine_only=mine_only)


@bp.route("/tickets/new", methods=["GET", "POST"])
@client_required
def new_ticket():
    form = NewTicketForm()
    status = 200
    if request.method == "POST":
        visit = request.form.get("visit")

        def file(files):
            # the form's visit ends in a ticket (help_services.visit_filed writes in the filing's transaction)
            help_services.visit_filed(current_user, visit)
            return services.file_ticket(
                Actor(current_user),
                subject=form.subject.data,
                description=form.description.data,
                category=form.category.data,
                priority=form.priority.data,
                files=files,
            )

        with kept_after_commit():  # the redirect names the ticket: no reading it back after the commit
            outcome = submit(form, with_files(file))
        if outcome.done:
            ticket = outcome.value
            flash(_("Thank you. Your ticket %(number)s is filed.", number=ticket.number), "success")
            return redirect(url_for("portal.ticket", ticket_id=ticket.id))
        status = outcome.status
        if status != 200 and any(f.filename for f in request.files.getlist("attachments")):
            form.attachments.errors = list(form.attachments.errors) + [
                _("Please attach your files again.")
            ]
    today = plans_services.coverage_today()
    situation, previews = plans_services.preview(current_user.client_id, today)
    visit = request.form.get("visit") if request.method == "POST" else help_services.start_visit(current_user)
    suggested = help_services.suggestions(current_user, form.subject.data or "", language=language())
    return render_template("portal/new_ticket.html", form=form, previews=previews, situation=situation,
                           visit=visit, suggested=suggested), status


@bp.route("/tickets/<int:ticket_id>", methods=["GET", "POST"])
@client_required
def ticket(ticket_id: int):
    ticket = access.get_ticket(current_user, ticket_id)
    form = ReplyForm()
    status = 200
    if request.method == "POST":
        outcome = submit(form, with_files(
            lambda files: services.client_reply(Actor(current_user), ticket, body=form.body.data, files=files)
        ), flash_message=True)
        if outcome.done:
            landed = outcome.value
            if landed.id != ticket.id:
                flash(_("This ticket can no longer be reopened, so your reply is filed as a new ticket %(number)s "
                        "linked to %(old)s.", number=landed.number, old=ticket.number), "success")
            else:
                flash(_("Your reply is sent."), "success")
            return redirect(url_for("portal.ticket", ticket_id=landed.id))
        status = outcome.status
    return render_ticket(ticket_id, form=form, status=status)


def render_ticket(ticket_id: int, *, form: ReplyForm | None = None, rating_form=None, status: int | None = 200):
    """The client's ticket page (also shown again by a refused rating, tickets.csat)."""
    from tickets import csat, followers
    from tickets.client_rules import may_close, may_reopen

    ticket = access.get_ticket(current_user, ticket_id)
    window = current_app.config["REOPEN_WINDOW_DAYS"]
    return render_template(
        "portal/ticket.html",
        ticket=ticket,
        messages=access.thread(current_user, ticket),
        attachments=access.attachments(current_user, ticket),
        form=form or ReplyForm(),
        decision=plans_services.current_decision(ticket.id),
        may_close=may_close(ticket.status),
        may_reopen=may_reopen(ticket.status, ticket.resolved_at, utcnow(), window),
        reopen_days=window,
        action=ActionForm(),
        rating=csat.rating_of(ticket.id),
        rating_form=rating_form if rating_form is not None else (
            csat.RatingForm() if csat.can_rate(current_user, ticket) else None),
        followers=followers.followers(ticket),
        follower_candidates=followers.candidates(ticket),
        follower_form=FollowerForm(),
        links=services.linked_tickets(ticket),
    ), status or 200


@bp.route("/tickets/<int:ticket_id>/close", methods=["POST"])
@client_required
def close(ticket_id: int):
    ticket = access.get_ticket(current_user, ticket_id)
    outcome = submit(ActionForm(), lambda: services.close_by_client(Actor(current_user), ticket), flash_message=True)
    if outcome.done:
        flash(_("Thank you. The ticket is closed."), "success")
    return redirect(url_for("portal.ticket", ticket_id=ticket_id))


@bp.route("/tickets/<int:ticket_id>/reopen", methods=["POST"])
@client_required
def reopen(ticket_id: int):
    ticket = access.get_ticket(current_user, ticket_id)
    outcome = submit(ActionForm(), lambda: services.reopen_by_client(Actor(current_user), ticket), flash_message=True)
    if outcome.done:
        flash(_("The ticket is open again."), "success")
    return redirect(url_for("portal.ticket", ticket_id=ticket_id))


@bp.route("/tickets/<int:ticket_id>/followers", methods=["POST"])
@client_required
def change_followers(ticket_id: int):
    from tickets import followers

    ticket = access.get_ticket(current_user, ticket_id)
    form = FollowerForm()
    remove = request.form.get("remove") == "1"
    outcome = submit(form, lambda: (followers.remove_follower if remove else followers.add_follower)(
        Actor(current_user), ticket, form.user.data), flash_message=True)
    if outcome.done:
        flash(_("The followers are saved."), "success")
    if remove and outcome.done and str(form.user.data) == str(current_user.id):
        return redirect(url_for("portal.tickets"))
    return redirect(url_for("portal.ticket", ticket_id=ticket_id))


@files_bp.route("/attachments/<int:attachment_id>")
@login_required
def attachment(attachment_id: int):
    """Any user's download, after the same access check as the ticket's."""
    try:
        found = access.get_attachment(current_user, attachment_id)
        stream = storage().open(found.storage_key)
    except (services.NotFound, KeyError):
        abort(404)
    response = send_file(
        stream,
        mimetype=found.content_type,
        as_attachment=True,
        download_name=found.filename,
        max_age=0,
    )
    # The stored type is complete ("text/plain; charset=utf-8"): send_file would add a second charset.
    response.headers["Content-Type"] = found.content_type
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response
