"""The admin's pages: users and client companies."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from helpdesk.accounts import (
    User,
    bind_session,
    create_user,
    staff_users,
    update_user,
)
from helpdesk.companies import Client, client_by_slug, create_client, update_client
from helpdesk.extensions import db
from helpdesk.forms import ChoiceField, form_page, saved
from helpdesk.i18n import _, _l
from helpdesk.security import admin_required
from helpdesk.vocabulary import Role

bp = Blueprint("admin", __name__, url_prefix="/admin")



class UserForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)])
    name = StringField(_l("Full name"), validators=[Length(max=200)])
    password = PasswordField(_l("Password"), validators=[Optional(), Length(max=200)])
    role = ChoiceField(_l("Role"), choices=Role.choices())
    client = SelectField(_l("Client company"), choices=[])
    client_admin = BooleanField(_l("Client admin (sees all of the company's tickets)"))
    active = BooleanField(_l("Active"), default=True)


class ClientForm(FlaskForm):
    slug = StringField(_l("Slug"), validators=[DataRequired(), Length(max=40)])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    guardian = SelectField(_l("Onboarding guardian"), choices=[])
    active = BooleanField(_l("Active"), default=True)


def _client_choices() -> list[tuple[str, str]]:
    clients = db.session.scalars(select(Client).order_by(Client.name))
    return [("", "—")] + [(c.slug, c.name) for c in clients]


def _guardian_choices() -> list[tuple[str, str]]:
    return [("", "—")] + [(str(u.id), u.display_name) for u in staff_users("agent")]


@bp.route("/")
@admin_required
def home():
    users = db.session.scalar(select(db.func.count(User.id)))
    clients = db.session.scalar(select(db.func.count(Client.id)))
    return render_template("admin/home.html", users=users, clients=clients)


@bp.route("/users")
@admin_required
def users():
    rows = db.session.scalars(select(User).order_by(User.role, User.email)).all()
    return render_template("admin/users.html", users=rows)


@bp.route("/users/new", methods=["GET", "POST"])
@admin_required
def new_user():
    form = UserForm()
    form.client.choices = _client_choices()
    return form_page(
        form,
        lambda: create_user(
            email=form.email.data,
            password=form.password.data or "",
            role=form.role.data,
            client_slug=form.client.data or None,
            client_admin=form.client_admin.data,
            name=form.name.data,
        ),
        page=lambda: render_template("admin/user_form.html", form=form, user=None),
        done=lambda _user: saved(_("User created."), url_for("admin.users")),
    )


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@admin_required
def edit_user(user_id: int):
    user = db.session.get(User, user_id) or abort(404)
    form = UserForm(obj=user if request.method == "GET" else None)
    form.client.choices = _client_choices()
    if request.method == "GET":
        form.client.data = user.client.slug if user.client else ""
        form.client_admin.data = user.is_client_admin
    form.email.render_kw = {"readonly": True}

    def done(_user: User):
        if user.id == current_user.id and user.active:
            bind_session(user)  # an admin editing themselves stays logged in here only
        return saved(_("User saved."), url_for("admin.users"))

    return form_page(
        form,
        lambda: update_user(
            user,
            name=form.name.data,
            role=form.role.data,
            client=client_by_slug(form.client.data) if form.client.data else None,
            client_admin=form.client_admin.data,
            active=form.active.data,
            password=form.password.data or None,
        ),
        page=lambda: render_template("admin/user_form.html", form=form, user=user),
        done=done,
    )


@bp.route("/clients")
@admin_required
def clients():
    rows = db.session.scalars(select(Client).order_by(Client.name)).all()
    return render_template("admin/clients.html", clients=rows)


@bp.route("/clients/new", methods=["GET", "POST"])
@admin_required
def new_client():
    form = ClientForm()
    form.guardian.choices = _guardian_choices()

    def create() -> Client:
        client = create_client(form.slug.data, form.name.data)
        if form.guardian.data:
            update_client(client, name=client.name, active=True, guardian_id=int(form.guardian.data))
        return client

    return form_page(
        form, create,
        page=lambda: render_template("admin/client_form.html", form=form, client=None),
        done=lambda _client: saved(_("Client created."), url_for("admin.clients")),
    )


@bp.route("/clients/<int:client_id>", methods=["GET", "POST"])
@admin_required
def edit_client(client_id: int):
    client = db.session.get(Client, client_id) or abort(404)
    form = ClientForm(obj=client if request.method == "GET" else None)
    form.guardian.choices = _guardian_choices()
    if request.method == "GET":
        form.guardian.data = str(client.guardian_id or "")
    else:
        form.slug.data = client.slug  # the slug is fixed once created
    form.slug.render_kw = {"readonly": True}
    return form_page(
        form,
        lambda: update_client(
            client,
            name=form.name.data,
            active=form.active.data,
            guardian_id=int(form.guardian.data) if form.guardian.data else None,
        ),
        page=lambda: render_template("admin/client_form.html", form=form, client=client),
        done=lambda _client: saved(_("Client saved."), url_for("admin.clients")),
    )
