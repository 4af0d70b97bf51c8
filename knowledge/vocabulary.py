"""The knowledge base's words: topics, who may read an article, and its state."""

from __future__ import annotations

from helpdesk.vocabulary import Vocabulary, _l, vocabulary


@vocabulary("topic")
class Topic(Vocabulary):
    INTEGRATIONS = "integrations", _l("Integrations")
    COURIERS = "couriers", _l("Couriers")
    MARKETPLACES = "marketplaces", _l("Marketplaces")
    INVOICING = "invoicing", _l("Invoicing")
    ACCOUNT = "account", _l("Account and users")
    OTHER = "other", _l("Other")


@vocabulary("audience")
class Audience(Vocabulary):
    PUBLIC = "public", _l("Everyone"), _l("Anyone may read it, logged in or not.")
    CLIENTS = "clients", _l("Logged-in clients"), _l("Only people with an account read it.")


@vocabulary("article_state")
class ArticleState(Vocabulary):
    DRAFT = "draft", _l("Draft")
    PUBLISHED = "published", _l("Published")


LANGUAGES = ("pl", "en")
