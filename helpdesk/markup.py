"""Ticket text as sanitized Markdown: what a client writes is shown, never run.

The HTML is a function of the text alone (the renderer and the sanitiser's rules are fixed), so
the last texts rendered are kept per process: a ticket page shows the same description and
replies on every visit, and rendering them was a tenth of its time. A text is its own key; the
cache holds nothing a page could not make from the text it already shows.
"""

from __future__ import annotations

from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "breaks": True}).enable("table")

ALLOWED_TAGS = {
    "p", "br", "strong", "em", "code", "pre", "blockquote", "ul", "ol", "li", "a",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "table", "thead", "tbody", "tr", "th", "td",
}


# Texts longer than this are rendered each time: a few long ones would otherwise fill the memory.
CACHED_TEXT_CHARS = 20_000


def render_markdown(text: str) -> Markup:
    """Markdown to HTML, then sanitised by nh3 (ammonia): no scripts, no handlers, safe links."""
    text = text or ""
    if len(text) > CACHED_TEXT_CHARS:
        return _render(text)
    return _render_cached(text)


def _render(text: str) -> Markup:
    html = _md.render(text)
    clean = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes={"a": {"href", "title"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    return Markup(clean)


_render_cached = lru_cache(maxsize=1024)(_render)
