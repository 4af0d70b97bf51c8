"""What the onboarding's stages, checklists, plan entries and meetings are called, in the user's language.

The checklists of the seed live here too: the keys are stored, the words are translated when shown.
"""

from __future__ import annotations

from helpdesk.i18n import _l

STAGE_LABELS = {
    "kickoff": _l("Kickoff meeting"),
    "configuration": _l("Configuration and tests"),
    "training": _l("Training"),
    "protocol": _l("Acceptance protocol"),
    "follow_up": _l("Follow-up meeting"),
    "recurring": _l("Recurring meetings"),
}
STAGE_HELP = {
    "kickoff": _l("Agree the scope of the onboarding and write it down as the Success Plan."),
    "configuration": _l("Prepare the integrations and test them; starts once all start data is complete."),
    "training": _l("Online training: the main functions, a check against the Success Plan, access handed over."),
    "protocol": _l("The client signs the acceptance protocol; production work, warranty and support start."),
    "follow_up": _l("One week after the training: advanced functions and questions from the first days."),
    "recurring": _l("Onboarding meetings every two weeks."),
}
STAGE_STATE_LABELS = {
    "pending": _l("Not started"),
    "in_progress": _l("In progress"),
    "done": _l("Done"),
}
ITEM_STATE_LABELS = {
    "open": _l("To do"),
    "done": _l("Complete"),
    "not_applicable": _l("Not applicable"),
}

# Data the client sends with the order; configuration starts only when the required ones are in.
START_DATA_ITEMS = {
    "order_forms": _l("Onboarding forms sent with the order, filled in completely"),
    "company_details": _l("Company details and the sender address for shipping labels"),
    "payment_delivery_methods": _l("Payment and delivery methods used in the sales channels and the ERP"),
    "label_printers": _l("Label printers and the workstations that will print labels"),
}
# One more start-data item is added for every integration agreed "at start" in the Success Plan.
INTEGRATION_ACCESS = _l("Access data for %(kind)s: %(name)s")

CONFIGURATION_ITEMS = {
    "erp_integration": _l("Integration with the ERP"),
    "shop_integration": _l("Integration with the web shops"),
    "marketplace_integration": _l("Integration with the marketplaces"),
    "courier_integration": _l("Integration with the couriers"),
    "payment_dictionary": _l("Payment dictionary and its mappings (between e-commerce and the ERP)"),
    "delivery_dictionary": _l("Delivery dictionary and its mappings (between e-commerce and the ERP)"),
    "offer_import": _l("Import of offers from the platforms"),
    "goods_import": _l("Import of goods from the ERP"),
    "offer_goods_linking": _l("Support in linking offers with goods (the client does the linking)"),
    "label_stations": _l("Label printing stations"),
    "automated_processes": _l("Automated processes"),
}
TEST_STEPS = {
    "test_offer": _l("A test offer is listed"),
    "sync_check": _l("Synchronisation checked"),
    "test_order_label": _l("A test order with a shipping label generated"),
}
PROTOCOL_FUNCTIONS = {
    "orders_import": _l("Orders come in from every sales channel"),
    "offers_listing": _l("Offers are listed and updated"),
    "stock_sync": _l("Stock and prices synchronise with the ERP"),
    "shipping_labels": _l("Shipping labels are generated and printed"),
    "documents": _l("Sales documents are issued in the ERP"),
    "automated_processes": _l("Automated processes run"),
    "panel_access": _l("Access to the panel handed over"),
}
ITEM_KIND_LABELS = {
    "start_data": _l("Start data"),
    "configuration": _l("Configuration"),
    "test": _l("Tests"),
    "protocol": _l("Basic functions"),
}

PLAN_SECTION_LABELS = {
    "integration": _l("Integration"),
    "process": _l("Automated process"),
    "courier": _l("Courier service"),
}
INTEGRATION_KIND_LABELS = {
    "marketplace": _l("Marketplace account"),
    "shop": _l("Web shop"),
    "erp": _l("ERP"),
    "courier": _l("Courier"),
    "other": _l("Other"),
}
TIMING_LABELS = {
    "at_start": _l("At start"),
    "later": _l("Later"),
}

MEETING_KIND_LABELS = {
    "kickoff": _l("Kickoff meeting"),
    "training": _l("Training"),
    "follow_up": _l("Follow-up meeting"),
    "recurring": _l("Onboarding meeting"),
    "other": _l("Meeting"),
}

EVENT_LABELS = {
    "started": _l("started the onboarding"),
    "guardian_changed": _l("changed the guardian"),
    "stage_updated": _l("edited a stage"),
    "stage_started": _l("started a stage"),
    "stage_done": _l("completed a stage"),
    "plan_version": _l("recorded a Success Plan version"),
    "item_changed": _l("updated a checklist item"),
    "item_added": _l("added a start-data item"),
    "training_recorded": _l("recorded the training"),
    "protocol_recorded": _l("recorded the signed acceptance protocol"),
    "meeting_scheduled": _l("scheduled a meeting"),
    "meeting_changed": _l("changed a meeting"),
    "meeting_cancelled": _l("cancelled a meeting"),
    "reminder_sent": _l("sent a meeting reminder"),
    "completed": _l("completed the onboarding"),
}


def template_globals() -> dict:
    return {
        "ONB_STAGE_LABELS": STAGE_LABELS,
        "ONB_STAGE_HELP": STAGE_HELP,
        "ONB_STAGE_STATE_LABELS": STAGE_STATE_LABELS,
        "ONB_ITEM_STATE_LABELS": ITEM_STATE_LABELS,
        "ONB_PLAN_SECTION_LABELS": PLAN_SECTION_LABELS,
        "ONB_INTEGRATION_KIND_LABELS": INTEGRATION_KIND_LABELS,
        "ONB_TIMING_LABELS": TIMING_LABELS,
        "ONB_MEETING_KIND_LABELS": MEETING_KIND_LABELS,
        "ONB_EVENT_LABELS": EVENT_LABELS,
    }
