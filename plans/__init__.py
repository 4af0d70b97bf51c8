"""Plans: support plans and subscriptions, onboarding and Success Plans, coverage and usage.

Imports nothing of `tickets/`: where a ticket matters, its id is kept as a plain value.
"""

from __future__ import annotations

from flask import Flask

# Settings of the onboarding tracker; the environment or a test config may override any of them.
ONBOARDING_DEFAULTS = {
    "ONBOARDING_TIMEZONE": "Europe/Warsaw",  # the team's calendar: meeting dates, reminders
    "ONBOARDING_STALE_DAYS": 10,  # the managers' overview flags onboardings idle this long
    "ONBOARDING_RECURRING_MEETINGS": 4,  # recurring meetings scheduled ahead after the training
    "ONBOARDING_MEETING_TIME": "10:00",  # local time proposed for scheduled meetings
    "ONBOARDING_MEETING_MINUTES": 60,
    "PROTOCOL_SCAN_MAX_BYTES": 10 * 1024 * 1024,
}


def init_app(app: Flask) -> None:
    """Register the plans blueprints, commands and template names."""
    from plans import onboarding_views
    from plans.onboarding_cli import onboarding_cli
    from plans.onboarding_labels import template_globals

    for key, value in ONBOARDING_DEFAULTS.items():
        app.config.setdefault(key, value)
    app.register_blueprint(onboarding_views.bp)
    app.register_blueprint(onboarding_views.manager_bp)
    app.register_blueprint(onboarding_views.portal_bp)
    app.cli.add_command(onboarding_cli)
    app.jinja_env.globals.update(template_globals())
