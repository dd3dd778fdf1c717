"""A reader's note as Markdown that renders as they wrote it, and never as anything else.

Notes reach Markdown that GitHub renders (notebooks/phase17.md) and VS Code renders (the CodeTour), so a note
holding `<script>`, an unclosed `<!--`, a `javascript:` or `command:` link, or a backtick run that a regex would
pair wrongly must show as text. Guessing where CommonMark sees code spans is how that went wrong before; so the
note is parsed by a CommonMark parser (markdown-it-py) and written again from its tree: text as escaped text,
code as code spans and fenced blocks, emphasis, lists and quotes as such, and links only when they are plain
https addresses. Raw HTML, images and other links become their text; headings become bold lines (a `#` in a
note must not cut the notebook's own outline).
"""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING, Any

from phase17.safety.text import code_span, neutralized, safe_url

if TYPE_CHECKING:
    from markdown_it.token import Token

# ASCII punctuation that can start Markdown (CommonMark and GitHub's extensions: tables, strikethrough). An `_`
# between two letters or digits never opens or closes emphasis, so `snake_case` stays as it reads.
_SIGNIFICANT = re.compile(r"([\\`*\[\]<>&!#|~]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")
# What would start a block at the beginning of a line: a list item, a setext underline, a thematic break.
_LINE_START = re.compile(r"^([-+=]|\d{1,9}(?=[.)]))")


@cache
def _parser() -> Any:
    from markdown_it import MarkdownIt  # (here: only an export needs it)

    return MarkdownIt("commonmark")


def escaped_text(text: str) -> str:
    """`text` as Markdown that shows exactly it: every character that could start markup is backslash-escaped."""
    return _SIGNIFICANT.sub(r"\\\1", neutralized(text))


def note_markdown(text: str) -> str:
    """The note `text` as safe Markdown (see the module docstring); "" for an empty note."""
    tokens: list[Token] = _parser().parse(neutralized(text))
    lines: list[str] = []
    prefixes: list[str] = []  # what each open container puts before its lines: "> ", or a list item's indent
    lists: list[list[Any]] = []  # [ordered?, next number] of each open list
    marker: str | None = None  # a list item's marker, waiting for its first line
    separate = False
    for position, token in enumerate(tokens):
        kind = token.type
        if kind == "blockquote_open":
            prefixes.append("> ")
        elif kind in ("blockquote_close", "list_item_close"):
            prefixes.pop()
        elif kind in ("bullet_list_open", "ordered_list_open"):
            separate = separate or not lists  # a list after a paragraph needs the blank line between them
            lists.append([kind == "ordered_list_open", int(token.attrGet("start") or 1)])
        elif kind in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
        elif kind == "list_item_open":
            ordered, number = lists[-1]
            marker = f"{number}. " if ordered else "- "
            lists[-1][1] = number + 1
            prefixes.append(" " * len(marker))
        elif kind in ("inline", "fence", "code_block", "html_block", "hr"):
            block = _block(token)
            if kind == "inline" and position > 0 and tokens[position - 1].type == "heading_open":
                block = [f"**{line}**" for line in block if line]
            if lines and (marker is None or separate):
                lines.append("".join(prefixes[:-1] if marker is not None else prefixes).rstrip())
            separate = False
            for number, line in enumerate(block):
                lead = "".join(prefixes)
                if number == 0 and marker is not None:
                    lead, marker = "".join(prefixes[:-1]) + marker, None
                lines.append((lead + line).rstrip() if line else lead.rstrip())
    return "\n".join(lines).strip("\n")


def _block(token: Token) -> list[str]:
    """The lines of one leaf block, before their containers' prefixes."""
    if token.type == "inline":
        return [_line_start_escaped(line) for line in _inline(token.children or []).split("\n")]
    if token.type in ("fence", "code_block"):
        content = token.content.rstrip("\n")
        fence = "`" * max(3, max((len(run) for run in re.findall(r"`+", content)), default=0) + 1)
        info = token.info.split()[0] if token.type == "fence" and token.info.split() else ""
        return [fence + (info if re.fullmatch(r"[\w+.-]{1,30}", info) else ""), *content.split("\n"), fence]
    if token.type == "html_block":
        return [_line_start_escaped(escaped_text(line)) for line in token.content.rstrip("\n").split("\n")]
    return ["\\---"]  # a thematic break, shown as the reader typed it


def _inline(children: list[Token]) -> str:
    parts: list[str] = []
    links: list[str | None] = []
    for child in children:
        kind = child.type
        if kind == "code_inline":
            parts.append(code_span(child.content))
        elif kind == "softbreak":
            parts.append("\n")
        elif kind == "hardbreak":
            parts.append("\\\n")
        elif kind in ("em_open", "em_close", "strong_open", "strong_close"):
            parts.append(child.markup)
        elif kind == "link_open":
            href = safe_url(str(child.attrGet("href") or ""))
            links.append(href)
            parts.append("[" if href else "")
        elif kind == "link_close":
            href = links.pop() if links else None
            parts.append(f"]({href})" if href else "")
        else:  # text, raw HTML, an image's alt text: shown as text
            parts.append(escaped_text(child.content))
    return "".join(parts)


def _line_start_escaped(line: str) -> str:
    """A line that could start a block where it lands (`- `, `1.`, `===`) shown as text."""
    line = line.lstrip(" \t")  # (four spaces would make an indented code block)
    return _LINE_START.sub(
        lambda match: match.group() + "\\" if match.group().isdigit() else "\\" + match.group(), line
    )
