"""Web forms for plans, subscriptions and the package. Choices come from the vocabularies (or the
rows the view lists) and are validated, numbers are parsed here (ASCII digits); the services in
plans.services check the values again, for the API, and own the rules between fields."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectChoice, SelectField, StringField

from helpdesk.forms import AmountField, ChoiceField, ChoicesField, RadioChoiceField, WholeNumberField
from helpdesk.i18n import _l
from plans.services import MAX_ALLOWANCE_MINUTES, MAX_ALLOWANCE_TICKETS, MAX_PACKAGE_MONTHS, MAX_RATE
from plans.vocabulary import Category, OveragePolicy, PeriodKind


class TermsFields(FlaskForm):
    covered_categories = ChoicesField(
        _l("Covered categories"), choices=Category.choices(), default=["question", "configuration_change"],
    )
    allowance_minutes = WholeNumberField(
        _l("Allowance in minutes per period (empty: no limit)"), maximum=MAX_ALLOWANCE_MINUTES
    )
    allowance_tickets = WholeNumberField(
        _l("Allowance in tickets per period (empty: no limit)"), maximum=MAX_ALLOWANCE_TICKETS
    )
    billing_increment = ChoiceField(
        _l("Billing increment"),
        choices=[SelectChoice("15", _l("Every started 15 minutes")), SelectChoice("30", _l("Every started 30 minutes")),
                 SelectChoice("1", _l("Every minute"))],
        default="15",
    )
    rollover_cap_minutes = WholeNumberField(
        _l("Rollover cap in minutes (0: no rollover)"), maximum=MAX_ALLOWANCE_MINUTES, default=0
    )
    overage_policy = ChoiceField(_l("When the allowance is used up"), choices=OveragePolicy.choices(), default="bill")
    hourly_rate = AmountField(_l("Hourly rate"), maximum=MAX_RATE)
    currency = StringField(_l("Currency"), default="PLN")
    # Choices (the SLA policies, "" for the default) are set by the view.
    sla_policy_id = ChoiceField(
        _l("SLA policy"), choices=[], default="", message=_l("Choose an SLA policy from the list.")
    )

    def values(self) -> dict:
        return {name: getattr(self, name).data for name in (
            "covered_categories", "allowance_minutes", "allowance_tickets", "billing_increment",
            "rollover_cap_minutes", "overage_policy", "hourly_rate", "currency", "sla_policy_id",
        )}


class NewPlanForm(TermsFields):
    name = StringField(_l("Name"))
    period = RadioChoiceField(_l("Period"), choices=PeriodKind.choices(), default="month")


class TermsForm(TermsFields):
    effective_from = StringField(_l("Take effect from (YYYY-MM-DD)"))


class PlanSettingsForm(FlaskForm):
    name = StringField(_l("Name"))
    active = BooleanField(_l("On sale (new subscriptions allowed)"))


class SubscriptionForm(FlaskForm):
    # The clients and the plans on sale are listed by the view; the service checks the ids it
    # gets and says which is wrong (a plan no longer on sale, an unknown client).
    client = SelectField(_l("Client"), choices=[], validate_choice=False)
    plan = SelectField(_l("Plan"), choices=[], validate_choice=False)
    starts_on = StringField(_l("First day (YYYY-MM-DD)"))
    ends_on = StringField(_l("Last day (YYYY-MM-DD, empty: open-ended)"))


class EndSubscriptionForm(FlaskForm):
    ends_on = StringField(_l("Last day (YYYY-MM-DD, empty: open-ended)"))


class PackageForm(FlaskForm):
    protocol_signed_on = StringField(_l("Acceptance protocol signed on (YYYY-MM-DD, empty: still onboarding)"))
    package_months = WholeNumberField(
        _l("Post-onboarding package length in months"), minimum=1, maximum=MAX_PACKAGE_MONTHS, default=1
    )

