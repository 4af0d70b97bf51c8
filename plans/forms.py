"""Web forms for plans, subscriptions and the package. They carry CSRF and the fields; the
services in plans.services parse and check the values, so the rules exist once."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, SelectChoice, SelectField, SelectMultipleField, StringField
from wtforms.widgets import CheckboxInput, ListWidget

from helpdesk.i18n import _l
from plans.vocabulary import Category, OveragePolicy, PeriodKind


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class TermsFields(FlaskForm):
    covered_categories = MultiCheckboxField(
        _l("Covered categories"), choices=Category.choices(), default=["question", "configuration_change"],
        validate_choice=False,
    )
    allowance_minutes = StringField(_l("Allowance in minutes per period (empty: no limit)"))
    allowance_tickets = StringField(_l("Allowance in tickets per period (empty: no limit)"))
    billing_increment = SelectField(
        _l("Billing increment"),
        choices=[SelectChoice("15", _l("Every started 15 minutes")), SelectChoice("30", _l("Every started 30 minutes")),
                 SelectChoice("1", _l("Every minute"))],
        default="15",
        validate_choice=False,
    )
    rollover_cap_minutes = StringField(_l("Rollover cap in minutes (0: no rollover)"), default="0")
    overage_policy = SelectField(
        _l("When the allowance is used up"), choices=OveragePolicy.choices(), default="bill",
        validate_choice=False,
    )
    hourly_rate = StringField(_l("Hourly rate"))
    currency = StringField(_l("Currency"), default="PLN")
    # Choices (the SLA policies, "" for the default) are set by the view; the service checks them.
    sla_policy_id = SelectField(_l("SLA policy"), choices=[], validate_choice=False)

    def values(self) -> dict:
        return {name: getattr(self, name).data for name in (
            "covered_categories", "allowance_minutes", "allowance_tickets", "billing_increment",
            "rollover_cap_minutes", "overage_policy", "hourly_rate", "currency", "sla_policy_id",
        )}


class NewPlanForm(TermsFields):
    name = StringField(_l("Name"))
    period = RadioField(
        _l("Period"), choices=PeriodKind.choices(), default="month", validate_choice=False
    )


class TermsForm(TermsFields):
    effective_from = StringField(_l("Take effect from (YYYY-MM-DD)"))


class PlanSettingsForm(FlaskForm):
    name = StringField(_l("Name"))
    active = BooleanField(_l("On sale (new subscriptions allowed)"))


class SubscriptionForm(FlaskForm):
    client = SelectField(_l("Client"), choices=[], validate_choice=False)
    plan = SelectField(_l("Plan"), choices=[], validate_choice=False)
    starts_on = StringField(_l("First day (YYYY-MM-DD)"))
    ends_on = StringField(_l("Last day (YYYY-MM-DD, empty: open-ended)"))


class EndSubscriptionForm(FlaskForm):
    ends_on = StringField(_l("Last day (YYYY-MM-DD, empty: open-ended)"))


class PackageForm(FlaskForm):
    protocol_signed_on = StringField(_l("Acceptance protocol signed on (YYYY-MM-DD, empty: still onboarding)"))
    package_months = StringField(_l("Post-onboarding package length in months"), default="1")

