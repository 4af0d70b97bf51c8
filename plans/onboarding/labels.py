"""The checklists of the seed: the keys are stored, the words are translated when shown.

What stages, states, plan entries and meetings are called is in `vocabulary`.
"""

from __future__ import annotations

from helpdesk.i18n import _l

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

