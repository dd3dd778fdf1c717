"""safety/text.py: text from the tree, notes and names is shown, never obeyed: controls and format characters."""

from __future__ import annotations

import json

import pytest

from phase17.safety.text import clipped, has_controls, json_text, neutralized


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("a\x1b[2Jb", "a\u241b[2Jb"),  # ESC: the screen is not cleared
        ("x\u202ey", "x<U+202E>y"),  # a right-to-left override: the line reads as it is
        ("if\u2066 admin\u2069:", "if<U+2066> admin<U+2069>:"),  # bidi isolates
        ("zero\u200bwidth", "zero<U+200B>width"),
        ("keeps\nlines\tand tabs", "keeps\nlines\tand tabs"),
    ],
)
def test_controls_and_format_characters_are_shown_as_stand_ins(raw: str, shown: str):
    assert neutralized(raw) == shown
    assert has_controls(raw) == (raw != shown)


def test_json_escapes_what_a_terminal_would_obey_and_stays_json():
    text = json_text({"name": "a\u202eb\x9bc"})
    assert "\u202e" not in text and "\x9b" not in text
    assert json.loads(text) == {"name": "a\u202eb\x9bc"}


def test_a_long_text_is_echoed_by_its_start_and_length():
    assert clipped("short") == "short"
    assert clipped("x" * 5000).endswith("... (5,000 characters)") and len(clipped("x" * 5000)) < 130


def test_a_name_with_a_line_break_is_one_line():
    from phase17.safety.text import shown_name

    assert (
        shown_name("a\ncurrent_platform.forged  1 use(s)\x1b[2J") == "a\u240acurrent_platform.forged  1 use(s)\u241b[2J"
    )
    assert shown_name("plain/name.py") == "plain/name.py"
