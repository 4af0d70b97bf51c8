"""Web pages where each user makes and revokes their own API tokens (linked from Preferences)."""

from __future__ import annotations

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from helpdesk.api.tokens import NAME_MAX, issue_token, revoke_token, user_tokens
from helpdesk.forms import WholeNumberField, submit
from helpdesk.i18n import _, _l

bp = Blueprint("tokens", __name__, url_prefix="/preferences/tokens")


class TokenForm(FlaskForm):
    name = StringField(_l("Name"), validators=[Length(max=NAME_MAX)])


class RevokeForm(FlaskForm):
    """Which token to revoke (an id in the form, not the path: no URL names a token)."""

    token_id = WholeNumberField(validators=[DataRequired()], minimum=1, maximum=2**31 - 1)  # "１" is not 1


def _page(form: TokenForm, *, secret: str | None = None, status: int = 200):
    response = make_response(
        render_template(
            "auth/tokens.html",
            form=form,
            revoke_form=RevokeForm(formdata=None),
            tokens=user_tokens(current_user),
            secret=secret,
        ),
        status,
    )
    response.headers["Cache-Control"] = "no-store"  # the page may show a secret once
    return response


@bp.route("/", methods=["GET", "POST"])
@login_required
def index():
    form = TokenForm()
    if request.method == "GET":
        return _page(form)
    outcome = submit(form, lambda: issue_token(current_user, form.name.data))
    if not outcome.done:
        return _page(form, status=outcome.status)
    _token, secret = outcome.value
    # Shown in this response only: never flashed, since the session cookie is signed, not secret.
    return _page(TokenForm(formdata=None), secret=secret)


@bp.route("/revoke", methods=["POST"])
@login_required
def revoke():
    form = RevokeForm()
    outcome = submit(form, lambda: revoke_token(current_user, form.token_id.data))
    if not outcome.done:
        return _page(TokenForm(formdata=None), status=outcome.status)
    flash(_("The token %(name)s is revoked; it no longer works.", name=outcome.value.name), "success")
    return redirect(url_for("tokens.index"))
