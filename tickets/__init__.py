"""Tickets: their workflow, the client portal, the agent queue, the API and the commands around them."""

from __future__ import annotations

from datetime import datetime

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the tickets blueprints, commands and template names."""
    from tickets import agent, api, assignment_views, csat, inbound, manager, portal, sla
    from tickets.demo import demo_cli
    from tickets.inbound import poll as inbound_poll
    from tickets.sla.display import duration_text

    app.register_blueprint(portal.bp)
    app.register_blueprint(portal.files_bp)
    app.register_blueprint(agent.bp)
    app.register_blueprint(agent.assets)
    app.register_blueprint(manager.bp)
    app.register_blueprint(assignment_views.duty_bp)
    app.register_blueprint(assignment_views.rules_bp)
    app.jinja_env.globals.update(assignment_views.template_globals())
    app.register_blueprint(csat.bp)
    api.init_app(app)
    app.cli.add_command(demo_cli)
    sla.init_app(app)
    inbound.init_app(app)
    inbound_poll.init_app(app)
    app.jinja_env.globals["sla_duration"] = duration_text
    app.jinja_env.filters["fromiso"] = datetime.fromisoformat
    app.config.setdefault("HOME_ENDPOINTS", {}).update(
        {"client": "portal.tickets", "agent": "agent.queue", "manager": "manager.home", "admin": "admin.home"}
    )
