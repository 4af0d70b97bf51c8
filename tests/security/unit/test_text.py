"""The rules for typed text (helpdesk/text.py) as a table of plain examples."""

from __future__ import annotations

import pytest

from helpdesk.text import is_blank, one_line_error, whole_number


@pytest.mark.parametrize("char", ["\r", "\n", "\t", "\x00", "\x0b", "\x0c", "\x1b", "\x7f", "\x85", "\x9f",
                                  "\u2028", "\u2029"])
def test_a_control_character_or_line_separator_is_not_one_line(char):
    assert one_line_error(f"Printer{char}down") is not None


@pytest.mark.parametrize("text", ["", "Printer down", "Zażółć gęślą jaźń 🎫", "=HYPERLINK()", "a\u00a0b", "\u200b"])
def test_printable_text_is_one_line(text):
    assert one_line_error(text) is None


@pytest.mark.parametrize(("text", "blank"), [
    ("", True), (None, True), ("   ", True), ("\u200b", True), (" \u200b\u200c\u200d\u2060\ufeff \t\n", True),
    ("\u200bx", False), (".", False), ("0", False),
])
def test_blank_means_nothing_visible(text, blank):
    assert is_blank(text) is blank


@pytest.mark.parametrize(("text", "signed", "value"), [
    ("30", False, 30), (" 30 ", False, 30), ("0", False, 0), ("-5", True, -5), ("-5", False, None),
    ("３０", False, None), ("٣٠", False, None), ("²", False, None), ("3_0", False, None), ("+30", False, None),
    ("", False, None), ("1" * 19, False, None), ("1.0", False, None),
])
def test_whole_numbers_are_ascii_digits(text, signed, value):
    assert whole_number(text, signed=signed) == value
