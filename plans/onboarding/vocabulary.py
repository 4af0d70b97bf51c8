"""The onboarding's vocabularies: stages, their states, checklist items, Success Plan entries,
meetings and history events, each defined once with its label (see helpdesk/vocabulary.py for
why labels are lazy without importing Flask: the pure `rules` module imports this one).

The checklists of the seed (what the items say) stay in `labels`: they are content, not states.
"""

from __future__ import annotations

from helpdesk.vocabulary import Vocabulary, _l, vocabulary


@vocabulary("stage")
class Stage(Vocabulary):
    """The six stages of the seed, in the order they are normally worked."""

    KICKOFF = (
        "kickoff", _l("Kickoff meeting"),
        _l("Agree the scope of the onboarding and write it down as the Success Plan."),
    )
    CONFIGURATION = (
        "configuration", _l("Configuration and tests"),
        _l("Prepare the integrations and test them; starts once all start data is complete."),
    )
    TRAINING = (
        "training", _l("Training"),
        _l("Online training: the main functions, a check against the Success Plan, access handed over."),
    )
    PROTOCOL = (
        "protocol", _l("Acceptance protocol"),
        _l("The client signs the acceptance protocol; production work, warranty and support start."),
    )
    FOLLOW_UP = (
        "follow_up", _l("Follow-up meeting"),
        _l("One week after the training: advanced functions and questions from the first days."),
    )
    RECURRING = "recurring", _l("Recurring meetings"), _l("Onboarding meetings every two weeks.")


@vocabulary("stage_state")
class StageState(Vocabulary):
    PENDING = "pending", _l("Not started")
    IN_PROGRESS = "in_progress", _l("In progress")
    DONE = "done", _l("Done")


@vocabulary("item_kind")
class ItemKind(Vocabulary):
    """Which checklist an item belongs to."""

    START_DATA = "start_data", _l("Start data")
    CONFIGURATION = "configuration", _l("Configuration")
    TEST = "test", _l("Tests")
    PROTOCOL = "protocol", _l("Basic functions")


@vocabulary("item_state")
class ItemState(Vocabulary):
    OPEN = "open", _l("To do")
    DONE = "done", _l("Complete")
    NOT_APPLICABLE = "not_applicable", _l("Not applicable")


@vocabulary("plan_section")
class PlanSection(Vocabulary):
    """The sections of a Success Plan."""

    INTEGRATION = "integration", _l("Integration")
    PROCESS = "process", _l("Automated process")
    COURIER = "courier", _l("Courier service")


@vocabulary("integration_kind")
class IntegrationKind(Vocabulary):
    MARKETPLACE = "marketplace", _l("Marketplace account")
    SHOP = "shop", _l("Web shop")
    ERP = "erp", _l("ERP")
    COURIER = "courier", _l("Courier")
    OTHER = "other", _l("Other")


@vocabulary("timing")
class Timing(Vocabulary):
    """When a Success Plan entry is to be done."""

    AT_START = "at_start", _l("At start")
    LATER = "later", _l("Later")


@vocabulary("meeting_kind")
class MeetingKind(Vocabulary):
    KICKOFF = "kickoff", _l("Kickoff meeting")
    TRAINING = "training", _l("Training")
    FOLLOW_UP = "follow_up", _l("Follow-up meeting")
    RECURRING = "recurring", _l("Onboarding meeting")
    OTHER = "other", _l("Meeting")


@vocabulary("onboarding_event")
class OnboardingEvent(Vocabulary):
    """An entry of an onboarding's history; the label reads after the actor's name."""

    STARTED = "started", _l("started the onboarding")
    GUARDIAN_CHANGED = "guardian_changed", _l("changed the guardian")
    STAGE_UPDATED = "stage_updated", _l("edited a stage")
    STAGE_STARTED = "stage_started", _l("started a stage")
    STAGE_DONE = "stage_done", _l("completed a stage")
    PLAN_VERSION = "plan_version", _l("recorded a Success Plan version")
    ITEM_CHANGED = "item_changed", _l("updated a checklist item")
    ITEM_ADDED = "item_added", _l("added a start-data item")
    TRAINING_RECORDED = "training_recorded", _l("recorded the training")
    PROTOCOL_RECORDED = "protocol_recorded", _l("recorded the signed acceptance protocol")
    MEETING_SCHEDULED = "meeting_scheduled", _l("scheduled a meeting")
    MEETING_CHANGED = "meeting_changed", _l("changed a meeting")
    MEETING_CANCELLED = "meeting_cancelled", _l("cancelled a meeting")
    REMINDER_SENT = "reminder_sent", _l("sent a meeting reminder")
    COMPLETED = "completed", _l("completed the onboarding")
