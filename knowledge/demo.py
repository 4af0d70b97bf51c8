"""Demo help articles in Polish and English, once (`flask demo seed`)."""

from __future__ import annotations

from sqlalchemy import func, select

from helpdesk.accounts import User
from helpdesk.extensions import db
from knowledge.models import Article
from knowledge.services import save_article

ARTICLES = (
    ("couriers", "pl", "clients", "Etykiety kuriera nie drukują się",
     "Najczęstsze przyczyny:\n\n1. Drukarka etykiet nie jest wybrana w **Ustawienia → Wysyłka → Drukarka**.\n"
     "2. Sterownik drukarki jest starszy niż wersja 2.0.\n3. Format etykiety (A6 / 10×15) nie zgadza się z kurierem.\n\n"
     "Jeśli po tych krokach etykieta nadal jest pusta, zgłoś problem i dołącz zrzut ekranu."),
    ("couriers", "en", "clients", "Courier labels do not print",
     "The usual causes:\n\n1. No label printer is chosen in **Settings → Delivery → Printer**.\n"
     "2. The printer driver is older than version 2.0.\n3. The label format (A6 / 4×6) does not match the courier's.\n\n"
     "If the label is still blank after these steps, file a ticket with a screenshot."),
    ("marketplaces", "pl", "public", "Mapowanie kategorii Allegro",
     "Kategorie produktów mapujesz w **Integracje → Allegro → Mapowanie**. Każda kategoria sklepu "
     "musi mieć odpowiednik w Allegro, inaczej oferta nie zostanie wystawiona."),
    ("marketplaces", "en", "public", "Mapping Allegro categories",
     "Product categories are mapped in **Integrations → Allegro → Mapping**. Every shop category needs "
     "an Allegro counterpart, otherwise the offer is not listed."),
    ("invoicing", "pl", "clients", "Korekta faktury",
     "Korektę wystawisz z widoku faktury: **Więcej → Wystaw korektę**. Numer korekty nadaje się sam."),
    ("invoicing", "en", "clients", "Correcting an invoice",
     "Open the invoice and choose **More → Issue a correction**. The correction is numbered for you."),
)


def seed_articles(author: User) -> None:
    if db.session.scalar(select(func.count(Article.id))):
        return
    for topic, language, audience, title, body in ARTICLES:
        save_article(author, {"title": title, "body": body, "topic": topic, "language": language,
                              "audience": audience, "state": "published"}, note="demo")
