"""Support plans, subscriptions and coverage: who pays for the work on a ticket."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the plans blueprints, the `coverage` commands and template helpers."""
    from plans import models  # noqa: F401  (the tables belong to the app's metadata)
    from plans.cli import coverage_cli
    from plans.labels import render_reason, template_globals
    from plans.views import bp, portal_bp

    app.config.setdefault("COVERAGE_TIMEZONE", "Europe/Warsaw")
    app.config.setdefault("TIME_ENTRY_MAX_AGE_DAYS", 31)
    app.register_blueprint(bp)
    app.register_blueprint(portal_bp)
    app.cli.add_command(coverage_cli)
    app.jinja_env.globals.update(template_globals())
    app.jinja_env.globals["coverage_reason"] = render_reason
