"""helpdesk/markup.py keeps the last texts rendered: the HTML is still the text's own."""

from __future__ import annotations

from helpdesk import markup


def test_a_kept_text_renders_as_it_did_and_another_text_as_its_own():
    texts = ["**bold** <script>alert(1)</script>", "*other*", "**bold** <script>alert(1)</script>", "",
             "[link](javascript:alert(1)) and [ok](https://example.com)"]
    for text in texts:
        assert markup.render_markdown(text) == markup._render(text)
    assert "<strong>bold</strong>" in markup.render_markdown(texts[0])
    assert "<script" not in markup.render_markdown(texts[0])
    assert markup.render_markdown(None) == markup._render("")


def test_long_texts_are_not_kept():
    markup._render_cached.cache_clear()
    long_text = "word " * (markup.CACHED_TEXT_CHARS // 5 + 1)
    assert markup.render_markdown(long_text) == markup._render(long_text)
    markup.render_markdown("short")
    assert markup._render_cached.cache_info().currsize == 1
