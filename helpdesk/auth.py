"""Logging in and out, password change and reset, and each user's own preferences."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar
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

from helpdesk.accounts import (
    AccountError,
    authenticate,
    bind_session,
    change_password,
    log_out_everywhere,
    mark_login,
    reset_password,
    update_preferences,
    user_for_reset_token,
)
from helpdesk.extensions import limiter
from helpdesk.forms import form_page, form_status, saved, submit
from helpdesk.i18n import LANGUAGE_NAMES, _, _l
from helpdesk.login_throttle import (
    DEVICE_COOKIE,
    DEVICE_COOKIE_MAX_AGE,
    known_device,
    login_refused,
    new_device_cookie,
    normalise_address,
    record_login_failure,
)
from helpdesk.password_reset import request_password_reset

T = TypeVar("T")

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=200)])
    new_password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=200)])
    repeat_password = PasswordField(_l("New password again"), validators=[DataRequired(), Length(max=200)])


class ForgotPasswordForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)])


class ResetPasswordForm(FlaskForm):
    new_password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=200)])
    repeat_password = PasswordField(_l("New password again"), validators=[DataRequired(), Length(max=200)])


def _new_password(action: Callable[[], T]) -> Callable[[], T]:
    """The password policy names its field `password`: on these forms that is the new one."""
    def run() -> T:
        try:
            return action()
        except AccountError as exc:
            if exc.field in (None, "password"):
                exc.fields = {"new_password": exc.message}
            raise
    return run


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
def login():
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    form = LoginForm()
    status = (form_status(form) or 200) if request.method == "POST" else 200
    if request.method == "POST" and status == 200:
        address = normalise_address(form.email.data)
        device = known_device(request.cookies.get(DEVICE_COOKIE), address)
        if login_refused(address, device):
            # Refused without looking at the password, so the answer tells a guesser nothing.
            form.password.errors.append(_("Too many attempts. Please wait a minute and try again."))
            return render_template("auth/login.html", form=form), 429
        user = authenticate(address, form.password.data)
        if user is not None:
            next_url = _safe_next(request.args.get("next"))
            language = session.get("language")
            session.clear()  # a fresh session on login: nothing from before survives
            if language:
                session["language"] = language
            login_user(user)
            bind_session(user)
            mark_login(user)
            response = redirect(next_url or home_for(user))
            if device is None:
                response.set_cookie(
                    DEVICE_COOKIE, new_device_cookie(address), max_age=DEVICE_COOKIE_MAX_AGE,
                    httponly=True, samesite="Lax", secure=request.is_secure,
                )
            return response
        record_login_failure(address, device)
        form.password.errors.append(_("Wrong e-mail or password."))
        status = 401
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
def logout():
    if current_user.is_authenticated:
        log_out_everywhere(current_user)  # a copy of this cookie, anywhere, is dead too
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_ADDRESS"], methods=["POST"])
def forgot_password():
    form = ForgotPasswordForm()
    status = (form_status(form) or 200) if request.method == "POST" else 200
    if request.method == "POST" and status == 200:
        request_password_reset(form.email.data)
        # The same answer whether or not the address is known (or asked too often).
        flash(_("If the address belongs to an account, we have sent it a link to set a new password. "
                "The link works once, for one hour."), "success")
        return redirect(url_for("auth.login"))
    return render_template("auth/forgot_password.html", form=form), status


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_ADDRESS"], methods=["POST"])
def reset_password_page(token: str):
    if user_for_reset_token(token) is None:
        return render_template("auth/reset_password.html", form=None), 404
    form = ResetPasswordForm()

    def done(_user):
        logout_user()
        session.clear()
        return saved(_("Your password is changed. Log in with the new one."), url_for("auth.login"))

    return form_page(
        form,
        _new_password(lambda: reset_password(token, new=form.new_password.data, repeat=form.repeat_password.data)),
        page=lambda: render_template("auth/reset_password.html", form=form),
        done=done,
    )


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
    return form_page(
        form,
        lambda: update_preferences(
            current_user,
            name=form.name.data,
            language=form.language.data or None,
            timezone=form.timezone.data.strip(),
        ),
        page=lambda: render_template("auth/preferences.html", form=form, password_form=PasswordChangeForm()),
        done=lambda _user: saved(_("Your preferences are saved."), url_for("auth.preferences")),
    )


@bp.route("/preferences/password", methods=["POST"])
@login_required
def change_own_password():
    form = PasswordChangeForm()
    outcome = submit(form, _new_password(lambda: change_password(
        current_user,
        current=form.current_password.data,
        new=form.new_password.data,
        repeat=form.repeat_password.data,
    )))
    if outcome.done:
        bind_session(current_user)  # other sessions end; this one goes on
        flash(_("Your password is changed. Your other sessions are logged out."), "success")
        return redirect(url_for("auth.preferences"))
    prefs = PreferencesForm(obj=current_user)
    prefs.language.choices = [("", _("Browser's language"))] + list(LANGUAGE_NAMES.items())
    prefs.language.data = current_user.language or ""
    return render_template("auth/preferences.html", form=prefs, password_form=form), outcome.status
