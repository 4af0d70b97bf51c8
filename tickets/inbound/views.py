"""The e-mail channel's pages.

- Agents: `/agent/mail`, the "Unrecognised mail" list (unknown senders, pending contacts,
  held loops) with the reason for each; an agent files a message for a client (its sender
  becomes a contact of that client and the message a ticket) or discards it. `?outcome=` shows
  the record of any other outcome, so agents see why each message was placed where it was.
- Client admins: `/portal/contacts`, the pending contacts of their company, to confirm or discard.
- Admins: `/admin/mail/failed` (messages that could not be filed, with the reason), the inbound
  mailboxes and the clients' e-mail domains.

Lists walk the `(outcome, id)` / `(client_id, id)` indexes newest first, `?before=<id>` for
the next page.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import BooleanField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from helpdesk.companies import Client
from helpdesk.errors import NotFound, ServiceError
from helpdesk.extensions import db
from helpdesk.forms import ChoiceField, form_page, refused_page, saved
from helpdesk.i18n import _, _l
from helpdesk.security import admin_required, roles_required, staff_required
from helpdesk.text import whole_number
from tickets.inbound import receive, settings
from tickets.inbound.models import ClientEmailDomain, InboundMailbox, InboundMessage
from tickets.inbound.vocabulary import WAITING_FOR_AGENT, MailOutcome
from tickets.vocabulary import Category

bp = Blueprint("inbound", __name__)
client_required = roles_required("client")
PAGE = 50


class FileForm(FlaskForm):
    client = SelectField(_l("Client company"), choices=[], validators=[DataRequired()])


class EmptyForm(FlaskForm):
    """A button: nothing but the CSRF token."""


class MailboxForm(FlaskForm):
    address = StringField(_l("Address"), validators=[DataRequired(), Length(max=254)])
    category = ChoiceField(_l("Default category"), choices=Category.choices())
    active = BooleanField(_l("Active"), default=True)
    imap_url = StringField(_l("IMAP server"), validators=[Optional(), Length(max=500)])
    imap_user = StringField(_l("IMAP user"), validators=[Optional(), Length(max=254)])
    imap_password_ref = StringField(_l("Environment variable holding the IMAP password"),
                                    validators=[Optional(), Length(max=100)])
    folder_inbox = StringField(_l("Folder to read"), default="INBOX", validators=[Length(max=200)])
    folder_processed = StringField(_l("Folder for processed mail"), default="Processed", validators=[Length(max=200)])
    folder_failed = StringField(_l("Folder for failed mail"), default="Failed", validators=[Length(max=200)])


class DomainForm(FlaskForm):
    client = SelectField(_l("Client company"), choices=[])
    domain = StringField(_l("E-mail domain"), validators=[DataRequired(), Length(max=253)])


def _before() -> int | None:
    value = whole_number(request.args.get("before", ""))
    return value if value is not None and 0 < value <= 2**31 - 1 else None


def _page(query: Any) -> tuple[list[InboundMessage], int | None]:
    before = _before()
    if before is not None:
        query = query.where(InboundMessage.id < before)
    rows = list(db.session.scalars(query.order_by(InboundMessage.id.desc()).limit(PAGE + 1)))
    return rows[:PAGE], rows[PAGE - 1].id if len(rows) > PAGE else None


def _clients() -> list[tuple[str, str]]:
    return [(str(i), name) for i, name in db.session.execute(
        select(Client.id, Client.name).where(Client.active.is_(True)).order_by(Client.name))]


def _client_names(rows: list[InboundMessage]) -> dict[int, str]:
    ids = {r.client_id for r in rows if r.client_id}
    if not ids:
        return {}
    return dict(db.session.execute(select(Client.id, Client.name).where(Client.id.in_(ids))).all())


# -- agents ----------------------------------------------------------------------------------


@bp.route("/agent/mail")
@staff_required
def unrecognised():
    """Messages waiting for an agent, or (`?outcome=`) the record of one outcome."""
    return _unrecognised_page()


def _unrecognised_page(file_form: FileForm | None = None, status: int = 200):
    outcome = request.args.get("outcome") or ""
    if outcome and outcome not in MailOutcome.values():
        flash(_("Choose one of: %(values)s.", values=", ".join(MailOutcome.values())), "error")
        outcome = ""
    if outcome:
        query = select(InboundMessage).where(InboundMessage.outcome == outcome)
    else:
        query = select(InboundMessage).where(InboundMessage.outcome.in_(WAITING_FOR_AGENT),
                                             InboundMessage.handled_at.is_(None))
    rows, next_before = _page(query)
    if file_form is None:
        file_form = FileForm()
        file_form.client.choices = _clients()
    return render_template("inbound/unrecognised.html", rows=rows, next_before=next_before, outcome=outcome,
                           outcomes=MailOutcome, file_form=file_form, empty_form=EmptyForm(),
                           client_names=_client_names(rows), waiting=WAITING_FOR_AGENT), status


def _waiting(inbound_id: int, client_id: int | None = None) -> InboundMessage:
    record = db.session.get(InboundMessage, inbound_id)
    if record is None or record.outcome not in WAITING_FOR_AGENT:
        raise NotFound(_("There is no such message."))
    if client_id is not None and (record.client_id != client_id or record.outcome != MailOutcome.PENDING_CONTACT):
        raise NotFound(_("There is no such message."))
    return record


@bp.route("/agent/mail/<int:inbound_id>/file", methods=["POST"])
@staff_required
def file_message(inbound_id: int):
    record = _waiting(inbound_id)
    form = FileForm()
    form.client.choices = _clients()
    if not form.validate():
        flash(_("Choose a client company."), "error")
        return _unrecognised_page(form, 422)
    client = db.session.get(Client, int(form.client.data))
    try:
        ticket = receive.file_waiting(current_user, record, client)
    except ServiceError as exc:
        return refused_page(exc)
    flash(_("Filed as %(number)s.", number=ticket.number), "success")
    return redirect(url_for("inbound.unrecognised"))


@bp.route("/agent/mail/<int:inbound_id>/discard", methods=["POST"])
@staff_required
def discard_message(inbound_id: int):
    record = _waiting(inbound_id)
    if not EmptyForm().validate():
        abort(400)
    receive.discard_waiting(current_user, record)
    flash(_("Message discarded."), "success")
    return redirect(url_for("inbound.unrecognised"))


# -- client admins ---------------------------------------------------------------------------


def _client_admin(refusal: int = 403) -> None:
    if not current_user.is_client_admin:
        abort(refusal)


@bp.route("/portal/contacts")
@client_required
def contacts():
    _client_admin()
    query = select(InboundMessage).where(InboundMessage.client_id == current_user.client_id,
                                         InboundMessage.outcome == MailOutcome.PENDING_CONTACT.value,
                                         InboundMessage.handled_at.is_(None))
    rows, next_before = _page(query)
    return render_template("inbound/contacts.html", rows=rows, next_before=next_before, form=EmptyForm())


@bp.route("/portal/contacts/<int:inbound_id>/confirm", methods=["POST"])
@client_required
def confirm_contact(inbound_id: int):
    _client_admin(404)  # never a hint that the record exists
    record = _waiting(inbound_id, client_id=current_user.client_id)
    if not EmptyForm().validate():
        abort(400)
    try:
        ticket = receive.file_waiting(current_user, record, db.session.get(Client, current_user.client_id))
    except ServiceError as exc:
        return refused_page(exc)
    flash(_("Contact confirmed; their message is ticket %(number)s.", number=ticket.number), "success")
    return redirect(url_for("inbound.contacts"))


@bp.route("/portal/contacts/<int:inbound_id>/discard", methods=["POST"])
@client_required
def discard_contact(inbound_id: int):
    _client_admin(404)
    record = _waiting(inbound_id, client_id=current_user.client_id)
    if not EmptyForm().validate():
        abort(400)
    receive.discard_waiting(current_user, record)
    flash(_("Message discarded."), "success")
    return redirect(url_for("inbound.contacts"))


# -- admins ----------------------------------------------------------------------------------


@bp.route("/admin/mail/failed")
@admin_required
def failed():
    rows, next_before = _page(select(InboundMessage).where(InboundMessage.outcome == MailOutcome.FAILED.value))
    return render_template("inbound/failed.html", rows=rows, next_before=next_before,
                           limit_mb=current_app.config["MAIL_IN_MAX_BYTES"] // (1024 * 1024))


@bp.route("/admin/mail/mailboxes")
@admin_required
def mailboxes():
    rows = db.session.scalars(select(InboundMailbox).order_by(InboundMailbox.address)).all()
    return render_template("inbound/mailboxes.html", mailboxes=rows)


def _mailbox_page(mailbox: InboundMailbox | None):
    form = MailboxForm(obj=mailbox if request.method == "GET" and mailbox else None)
    return form_page(
        form,
        lambda: settings.save_mailbox(
            mailbox, address=form.address.data, category=form.category.data, active=form.active.data,
            imap_url=form.imap_url.data or "", imap_user=form.imap_user.data or "",
            imap_password_ref=form.imap_password_ref.data or "", folder_inbox=form.folder_inbox.data,
            folder_processed=form.folder_processed.data, folder_failed=form.folder_failed.data,
        ),
        page=lambda: render_template("inbound/mailbox_form.html", form=form, mailbox=mailbox),
        done=lambda _saved: saved(_("Mailbox saved."), url_for("inbound.mailboxes")),
    )


@bp.route("/admin/mail/mailboxes/new", methods=["GET", "POST"])
@admin_required
def new_mailbox():
    return _mailbox_page(None)


@bp.route("/admin/mail/mailboxes/<int:mailbox_id>", methods=["GET", "POST"])
@admin_required
def edit_mailbox(mailbox_id: int):
    return _mailbox_page(db.session.get(InboundMailbox, mailbox_id) or abort(404))


@bp.route("/admin/mail/domains", methods=["GET", "POST"])
@admin_required
def domains():
    form = DomainForm()
    form.client.choices = [("", "—"), *_clients()]
    rows = db.session.execute(
        select(ClientEmailDomain, Client.name).join(Client, Client.id == ClientEmailDomain.client_id)
        .order_by(Client.name, ClientEmailDomain.domain)
    ).all()
    return form_page(
        form,
        lambda: settings.add_domain(form.client.data, form.domain.data),
        page=lambda: render_template("inbound/domains.html", form=form, rows=rows, empty_form=EmptyForm()),
        done=lambda _domain: saved(_("Domain added."), url_for("inbound.domains")),
    )


@bp.route("/admin/mail/domains/<int:domain_id>/delete", methods=["POST"])
@admin_required
def delete_domain(domain_id: int):
    if not EmptyForm().validate():
        abort(400)
    settings.remove_domain(domain_id)
    flash(_("Domain removed."), "success")
    return redirect(url_for("inbound.domains"))
