"""The composition root: `create_app` builds Opiekun from helpdesk/, tickets/ and plans/.

The module-level `app` is the one entry point for `flask --app app` and gunicorn `app:app`.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

import helpdesk.accounts  # noqa: F401  (registers the user loader)
import knowledge
import plans
import tickets
from helpdesk import babel_cache, config, formats, html_params, idempotency, security, select_widgets
from helpdesk.api import http_error_response, is_api_request, service_error_response
from helpdesk.errors import ServiceError
from helpdesk.extensions import babel, csrf, db, limiter, login_manager, migrate
from helpdesk.forms import refused_page
from helpdesk.i18n import _l, get_locale, select_locale, select_timezone
from helpdesk.markup import render_markdown
from helpdesk.security import HttpsAwareSessionInterface, refuse_nul_characters
from helpdesk.storage import init_storage
from helpdesk.vocabulary import VOCABULARIES, use_translator
from helpdesk.vocabulary import label as vocabulary_label


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(config.defaults(app.instance_path))
    app.config.update(config.from_environment())
    if test_config:
        app.config.update(test_config)
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = config.secret_key(app.instance_path)
    config.rate_limit_storage(app.config)
    app.session_interface = HttpsAwareSessionInterface()

    register_extensions(app)
    register_domains(app)
    register_templates(app)
    register_error_handlers(app)
    register_logging(app)
    return app


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    migrate.init_app(app, db, directory="migrations", render_as_batch=True, compare_type=True)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please log in to see this page.")
    login_manager.session_protection = "strong"
    csrf.init_app(app)
    app.before_request(refuse_nul_characters)
    security.init_app(app)
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    limiter.init_app(app)
    init_storage(app)
    idempotency.init_app(app)  # after CSRF: a forged post never claims a key


def register_domains(app: Flask) -> None:
    from helpdesk import admin, api, auth, company_users, jobs, notifications
    from helpdesk.calendars import admin as calendars_admin
    from helpdesk.cli import init_cli

    app.register_blueprint(auth.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(calendars_admin.bp)
    app.register_blueprint(company_users.bp)
    api.init_app(app)
    init_cli(app)
    jobs.init_app(app)
    notifications.init_app(app)
    plans.init_app(app)
    knowledge.init_app(app)
    tickets.init_app(app)


def register_templates(app: Flask) -> None:
    app.jinja_env.globals.update(markdown=render_markdown, get_locale=get_locale)
    # Every vocabulary's words through one filter: {{ ticket.category|label("category") }}, and
    # {% for s in vocabulary.status %} to list one (helpdesk/vocabulary.py).
    app.jinja_env.filters["label"] = vocabulary_label
    html_params.install()  # WTForms' field attributes without Markup.format (same text)
    select_widgets.install()  # a select's HTML kept per process by everything it is made of
    babel_cache.install_jinja(app)
    babel_cache.install_wtforms()  # WTForms' messages: the catalogue read once per locale, not per request
    use_translator(babel_cache.gettext)  # vocabulary labels: the same catalogue, found once  # the templates' gettext: the catalogue found once per request
    formats.init_app(app)  # |when, |day, |percent, |money, |file_size: helpdesk/formats.py
    app.jinja_env.globals["vocabulary"] = VOCABULARIES


def register_error_handlers(app: Flask) -> None:
    def handle_http(error: HTTPException):
        if is_api_request():  # also paths under /api that match no route: JSON, never HTML
            return http_error_response(error)
        return render_template("error.html", error=error), error.code

    def handle_csrf(error: CSRFError):
        return render_template("error.html", error=error), 400

    def handle_refusal(error: ServiceError):
        return service_error_response(error) if is_api_request() else refused_page(error)

    app.register_error_handler(CSRFError, handle_csrf)
    app.register_error_handler(ServiceError, handle_refusal)
    app.register_error_handler(HTTPException, handle_http)


def register_logging(app: Flask) -> None:
    if not app.debug and not app.testing:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


app = create_app()
