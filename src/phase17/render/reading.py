"""What `read`, `resolve`, `outline` and `list` show: symbols with real line numbers, outlines, tables."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich import box
from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.rule import Rule
from rich.style import Style
from rich.text import Text
from rich.tree import Tree

from phase17.index.lookup import editor_lines
from phase17.render.instruments import material_lines
from phase17.render.layout import FittedTable, code_lines
from phase17.safety.text import clipped, shown_name

if TYPE_CHECKING:  # types only: `resolve` prints a table without loading the reading view and the notes store
    from phase17.index.lookup import Lookup, Unreadable
    from phase17.notes.reading import TargetStatus, TargetView
    from phase17.source.symbols import OutlineNode, Symbol
    from phase17.upstream.pin import Pin

FOLD_AFTER_LINES = 40  # a longer key symbol is shown as its first lines, with the range to open
FOLDED_LINES = 14


def web_url(pin: Pin, path: str, start: int | None = None, end: int | None = None) -> str:
    """A link to the file at the pinned commit (never a branch, so it does not drift)."""
    base = pin.repository.removesuffix(".git").rstrip("/")
    kind = "tree" if path.endswith("/") else "blob"
    url = f"{base}/{kind}/{pin.commit}/{path.rstrip('/')}"
    if start is not None:
        url += f"#L{start}" + (f"-L{end}" if end is not None and end != start else "")
    return url


def symbol_source(symbol: Symbol, lines: list[str], *, fold: bool = True, command: str | None = None) -> RenderableType:
    """A symbol's source highlighted with its real upstream line numbers; folded when long."""
    title = Text.assemble(
        (symbol.qualname, "bold cyan"),
        f"  {symbol.kind}  ",
        (f"{symbol.path}:{symbol.start_line}-{symbol.end_line}", "dim"),
    )
    shown = lines
    folded = fold and len(lines) > FOLD_AFTER_LINES
    if folded:
        shown = lines[:FOLDED_LINES]
    code = code_lines(shown, symbol.start_line)
    parts: list[RenderableType] = [title, code]
    if folded:
        rest = f"⋮ {len(lines) - len(shown)} more lines, to line {symbol.end_line}"
        if command:
            rest += f"; whole: {command}"
        parts.append(Text(rest, style="dim"))
    return Group(*parts)


def outline_tree(label: str, nodes: Sequence[OutlineNode], key_refs: frozenset[str] = frozenset()) -> Tree:
    """The nested definitions with live lines; the target's key symbols are marked with a star."""
    tree = Tree(Text(label, style="bold"))
    shown = 0

    def add(branch: Tree, items: Sequence[OutlineNode]) -> None:
        nonlocal shown
        for node in items:
            shown += 1
            if shown > OUTLINE_LIMIT:
                return
            symbol = node.symbol
            key = symbol.ref in key_refs
            line = Text.assemble(
                (symbol.name, "bold yellow" if key else ("cyan" if symbol.kind == "class" else "")),
                (f"  {symbol.kind}  {symbol.start_line}-{symbol.end_line}", "dim"),
                ("  ★ key symbol" if key else "", "yellow"),
            )
            add(branch.add(line), node.children)

    add(tree, nodes)
    total = _count(nodes)
    if total > OUTLINE_LIMIT:
        tree.add(Text(f"... {total - OUTLINE_LIMIT:,} more definitions (--json lists every one)", style="dim"))
    return tree


# A screen's worth many times over; a generated file with a million assignments would take minutes to draw.
OUTLINE_LIMIT = 2000


def _count(nodes: Sequence[OutlineNode]) -> int:
    total, stack = 0, list(nodes)
    while stack:
        total += 1
        stack.extend(stack.pop().children)
    return total


def symbol_table(symbols: Sequence[Symbol]) -> FittedTable:
    """Where each definition is: the whole path always (it is what `resolve` exists to say)."""
    rows = [(symbol.qualname, symbol.kind, symbol.path, f"{symbol.start_line}-{symbol.end_line}") for symbol in symbols]
    return FittedTable(("symbol", "kind", "path", "lines"), rows)


def unreadable_notice(items: Sequence[Unreadable]) -> Text:
    return Text("\n".join(f"skipped {shown_name(item.path)}: {item.reason}" for item in items), style="yellow")


def whole_files(texts: dict[str, str], pin: Pin) -> RenderableType:
    """Whole files (path -> text) with line numbers, for `read --full`."""
    parts: list[RenderableType] = []
    for relative, text in texts.items():
        parts.append(Text(relative, style=Style(bold=True, link=web_url(pin, relative))))
        parts.append(code_lines(editor_lines(text), 1))
    return Group(*parts)


def target_view(view: TargetView, *, fold: bool = True) -> RenderableType:
    """The whole `read` screen: header, outline, key symbols, prompts, questions, footer (or one symbol's)."""
    if view.focus:
        return _focused_view(view)
    target = view.target
    parts: list[RenderableType] = [_header(view)]
    key_refs = frozenset(symbol.ref for key in view.key_symbols for symbol in key.matches)
    for item in view.files:
        star = "  (★ key symbols, shown below)" if key_refs else ""
        parts.append(outline_tree(f"Outline of {item.path}{star}", item.outline, key_refs))
    if view.key_symbols:
        parts.append(Rule("Key symbols", style="dim"))
    for key in view.key_symbols:
        command = f"phase17 read {target.key} --symbol {key.ref}" if target.number else None
        parts.extend(_lookup_sources(view, key, fold=fold, command=command))
    if view.material:
        parts.append(Rule("Upstream's own material", style="dim"))
        parts.extend(material_lines(view.material)[1:])  # (the rule is its title)
    if target.number:
        parts.extend(_notebook_section(view))
    else:
        parts.append(Text(f"{target.path} is not on the reading list, so no notes are kept for it here.", style="dim"))
    if view.unreadable:
        parts.append(unreadable_notice(view.unreadable))
    parts += [Text(f"warning: {problem}", style="yellow") for problem in view.notes_problems]
    footer = Text()
    if view.next_target:
        footer.append(f"Next: phase17 read {view.next_target.key} ({view.next_target.title})    ")
    if target.number:
        footer.append(f"Write notes: phase17 notebook {target.key}")
    parts += [Rule(style="dim"), footer]
    return Group(*parts)


def _header(view: TargetView) -> RenderableType:
    target, pin = view.target, view.pin
    number = f"{target.number}/{view.total_targets}  " if target.number else ""
    header = Text.assemble((f"{number}{target.key}", "bold magenta"))
    if target.title != target.key:
        header.append_text(Text.assemble("  ", (target.title, "bold")))
    if target.sentence:
        header.append(f"\n{target.sentence}")
    if target.path != target.key:
        header.append_text(Text(f"\n{target.path}", style=Style(link=web_url(pin, target.path), bold=True)))
    header.append(f"  at {pin.tag} @ {pin.short}", style="dim")
    return Panel(header, box=box.ROUNDED, expand=True)


def _lookup_sources(view: TargetView, key: Lookup, *, fold: bool, command: str | None) -> list[RenderableType]:
    if key.status == "missing":
        return [Text(f"{key.ref}: not found in upstream/ (run phase17 check)", style="red")]
    parts: list[RenderableType] = []
    if key.status == "ambiguous":
        where = ", ".join(f"{symbol.path}:{symbol.start_line}" for symbol in key.matches)
        parts.append(Text(f"{key.ref}: ambiguous, defined {len(key.matches)} times: {where}", style="yellow"))
    for symbol in key.matches:
        parts += [symbol_source(symbol, view.sources[symbol.ref], fold=fold, command=command), Text("")]
    return parts


def _notebook_section(view: TargetView) -> list[RenderableType]:
    parts: list[RenderableType] = [Rule("Lab notebook: three sentences", style="dim")]
    parts += [_prompt_line(prompt.prompt, prompt.answer) for prompt in view.prompts]
    if view.questions:
        parts.append(Rule("Questions for this target", style="dim"))
        for answer in view.questions:
            parts.append(_prompt_line(f"Q{answer.question.number}. {answer.question.text}", answer.answer))
            parts += [
                Text(f"    evidence: {command}", style="dim", no_wrap=True, overflow="ignore")
                for command in answer.question.evidence
            ]
    return parts


def _focused_view(view: TargetView) -> RenderableType:
    """`read TARGET --symbol REF`: that symbol whole, the notes that cite it, and the way back to the target."""
    key = view.key_symbols[0]
    parts: list[RenderableType] = _lookup_sources(view, key, fold=False, command=None)
    refs = {symbol.ref for symbol in key.matches}
    citing = [citation for citation in view.citations if citation.anchor.symbol in refs]
    notes = {prompt.key: prompt.answer for prompt in view.prompts}
    notes.update({str(answer.question.number): answer.answer for answer in view.questions})
    if citing:
        parts.append(Rule("Your notes citing it", style="dim"))
        for citation in citing:
            label = f"Q{citation.note}" if citation.note.isdigit() else citation.note.replace("_", " ")
            parts.append(Text.assemble((f"{label} ({citation.cited}): ", "bold"), notes.get(citation.note, "")))
    else:
        parts.append(Text("No note cites it yet.", style="dim"))
    parts.append(Text(f"The whole target: phase17 read {view.target.key}", style="dim"))
    return Group(*parts)


def _prompt_line(prompt: str, answer: str) -> RenderableType:
    text = Text(prompt, style="bold")
    text.append("\n  ")
    if answer.strip():
        text.append(answer.strip())
    else:
        text.append("not written yet", style="dim italic")
    return text


def reading_status_table(rows: Sequence[TargetStatus]) -> FittedTable:
    cells = []
    for row in rows:
        found = "upstream missing" if row.symbols_found is None else f"{row.symbols_found} of {len(row.target.symbols)}"
        health_style = "green" if row.health == "ok" else ("dim" if row.health == "not checked" else "red")
        cells.append(
            (
                f"{row.target.number} {row.target.key}",
                row.target.path,
                found,
                f"{row.notes_written} of 3",
                f"{row.questions_answered} of {row.questions_linked}",
                Text(row.health, style=health_style),
            )
        )
    return FittedTable(("target", "path", "symbols", "notes", "questions", "anchors"), cells)


def resolve_problem(lookup: Lookup, within: str | None) -> Text | None:
    """The stderr line for a reference that is missing or ambiguous (None when found)."""
    if lookup.status == "missing":
        if lookup.suggestions:
            return Text(
                f"{clipped(lookup.ref)}: no definition of that name in {within or 'upstream/'}; did you mean "
                f"{', '.join(lookup.suggestions)}?"
            )
        return Text(
            f"{clipped(lookup.ref)}: no definition of that name in {within or 'upstream/'}; try phase17 "
            "outline to see what is there."
        )
    if lookup.status == "choices":
        return Text(f"{lookup.ref}: {len(lookup.matches)} definitions end with that name; name one as Class.name.")
    if lookup.status == "ambiguous":
        return Text(f"{lookup.ref} is ambiguous: {len(lookup.matches)} definitions carry that name.", style="yellow")
    return None


def to_text(renderable: RenderableType, console: Console) -> str:
    """What `console` would print, as text (for the pager)."""
    with console.capture() as captured:
        console.print(renderable)
    return captured.get()


def read_screen(view: TargetView, *, full: bool, fold: bool) -> RenderableType:
    """`read`'s screen: the whole files with `full`, else the target view (long symbols folded when `fold`)."""
    return whole_files(view.whole_files, view.pin) if full else target_view(view, fold=fold)
