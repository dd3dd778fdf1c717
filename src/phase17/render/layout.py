"""Layouts that survive a pipe and a narrow terminal: code lines printed whole after their real number, and
tables that become stacked records rather than break a name or a path.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.table import Table
from rich.text import Text

Cell = str | Text


def code_lines(lines: Sequence[str], start_line: int, language: str = "python") -> Group:
    """Source lines, highlighted, each after its real line number and never cut or wrapped by rich.

    A line longer than the screen is left to the terminal to wrap; piped, every line is whole. Print with
    crop=False (the CLI does) so nothing is cut at the console's width.
    """
    from rich.syntax import Syntax  # pygments loads only when code is shown, not for a report or a table

    highlighted = Syntax("", language, theme="ansi_dark").highlight("\n".join(lines))
    rows = highlighted.split("\n", allow_blank=True)
    width = len(str(start_line + max(len(lines) - 1, 0)))
    shown = []
    for offset, row in enumerate(rows[: len(lines)]):
        line = Text(f"{start_line + offset:>{width}}  ", style="dim", no_wrap=True, overflow="ignore")
        line.append_text(row.copy())
        line.no_wrap, line.overflow = True, "ignore"
        shown.append(line)
    return Group(*shown)


def diff_lines(diff: str) -> Group:
    """A unified diff, each line whole (a diff line is code too)."""
    styles = {"+": "green", "-": "red", "@": "cyan"}
    return Group(
        *(
            Text(line.rstrip(), style=styles.get(line[:1], ""), no_wrap=True, overflow="ignore")
            for line in diff.splitlines()
        )
    )


class FittedTable:
    """A table when every cell fits on one line at the console's width; else one stacked record per row.

    Names and paths are never broken mid-word: that is what a reader copies into the next command.
    """

    def __init__(self, columns: Sequence[str], rows: Iterable[Sequence[Cell]], title: str | None = None) -> None:
        self.columns = list(columns)
        self.rows = [list(row) for row in rows]
        self.title = title

    def _needed_width(self) -> int:
        widths = [cell_len(column) for column in self.columns]
        for row in self.rows:
            for index, cell in enumerate(row):
                widths[index] = max(widths[index], cell_len(cell.plain if isinstance(cell, Text) else cell))
        return sum(widths) + 3 * (len(widths) - 1) + 2

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if self._needed_width() <= options.max_width:
            table = Table(title=self.title, title_justify="left", box=None, show_edge=False, pad_edge=False)
            for column in self.columns:
                table.add_column(column, no_wrap=True, overflow="ignore", header_style="bold")
            for row in self.rows:
                table.add_row(*row)
            yield table
            return
        if self.title:
            yield Text(self.title, style="bold", no_wrap=True, overflow="ignore")
        for row in self.rows:
            yield _record(self.columns, row)


def _record(columns: Sequence[str], row: Sequence[Cell]) -> RenderableType:
    """One row as `first cell` then `  column: value` lines, each kept whole."""
    head = row[0] if isinstance(row[0], Text) else Text(row[0])
    lines = [Text.assemble(head.copy(), style="bold")]
    for column, cell in zip(columns[1:], row[1:], strict=False):
        value = cell if isinstance(cell, Text) else Text(cell)
        lines.append(Text.assemble(f"  {column}: ", value.copy()))
    for line in lines:
        line.no_wrap, line.overflow = True, "ignore"
    return Group(*lines)


class Wrapped:
    """Prose wrapped to the width under its first line's prefix, with no padding after it (piped output stays
    free of trailing spaces), and names never broken mid-word."""

    def __init__(self, text: str, first: str = "  ", rest: str = "    ", style: str = "") -> None:
        self.text, self.first, self.rest, self.style = text, first, rest, style

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        import textwrap

        width = max(options.max_width - len(self.rest), 20)
        lines = textwrap.wrap(self.text, width, break_on_hyphens=False, break_long_words=False) or [""]
        for number, line in enumerate(lines):
            yield Text((self.first if number == 0 else self.rest) + line, style=self.style)
