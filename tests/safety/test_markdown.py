"""safety/markdown.py: a note renders as written by a CommonMark parser, and never as HTML or a non-https link."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import COMMONMARK, markdown_hazards
from phase17.safety.markdown import escaped_text, note_markdown

HOSTILE = [
    "a ``b` <script>alert(1)</script>`` c",
    "<img src=x onerror=alert(1)>",
    "<!-- hide the rest of the page",
    "[a]: javascript:alert(1)\n\n[x][a]",
    "> [b]: data:text/html,x\n\n[y][b]",
    "- [c]: javascript:alert(1)\n\n[z][c]",
    "[d](javascript:alert(1)) [e](<javascript:alert(1)>) [f](&#106;avascript:alert(1))",
    "[g](command:workbench.action.terminal.new) [h](http://plain.example)",
    "- `a\n- <b onmouseover=x>`",
    "```\nan unclosed fence",
    "\\`<script>`",
    "`a\n\n<script>x</script>\n\n`",
    "<https://autolink.example> <mailto:a@b.c>",
    "&lt;script&gt; &#60;script&#62;",
    "![pixel](https://tracker.example/p.png)",
    "    <indented>",
    "<div>\nblock\n</div>",
]


@pytest.mark.parametrize("note", HOSTILE)
def test_a_hostile_note_is_text_when_parsed_as_commonmark(note: str):
    written = note_markdown(note)
    assert markdown_hazards(written) == []
    rendered = COMMONMARK.render(written)
    assert not re.search(r"<(script|img|b |div|!--|a href=\"(?!https://))", rendered), rendered
    assert "alert" in rendered or "alert" not in note  # the words stay, as text


def test_what_a_reader_writes_renders_as_they_wrote_it():
    note = "Uses `CpuPlatform.x` and *emphasis*, **strong**, a [link](https://docs.vllm.ai/x).\n\n- one\n- two"
    rendered = COMMONMARK.render(note_markdown(note))
    assert rendered == COMMONMARK.render(note)
    assert COMMONMARK.render(note_markdown("a < b & c > d")) == "<p>a &lt; b &amp; c &gt; d</p>\n"
    assert note_markdown("") == ""


def test_a_heading_in_a_note_does_not_cut_the_notebooks_outline():
    tokens = COMMONMARK.parse(note_markdown("# Not a section\n\ntext\n\nUnder\n==="))
    assert not [token for token in tokens if token.type == "heading_open"]


def test_text_from_the_tree_is_text():
    for value in ["<b>x</b>", "a|b", "`code`", "[l](javascript:x)", "*x*"]:
        paragraph = COMMONMARK.parse(escaped_text(value))[1]
        assert [child.type for child in paragraph.children] == ["text"] * len(paragraph.children)
        assert "".join(child.content for child in paragraph.children) == value


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("`<>!-[]()*_&#;:/\\ \n>ajs=\"'x1.")), max_size=60))
def test_no_note_of_markdown_characters_becomes_html_or_a_link(note: str):
    assert markdown_hazards(note_markdown(note)) == []
