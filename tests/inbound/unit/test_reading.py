"""Reading MIME without a database: HTML to safe text, quote and signature stripping, one-line
subjects, and headers that cannot be read."""

from __future__ import annotations

from tickets.inbound import reading


def test_html_to_text_drops_scripts_styles_and_tags_and_keeps_lines():
    html = ("<style>b{}</style><script>alert(1)</script><div>One &lt;two&gt;</div><p>Three<br/>four</p>"
            "<a href='javascript:x()' onclick='y()'>link</a><!-- secret -->")
    assert reading.html_to_text(html) == "One <two>\nThree\nfour\nlink"


def test_strip_reply_keeps_only_the_newest_reply_in_english_and_polish():
    english = "Works now.\n\nOn Mon, 1 Dec 2026 at 10:00, Support <s@x.example> wrote:\n> old text\n"
    polish = "Działa.\n\nW dniu pon., 1 gru 2026 o 10:00 Support <s@x.example> napisał(a):\n> stare\n"
    assert reading.strip_reply(english) == "Works now."
    assert reading.strip_reply(polish) == "Działa."
    assert reading.strip_reply("No quote here.") == "No quote here."


def test_strip_reply_never_leaves_nothing():
    only_quote = "> everything quoted\n> nothing new\n"
    assert reading.strip_reply(only_quote).strip()


def test_one_line_removes_breaks_and_cuts_with_an_ellipsis():
    assert reading.one_line("a\r\nBcc: x@evil\tz") == "a Bcc: x@evil z"
    cut = reading.one_line("x" * 500)
    assert len(cut) == 200 and cut.endswith("…")


def test_unreadable_headers_read_as_empty():
    message = reading.parse(b"Message-ID: <<<>>>\r\nFrom: \x00\r\n\r\nbody")
    assert isinstance(reading.header(message, "Message-ID"), str)
    assert reading.header(message, "X-Missing") == ""
