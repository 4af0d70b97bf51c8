"""Tickets: their workflow, the client portal, the agent queue, the API and the commands around them."""

from __future__ import annotations

from datetime import datetime

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the tickets blueprints, commands and template names."""
    from helpdesk.jobs import on_worker_start
    from tickets import agent, api, manager, portal, sla_report
    from tickets.demo import demo_cli
    from tickets.sla import duration_text
    from tickets.sla_cli import sla_cli
    from tickets.sla_jobs import schedule_next_sweep

    app.register_blueprint(portal.bp)
    app.register_blueprint(portal.files_bp)
    app.register_blueprint(agent.bp)
    app.register_blueprint(manager.bp)
    app.register_blueprint(sla_report.bp)
    api.init_app(app)
    app.cli.add_command(demo_cli)
    app.cli.add_command(sla_cli)
    app.config.setdefault("SLA_INLINE_SWEEP", True)
    on_worker_start(app, schedule_next_sweep)
    app.jinja_env.globals["sla_duration"] = duration_text
    app.jinja_env.filters["fromiso"] = datetime.fromisoformat
    app.config.setdefault("HOME_ENDPOINTS", {}).update(
        {"client": "portal.tickets", "agent": "agent.queue", "manager": "manager.home", "admin": "admin.home"}
    )
