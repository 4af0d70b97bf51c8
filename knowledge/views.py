"""Help pages for clients and visitors, the article editor for staff, deflection for managers."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectChoice, StringField, TextAreaField

from helpdesk import formats
from helpdesk.clock import utcnow
from helpdesk.forms import ChoiceField, RadioChoiceField, form_page, saved
from helpdesk.i18n import _, _l, language
from helpdesk.security import manager_required, staff_required
from knowledge import services
from knowledge.vocabulary import ArticleState, Audience, Topic

bp = Blueprint("help", __name__, url_prefix="/help")
staff_bp = Blueprint("articles", __name__, url_prefix="/agent/articles")
manager_bp = Blueprint("deflection", __name__, url_prefix="/manager/deflection")

LANGUAGE_CHOICES = [SelectChoice("pl", "Polski"), SelectChoice("en", "English")]


class ArticleForm(FlaskForm):
    title = StringField(_l("Title"))
    topic = ChoiceField(_l("Topic"), choices=Topic.choices())
    language = ChoiceField(_l("Language"), choices=LANGUAGE_CHOICES)
    audience = RadioChoiceField(_l("Who may read it"), choices=Audience.choices(), default="clients")
    state = RadioChoiceField(_l("State"), choices=ArticleState.choices(), default="draft")
    body = TextAreaField(_l("Text (Markdown)"))
    note = StringField(_l("What changed (for the history)"))


def _viewer():
    return current_user if current_user.is_authenticated else None


# -- readers ------------------------------------------------------------------------------------


@bp.route("/")
def index():
    q = request.args.get("q", "")
    topic = request.args.get("topic") or None
    articles = services.search(_viewer(), q, language=language(), topic=topic)
    by_topic: dict[str, list] = {}
    for article in articles:
        by_topic.setdefault(article.topic, []).append(article)
    return render_template("help/index.html", q=q, topic=topic, articles=articles, by_topic=by_topic,
                           searched=bool(q.strip()), topics=Topic)


@bp.route("/articles/<int:article_id>")
def article(article_id: int):
    found = services.get_article(_viewer(), article_id)
    visit = request.args.get("visit")
    if visit and current_user.is_authenticated:
        services.visit_read(current_user, visit, found)
    services.count_view(found)
    return render_template("help/article.html", article=found, visit=visit)


@bp.route("/suggest")
def suggest():
    """Articles for the subject typed so far on the new-ticket form (JSON for its script)."""
    found = services.suggestions(_viewer(), request.args.get("q", "")[:200], language=language())
    visit = request.args.get("visit") or None
    return jsonify([
        {"id": a.id, "title": a.title, "topic": str(Topic.label_of(a.topic)),
         "url": url_for("help.article", article_id=a.id, visit=visit)}
        for a in found
    ])


# -- staff: writing articles --------------------------------------------------------------------


@staff_bp.route("/")
@staff_required
def list_articles():
    q = request.args.get("q", "")
    return render_template("help/staff_list.html", articles=services.staff_list(current_user, q), q=q)


def draft_from(title: str, body: str) -> str:
    """The new-article page filled with a reply's text (a reply turned into an article: tickets.agent)."""
    form = ArticleForm(formdata=None, title=title[:200], body=body, language=language())
    return render_template("help/edit.html", form=form, article=None, history=[])


@staff_bp.route("/new", methods=["GET", "POST"])
@staff_required
def new_article():
    form = ArticleForm()
    if request.method == "GET":
        form.language.data = language()
    return form_page(
        form,
        lambda: services.save_article(current_user, form.data, note=form.note.data or ""),
        page=lambda: render_template("help/edit.html", form=form, article=None, history=[]),
        done=lambda a: saved(_("Article saved."), url_for("articles.edit_article", article_id=a.id)),
    )


@staff_bp.route("/<int:article_id>", methods=["GET", "POST"])
@staff_required
def edit_article(article_id: int):
    article = services.get_article(current_user, article_id, for_staff=True)
    form = ArticleForm(obj=article) if request.method == "GET" else ArticleForm()
    if request.method == "GET":
        form.note.data = ""
    return form_page(
        form,
        lambda: services.save_article(current_user, form.data, article_id=article_id, note=form.note.data or ""),
        page=lambda: render_template("help/edit.html", form=form, article=article,
                                     history=services.revisions(article)),
        done=lambda a: saved(_("Article saved."), url_for("articles.edit_article", article_id=a.id)),
    )


# -- managers: deflection -----------------------------------------------------------------------


@manager_bp.route("/")
@manager_required
def report():
    now = utcnow()
    months = []
    for back in range(6):
        start, end = services.month_bounds(now, back)
        months.append((formats.month(start), services.deflection(start, end)))
    start, end = services.month_bounds(now, 5)[0], services.month_bounds(now)[1]
    return render_template("help/deflection.html", months=months, top=services.top_articles(start, end))
