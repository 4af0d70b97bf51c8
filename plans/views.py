"""Pages for plans and usage: managers' plans, subscriptions, package dates and usage reports;
client admins' own usage. Views parse input, call one service and redirect or render."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from helpdesk.calendars.policies import SlaPolicy
from helpdesk.companies import Client
from helpdesk.csv_export import csv_response
from helpdesk.errors import ServiceError
from helpdesk.extensions import db
from helpdesk.forms import form_page, refused_page, saved, submit
from helpdesk.i18n import _
from helpdesk.security import client_required, manager_required
from plans import reports, services
from plans.charts import usage_chart
from plans.forms import (
    EndSubscriptionForm,
    NewPlanForm,
    PackageForm,
    PlanSettingsForm,
    SubscriptionForm,
    TermsForm,
)
from plans.models import Subscription

bp = Blueprint("plans", __name__, url_prefix="/manager")
portal_bp = Blueprint("usage", __name__, url_prefix="/portal")



# -- plans -----------------------------------------------------------------------------------


def _policy_names() -> dict[int, str]:
    """SLA policies by id, in name order (without creating the default policy)."""
    return dict(db.session.execute(select(SlaPolicy.id, SlaPolicy.name).order_by(SlaPolicy.name)).all())


def _with_policies(form: Any, names: dict[int, str] | None = None) -> Any:
    """The plan form's SLA policy choices: "—" (the default policy) and every policy."""
    names = _policy_names() if names is None else names
    form.sla_policy_id.choices = [("", "—")] + [(str(i), name) for i, name in names.items()]
    return form


@bp.route("/plans")
@manager_required
def plans():
    return render_template(
        "manager/plans.html", plans=services.list_plans(), today=services.coverage_today(), policies=_policy_names()
    )


@bp.route("/plans/new", methods=["GET", "POST"])
@manager_required
def new_plan():
    form = _with_policies(NewPlanForm())
    return form_page(
        form,
        lambda: services.create_plan(
            actor_id=current_user.id, name=form.name.data, period=form.period.data, values=form.values()
        ),
        page=lambda: render_template("manager/plan_new.html", form=form),
        done=lambda plan: saved(_("Plan %(name)s created.", name=plan.name), url_for("plans.plan", plan_id=plan.id)),
        flash_message=True,
    )


def _plan_page(plan_id: int, terms_form=None, settings_form=None, status: int = 200):
    plan = services.get_plan(plan_id)
    today = services.coverage_today()
    current = plan.version_on(today)
    if terms_form is None:
        terms_form = TermsForm(
            effective_from=(today + timedelta(days=1)).isoformat(),
            covered_categories=list(current.covered_categories),
            allowance_minutes="" if current.allowance_minutes is None else str(current.allowance_minutes),
            allowance_tickets="" if current.allowance_tickets is None else str(current.allowance_tickets),
            billing_increment=str(current.billing_increment),
            rollover_cap_minutes=str(current.rollover_cap_minutes),
            overage_policy=current.overage_policy,
            hourly_rate="" if current.hourly_rate is None else str(current.hourly_rate),
            currency=current.currency,
            sla_policy_id="" if current.sla_policy_id is None else str(current.sla_policy_id),
        )
    policies = _policy_names()
    _with_policies(terms_form, policies)
    settings_form = settings_form or PlanSettingsForm(name=plan.name, active=plan.active)
    subscriptions = db.session.execute(
        select(Subscription, Client.name).join(Client, Client.id == Subscription.client_id)
        .where(Subscription.plan_id == plan.id).order_by(Subscription.starts_on)
    ).all()
    return render_template(
        "manager/plan.html", plan=plan, current=current, today=today, terms_form=terms_form,
        settings_form=settings_form, subscriptions=subscriptions, policies=policies,
    ), status


@bp.route("/plans/<int:plan_id>")
@manager_required
def plan(plan_id: int):
    return _plan_page(plan_id)


@bp.route("/plans/<int:plan_id>/terms", methods=["POST"])
@manager_required
def plan_terms(plan_id: int):
    form = _with_policies(TermsForm())
    outcome = submit(form, lambda: services.change_plan_terms(
        plan_id, actor_id=current_user.id, effective_from=form.effective_from.data, values=form.values()
    ), flash_message=True)
    if not outcome.done:
        return _plan_page(plan_id, terms_form=form, status=outcome.status)
    flash(_("New terms saved; they apply to periods starting on or after %(day)s.",
            day=outcome.value.effective_from.isoformat()), "success")
    return redirect(url_for("plans.plan", plan_id=plan_id))


@bp.route("/plans/<int:plan_id>/settings", methods=["POST"])
@manager_required
def plan_settings(plan_id: int):
    form = PlanSettingsForm()
    outcome = submit(
        form, lambda: services.update_plan(plan_id, name=form.name.data, active=form.active.data), flash_message=True
    )
    if not outcome.done:
        return _plan_page(plan_id, settings_form=form, status=outcome.status)
    flash(_("Saved."), "success")
    return redirect(url_for("plans.plan", plan_id=plan_id))


# -- subscriptions ---------------------------------------------------------------------------


def _subscription_form(form: SubscriptionForm | None = None) -> SubscriptionForm:
    form = form or SubscriptionForm(starts_on=services.coverage_today().isoformat())
    form.client.choices = [("", "—")] + [
        (str(c.id), c.name) for c in db.session.scalars(select(Client).order_by(Client.name))
    ]
    form.plan.choices = [("", "—")] + [(str(p.id), p.name) for p in services.list_plans() if p.active]
    return form


@bp.route("/subscriptions", methods=["GET", "POST"])
@manager_required
def subscriptions():
    form = _subscription_form(SubscriptionForm() if request.method == "POST" else None)

    def page() -> str:
        rows = db.session.execute(
            select(Subscription, Client).join(Client, Client.id == Subscription.client_id)
            .order_by(Client.name, Subscription.starts_on)
        ).all()
        return render_template(
            "manager/subscriptions.html", form=form, rows=rows, today=services.coverage_today(),
            end_form=EndSubscriptionForm(),
        )

    return form_page(
        form,
        lambda: services.subscribe(
            actor_id=current_user.id, client_id=form.client.data, plan_id=form.plan.data,
            starts_on=form.starts_on.data, ends_on=form.ends_on.data,
        ),
        page=page,
        done=lambda _subscription: saved(_("Subscription saved."), url_for("plans.subscriptions")),
        flash_message=True,
    )


@bp.route("/subscriptions/<int:subscription_id>/end", methods=["POST"])
@manager_required
def end_subscription(subscription_id: int):
    form = EndSubscriptionForm()
    if not form.validate():
        flash(_("The form has expired; please try again."), "error")
        return redirect(url_for("plans.subscriptions")), 303
    try:
        services.end_subscription(subscription_id, ends_on=form.ends_on.data)
    except services.NotFound:
        abort(404)
    except ServiceError as exc:  # the one-field form lives in a table row: the refusal gets a page
        return refused_page(exc, *exc.fields.values())
    flash(_("Subscription saved."), "success")
    return redirect(url_for("plans.subscriptions"))


@bp.route("/clients/<int:client_id>/coverage", methods=["GET", "POST"])
@manager_required
def client_coverage(client_id: int):
    client = db.session.get(Client, client_id) or abort(404)
    form = PackageForm() if request.method == "POST" else PackageForm(
        protocol_signed_on=client.protocol_signed_on.isoformat() if client.protocol_signed_on else "",
        package_months=str(client.package_months),
    )

    def page() -> str:
        today = services.coverage_today()
        situation, previews = services.preview(client_id, today)
        return render_template(
            "manager/client_coverage.html", client=client, form=form, today=today, situation=situation,
            previews=previews, subscriptions=services.client_subscriptions(client_id),
            chart=usage_chart(reports.client_periods(client_id, today)),
        )

    return form_page(
        form,
        lambda: services.set_package(client_id, signed_on=form.protocol_signed_on.data, months=form.package_months.data),
        page=page,
        done=lambda _client: saved(_("Saved."), url_for("plans.client_coverage", client_id=client_id)),
        flash_message=True,
    )


# -- usage reports ---------------------------------------------------------------------------


def _period():
    return reports.report_period(request.args.get("period"), services.coverage_today())


def _client_or_404(client_id: int) -> Client:
    return db.session.get(Client, client_id) or abort(404)


_ANY_CLIENT = 987654321  # a client id no link of the report has otherwise: see _client_urls


def _client_urls() -> Any:
    """url_for for the report's links, one client after another: each link's URL is built once
    (for a stand-in client id) and the real id put in its place. The usage report links every
    figure of every client, and url_for (thousands of calls) took most of the page's time."""
    built: dict[tuple[Any, ...], str] = {}

    def line_url(endpoint: str, client_id: int, **values: Any) -> str:
        key = (endpoint, *values.items())
        if key not in built:
            built[key] = url_for(endpoint, client_id=_ANY_CLIENT, **values)
        return built[key].replace(str(_ANY_CLIENT), str(client_id))

    return line_url


@bp.route("/usage")
@manager_required
def usage():
    period = _period()
    lines = reports.usage_report(period)
    return render_template("manager/usage.html", period=period, lines=lines, line_url=_client_urls())


@bp.route("/usage.csv")
@manager_required
def usage_csv():
    period = _period()
    return csv_response(reports.csv_rows(reports.usage_report(period)), f"usage-{period.label}.csv")


@bp.route("/usage/<int:client_id>/entries")
@manager_required
def usage_entries(client_id: int):
    client = _client_or_404(client_id)
    period = _period()
    filters = {name: request.args.get(name) or None for name in ("charge", "source", "kind")}
    rows = reports.ledger_rows(period, client_id, **filters)
    if request.args.get("format") == "csv":
        return csv_response(reports.csv_ledger(rows), f"ledger-{client.slug}-{period.label}.csv")
    csv_url = url_for("plans.usage_entries", client_id=client_id, period=period.label, format="csv",
                      **{k: v for k, v in filters.items() if v})
    return render_template(
        "manager/usage_entries.html", client=client, period=period, rows=rows, filters=filters, csv_url=csv_url
    )


@bp.route("/usage/<int:client_id>/tickets")
@manager_required
def usage_tickets(client_id: int):
    client = _client_or_404(client_id)
    period = _period()
    filters = {name: request.args.get(name) or None for name in ("category", "source")}
    decisions = reports.report_tickets(period, client_id, **filters)
    return render_template(
        "manager/usage_tickets.html", client=client, period=period, decisions=decisions, filters=filters
    )


@bp.route("/usage/<int:client_id>/statement")
@manager_required
def statement(client_id: int):
    client = _client_or_404(client_id)
    period = _period()
    line, groups = reports.statement(period, client_id)
    return render_template("manager/statement.html", client=client, period=period, line=line, groups=groups)


# -- the client admin's usage ----------------------------------------------------------------


@portal_bp.route("/usage")
@client_required
def company_usage():
    if not current_user.is_client_admin:
        abort(403)
    today = services.coverage_today()
    label = request.args.get("period")
    selected = rows = None
    if label:
        selected = reports.client_period(current_user.client_id, label, today)
        rows = reports.client_period_rows(current_user.client_id, selected)
    periods = reports.client_periods(current_user.client_id, today)
    return render_template(
        "portal/usage.html", periods=periods, selected=selected, rows=rows, today=today,
        chart=usage_chart(periods),
        current=next((p for p in periods if today in p.allowance.period), None),
    )
