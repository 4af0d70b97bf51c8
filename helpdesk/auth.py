"""Logging in and out, and each user's own preferences (language, timezone)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length

from helpdesk.accounts import AccountError, authenticate, mark_login, update_preferences
from helpdesk.extensions import db, limiter
from helpdesk.i18n import LANGUAGE_NAMES, _, _l
from helpdesk.security import login_account_key

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


class PreferencesForm(FlaskForm):
    name = StringField(_l("Full name"), validators=[Length(max=200)])
    language = SelectField(_l("Language"))
    timezone = StringField(_l("Timezone"), validators=[DataRequired(), Length(max=64)])


def home_for(user) -> str:
    endpoints = current_app.config["HOME_ENDPOINTS"]
    return url_for(endpoints.get(user.role, "auth.preferences"))


def _safe_next(target: str | None) -> str | None:
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.route("/")
def index():
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    return redirect(url_for("auth.login"))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_ADDRESS"], methods=["POST"])
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"],
    key_func=login_account_key,
    methods=["POST"],
)
def login():
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        user = authenticate(form.email.data, form.password.data)
        if user is not None:
            next_url = _safe_next(request.args.get("next"))
            language = session.get("language")
            session.clear()  # a fresh session on login: nothing from before survives
            if language:
                session["language"] = language
            login_user(user)
            mark_login(user)
            return redirect(next_url or home_for(user))
        db.session.rollback()
        form.password.errors.append(_("Wrong e-mail or password."))
        status = 401
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
def logout():
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


@bp.route("/language/<code>", methods=["POST"])
def choose_language(code: str):
    """Language for visitors who are not logged in (users pick theirs in preferences)."""
    if code in current_app.config["LANGUAGES"]:
        session["language"] = code
    return redirect(_safe_next(request.form.get("next")) or url_for("auth.login"))


@bp.route("/preferences", methods=["GET", "POST"])
@login_required
def preferences():
    form = PreferencesForm(obj=current_user if request.method == "GET" else None)
    form.language.choices = [("", _("Browser's language"))] + list(LANGUAGE_NAMES.items())
    if request.method == "GET":
        form.language.data = current_user.language or ""
    status = 200
    if form.validate_on_submit():
        try:
            update_preferences(
                current_user,
                name=form.name.data,
                language=form.language.data or None,
                timezone=form.timezone.data.strip(),
            )
        except AccountError as exc:
            db.session.rollback()
            getattr(form, exc.field or "name").errors.append(str(exc))
            status = 422
        else:
            flash(_("Your preferences are saved."), "success")
            return redirect(url_for("auth.preferences"))
    elif request.method == "POST":
        status = 422
    return render_template("auth/preferences.html", form=form), status
