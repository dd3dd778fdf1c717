"""What the lab notebook shows: the interview's screens, saves, warnings."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.text import Text

from phase17.index.lookup import Lookup
from phase17.notes.guide import Target
from phase17.notes.notebook import Edited, InterviewResult, Recorded
from phase17.render.layout import FittedTable


def notebook_intro(target: Target, key_symbols: Sequence[Lookup], total: int) -> RenderableType:
    """The reminder above the prompts: the target and its key symbols with their current lines."""
    header = Text.assemble(
        ("Lab notebook ", "bold"), (f"{target.number}/{total} {target.key}", "bold magenta"), f": {target.title}"
    )
    header.append(
        "\nOne sentence per prompt. Enter keeps the current answer; each answer is saved at once, so "
        "Ctrl-C loses nothing given.",
        style="dim",
    )
    header.append(
        "\nCite code as `Class.method`, `path.py::name` or file.py:LINE and it is anchored for phase17 check.",
        style="dim",
    )
    rows: list[tuple[str, str, str]] = []
    for key in key_symbols:
        if key.matches:
            symbol = key.matches[0]
            rows.append((key.ref, symbol.kind, f"{symbol.path}:{symbol.start_line}-{symbol.end_line}"))
        else:
            rows.append((key.ref, "not found", ""))
    # (a table while every name fits the width, else a record per symbol: a name is never cut)
    return Group(header, FittedTable(("key symbol", "kind", "where"), rows))


def current_answer(text: str) -> Text:
    return Text.assemble(("  current: ", "dim"), text.strip())


def recorded(result: Recorded) -> RenderableType:
    """What a save did: where, which citations were anchored, and any warning, at once."""
    shown_path = f"annotations/{result.notes.name}.yaml"
    lines = [Text(f"  saved {result.label.replace('_', ' ')} to {shown_path}", style="green")]
    for citation in result.citations:
        lines.append(
            Text(
                f"  anchored {citation.cited} -> {citation.anchor.symbol} "
                f"({citation.anchor.start}-{citation.anchor.end})",
                style="dim",
                no_wrap=True,
                overflow="ignore",
            )
        )
    return Group(*lines)


def notebook_done(target: Target, result: InterviewResult) -> Text:
    if result.stopped:
        return Text(f"\nStopped. {result.saved} answer(s) from this session are saved in annotations/.")
    text = Text(
        f"Done with {target.key}: {result.saved} answer(s) saved; notebooks/phase17.md is regenerated.", style="green"
    )
    if result.next_target:
        text.append(f"\nNext: phase17 read {result.next_target.key}, then phase17 notebook {result.next_target.key}")
    return text


def edited(result: Edited) -> RenderableType:
    lines = [Text(f"Saved annotations/{result.path.name} ({result.citations} citation(s) anchored).")]
    lines += [Text(f"Warning: {warning}", style="yellow") for warning in result.warnings]
    return Group(*lines)


def warnings(messages: Sequence[str]) -> Text:
    """Warnings about the tree or the run, one line each (for stderr)."""
    return Text("\n".join(f"Warning: {message}" for message in messages), style="yellow")


def note_warnings(messages: Sequence[str]) -> Text:
    """Warnings about a note just saved (empty, too long, a citation not anchored), under its save line."""
    return Text("\n".join(f"  warning: {message}" for message in messages), style="yellow")
