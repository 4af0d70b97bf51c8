"""Pages: the admin's view of the outbox, queue and webhooks; each user's notice preferences."""

from __future__ import annotations

from typing import Any

import redis
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from rq import Worker
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from helpdesk.extensions import db
from helpdesk.forms import refusal
from helpdesk.i18n import _
from helpdesk.jobs import named_queue, redis_connection
from helpdesk.notifications import inbox as inbox_module
from helpdesk.notifications import preferences
from helpdesk.notifications.delivery import retry_entry
from helpdesk.notifications.events import WEBHOOK_EVENT_TYPES
from helpdesk.notifications.models import Delivery, OutboxEntry, WebhookEndpoint
from helpdesk.notifications.outbox import QUEUE
from helpdesk.notifications.webhooks import WebhookError, create_endpoint, deactivate_endpoint
from helpdesk.security import admin_required, staff_required
from helpdesk.text import whole_number

admin_bp = Blueprint("notifications", __name__, url_prefix="/admin/notifications")
preferences_bp = Blueprint("notification_preferences", __name__)
# A keyset cursor beyond any id a database column holds is no page of ours.
MAX_CURSOR = 2**31 - 1  # ids are 32-bit integers in both databases


def queue_status() -> dict[str, Any]:
    """Queue depth and live workers, or the reason they cannot be read."""
    if not current_app.config.get("REDIS_URL"):
        return {"mode": "inline"}
    try:
        connection = redis_connection()
        queue = named_queue(QUEUE, connection)
        workers = Worker.all(connection=connection)
        return {
            "mode": "rq",
            "queued": queue.count,
            "started": StartedJobRegistry(queue=queue).count,
            "scheduled": ScheduledJobRegistry(queue=queue).count,
            "failed": FailedJobRegistry(queue=queue).count,
            "workers": [
                {"name": w.name, "state": w.get_state(), "heartbeat": w.last_heartbeat, "queues": w.queue_names()}
                for w in workers
            ],
        }
    except redis.RedisError as exc:
        return {"mode": "rq", "error": str(exc)}


@admin_bp.route("/")
@admin_required
def dashboard():
    counts = dict(db.session.execute(select(OutboxEntry.state, func.count()).group_by(OutboxEntry.state)).all())
    dead = db.session.scalars(
        select(OutboxEntry).where(OutboxEntry.state == "dead").options(selectinload(OutboxEntry.deliveries))
        .order_by(OutboxEntry.id.desc()).limit(50)
    ).all()
    refused = db.session.scalars(
        select(Delivery).where(Delivery.state == "failed").order_by(Delivery.id.desc()).limit(50)
    ).all()
    return render_template(
        "admin/notifications.html", counts=counts, dead=dead, refused=refused, status=queue_status()
    )


def _posted_id(name: str) -> int:
    value = whole_number(request.form.get(name, ""))
    if value is None:
        abort(404)
    return value


@admin_bp.route("/retry", methods=["POST"])
@admin_required
def retry():
    """Send a dead (or partly refused) notification again; the id comes in the form."""
    entry = db.session.get(OutboxEntry, _posted_id("entry_id")) or abort(404)
    retry_entry(entry)
    flash(_("Notification %(id)s will be sent again.", id=entry.id), "success")
    return redirect(url_for("notifications.dashboard"))


@admin_bp.route("/webhooks", methods=["GET", "POST"])
@admin_required
def webhooks():
    errors: dict[str, str] = {}
    status = 200
    form = {"url": "", "events": [], "description": ""}
    if request.method == "POST":
        form = {
            "url": request.form.get("url", ""),
            "events": request.form.getlist("events"),
            "description": request.form.get("description", ""),
        }
        try:
            endpoint = create_endpoint(form["url"], form["events"], form["description"])
        except WebhookError as exc:
            errors, status = refusal(exc)
        else:
            flash(_("Webhook endpoint %(url)s registered. Its signing secret is shown below.", url=endpoint.url),
                  "success")
            return redirect(url_for("notifications.webhooks"))
    endpoints = db.session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id)).all()
    return render_template(
        "admin/webhooks.html", endpoints=endpoints, errors=errors, form=form, event_types=WEBHOOK_EVENT_TYPES.values(),
        allow_private=current_app.config["WEBHOOKS_ALLOW_PRIVATE"],
    ), status


@admin_bp.route("/webhooks/deactivate", methods=["POST"])
@admin_required
def deactivate_webhook():
    endpoint = db.session.get(WebhookEndpoint, _posted_id("endpoint_id")) or abort(404)
    deactivate_endpoint(endpoint)
    flash(_("Webhook endpoint deactivated."), "success")
    return redirect(url_for("notifications.webhooks"))


@preferences_bp.route("/preferences/notifications", methods=["POST"])
@login_required
def save_preferences():
    wanted = set(request.form.getlist("receive"))
    preferences.save_choices(current_user, wanted)
    flash(_("Your notification choices are saved."), "success")
    return redirect(url_for("auth.preferences"))


def _notification_choices() -> list[dict[str, Any]]:
    """For the preferences page: the user's optional notices and whether each is on."""
    if not current_user.is_authenticated:
        return []
    muted = preferences.muted_events(current_user)
    return [{"name": e.name, "label": e.label, "on": e.name not in muted}
            for e in preferences.optional_events(current_user)]


def template_globals() -> dict[str, Any]:
    return {"notification_choices": _notification_choices}


# -- in-app notifications (staff) -----------------------------------------------------------------

inbox_bp = Blueprint("inbox", __name__, url_prefix="/agent/notifications")


@inbox_bp.route("/")
@staff_required
def inbox():
    """The user's notifications, newest first, by keyset (`before`: the last id of the page before)."""
    raw = request.args.get("before")
    before = None
    if raw is not None:
        before = whole_number(raw)
        if before is None or before > MAX_CURSOR:
            flash(_("That page link is not valid; here is the first page."), "error")
            return render_template("agent/notifications.html", items=[], next_before=None, unread_only=False), 400
    unread_only = request.args.get("unread") == "1"
    items, next_before = inbox_module.inbox_page(current_user.id, before=before, unread_only=unread_only)
    return render_template("agent/notifications.html", items=items, next_before=next_before, unread_only=unread_only)


@inbox_bp.route("/read", methods=["POST"])
@staff_required
def mark_read():
    """Mark one item read; with `open`, go on to its ticket."""
    item = inbox_module.own_item(current_user.id, _posted_id("item_id")) or abort(404)
    inbox_module.mark_read(current_user.id, item.id)
    if request.form.get("open") and item.ticket_id is not None:
        return redirect(url_for("agent.ticket", ticket_id=item.ticket_id))
    return redirect(url_for("inbox.inbox"))


@inbox_bp.route("/read-all", methods=["POST"])
@staff_required
def mark_all_read():
    count = inbox_module.mark_all_read(current_user.id)
    flash(_("Notifications marked read: %(count)s.", count=count), "success")
    return redirect(url_for("inbox.inbox"))
