"""Rich renderables for everything phase17 shows; the only core module that imports rich."""

from __future__ import annotations

from collections.abc import Sequence

from rich import box
from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.rule import Rule
from rich.style import Style
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from phase17.checkout import UpstreamState
from phase17.drift import STATUSES, CheckOutcome, Finding, summary_counts
from phase17.fetch import FetchResult
from phase17.guide import Target
from phase17.mends import Mend
from phase17.notebook import Edited, InterviewResult, Recorded
from phase17.pin import Pin
from phase17.reading import TargetStatus, TargetView
from phase17.sourcetree import Lookup, Unreadable
from phase17.symbols import OutlineNode, Symbol


class RichReporter:
    """A fetch ProgressReporter drawing rich progress bars on stderr: bytes for downloads, counts otherwise."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._progress: Progress | None = None
        self._task: int | None = None

    def start(self, description: str, total: int | None) -> None:
        self.finish()
        if description.startswith("download"):
            columns = (
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
            )
        elif total is None:
            columns = (SpinnerColumn(), TextColumn("{task.description}"))  # type: ignore[assignment]
        else:
            columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())  # type: ignore[assignment]
        self._progress = Progress(*columns, console=self._console, transient=False)
        self._progress.start()
        self._task = self._progress.add_task(description, total=total)

    def advance(self, amount: int) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, amount)  # type: ignore[arg-type]

    def finish(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
            self._task = None

    def notice(self, message: str) -> None:
        self._console.print(Text(message, style="bold red" if message.startswith("INSECURE") else "yellow"))


def fetch_summary(result: FetchResult, pin: Pin) -> Text:
    """The last line of a fetch: what upstream/ now holds."""
    state = result.state
    if result.up_to_date:
        return Text(
            f"upstream/ is up to date: {pin.describe()} ({pin.commit}), verified, from {state.source}.", style="green"
        )
    if not state.verified:
        return Text(
            f"upstream/ now holds {result.origin}, NOT verified (--insecure-skip-verify); run phase17 fetch to verify.",
            style="bold red",
        )
    origin = result.origin
    if result.source == "pypi":
        cached = "downloaded" if result.downloaded else "from the cache"
        origin = f"{result.origin} ({cached}, sha256 {result.sha256}, commit_id verified)"
    return Text(
        f"upstream/ now holds {pin.describe()} ({pin.commit}), verified, from {result.source}: {origin}.", style="green"
    )


def upstream_state(state: UpstreamState, pin: Pin) -> RenderableType:
    """The pin and whether upstream/ matches it."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    table.add_row("repository", pin.repository)
    table.add_row("tag", pin.tag)
    table.add_row("commit", pin.commit)
    table.add_row("pypi", f"{pin.pypi_distribution}=={pin.pypi_version}")
    table.add_row("upstream/", str(state.path))
    verdicts = {
        "missing": Text("missing: run phase17 fetch", style="yellow"),
        "not-a-checkout": Text("not a git checkout phase17 can verify: run phase17 fetch --force", style="red"),
        "matches": Text(f"matches the pin (from {state.source})", style="green")
        if state.verified
        else Text(
            f"matches the pin (from {state.source}) but was NOT verified (--insecure-skip-verify): run phase17 fetch",
            style="bold red",
        ),
        "other-commit": Text(
            f"at another commit, {(state.carries or '')[:12]}: run phase17 fetch --force", style="red"
        ),
        "modified": Text(f"at the pin, but {len(state.modified)} file(s) modified or untracked:", style="red"),
    }
    table.add_row("status", verdicts[state.status])
    parts: list[RenderableType] = [table]
    if state.modified:
        parts.append(Text("\n".join(f"  {path}" for path in state.modified)))
    return Group(*parts)


# ---------------------------------------------------------------- symbols and reading targets

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
    code = Syntax(
        "\n".join(shown),
        "python",
        line_numbers=True,
        start_line=symbol.start_line,
        theme="ansi_dark",
        word_wrap=True,
        background_color="default",
    )
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

    def add(branch: Tree, items: Sequence[OutlineNode]) -> None:
        for node in items:
            symbol = node.symbol
            key = symbol.ref in key_refs
            line = Text.assemble(
                (symbol.name, "bold yellow" if key else ("cyan" if symbol.kind == "class" else "")),
                (f"  {symbol.kind}  {symbol.start_line}-{symbol.end_line}", "dim"),
                ("  ★ key symbol" if key else "", "yellow"),
            )
            add(branch.add(line), node.children)

    add(tree, nodes)
    return tree


def symbol_table(symbols: Sequence[Symbol]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False)
    for column in ("symbol", "kind", "path", "lines"):
        table.add_column(column)
    for symbol in symbols:
        table.add_row(symbol.qualname, symbol.kind, symbol.path, f"{symbol.start_line}-{symbol.end_line}")
    return table


def unreadable_notice(items: Sequence[Unreadable]) -> Text:
    return Text("\n".join(f"skipped {item.path}: {item.reason}" for item in items), style="yellow")


def whole_files(texts: dict[str, str], pin: Pin) -> RenderableType:
    """Whole files (path -> text) with line numbers, for `read --full`."""
    parts: list[RenderableType] = []
    for relative, text in texts.items():
        parts.append(Text(relative, style=Style(bold=True, link=web_url(pin, relative))))
        parts.append(Syntax(text, "python", line_numbers=True, theme="ansi_dark", background_color="default"))
    return Group(*parts)


def target_view(view: TargetView, sources: dict[str, list[str]], *, fold: bool = True) -> RenderableType:
    """The whole `read` screen: header, outline, key symbols, prompts, questions, footer."""
    target, pin = view.target, view.pin
    parts: list[RenderableType] = []
    number = f"{target.number}/{view.total_targets}  " if target.number else ""
    header = Text.assemble((f"{number}{target.key}", "bold magenta"), "  ", (target.title, "bold"))
    if target.sentence:
        header.append(f"\n{target.sentence}")
    location = Text(f"\n{target.path}", style=Style(link=web_url(pin, target.path), bold=True))
    location.append(f"  at {pin.tag} @ {pin.short}", style="dim")
    header.append_text(location)
    parts.append(Panel(header, box=box.ROUNDED, expand=True))
    key_refs = frozenset(symbol.ref for key in view.key_symbols for symbol in key.matches)
    for item in view.files:
        parts.append(outline_tree(f"Outline of {item.path}  (★ key symbols, shown below)", item.outline, key_refs))
    parts.append(Rule("Key symbols", style="dim"))
    for key in view.key_symbols:
        if key.status == "missing":
            parts.append(Text(f"{key.ref}: not found in upstream/ (run phase17 check)", style="red"))
            continue
        if key.status == "ambiguous":
            where = ", ".join(f"{symbol.path}:{symbol.start_line}" for symbol in key.matches)
            parts.append(Text(f"{key.ref}: ambiguous, defined {len(key.matches)} times: {where}", style="yellow"))
        for symbol in key.matches:
            command = f"phase17 read {target.key} --symbol {key.ref}" if target.number else None
            parts.append(symbol_source(symbol, sources[symbol.ref], fold=fold, command=command))
            parts.append(Text(""))
    parts.append(Rule("Lab notebook: three sentences", style="dim"))
    for prompt in view.prompts:
        parts.append(_prompt_line(prompt.prompt, prompt.answer))
    if view.questions:
        parts.append(Rule("Questions for this target", style="dim"))
        for answer in view.questions:
            parts.append(_prompt_line(f"Q{answer.question.number}. {answer.question.text}", answer.answer))
    if view.unreadable:
        parts.append(unreadable_notice(view.unreadable))
    footer = Text()
    if view.next_target:
        footer.append(f"Next: phase17 read {view.next_target.key} ({view.next_target.title})    ")
    if target.number:
        footer.append(f"Write notes: phase17 notebook {target.key}")
    parts.append(Rule(style="dim"))
    parts.append(footer)
    return Group(*parts)


def _prompt_line(prompt: str, answer: str) -> RenderableType:
    text = Text(prompt, style="bold")
    text.append("\n  ")
    if answer.strip():
        text.append(answer.strip())
    else:
        text.append("not written yet", style="dim italic")
    return text


def reading_status_table(rows: Sequence[TargetStatus]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False)
    for column in ("#", "key", "path", "symbols", "notes", "questions", "anchors"):
        table.add_column(
            column,
            no_wrap=column not in ("path", "anchors"),
            overflow="fold",
            min_width=11 if column == "anchors" else None,
        )
    for row in rows:
        found = "upstream missing" if row.symbols_found is None else f"{row.symbols_found} of {len(row.target.symbols)}"
        health_style = "green" if row.health == "ok" else ("dim" if row.health == "not checked" else "red")
        table.add_row(
            str(row.target.number),
            row.target.key,
            row.target.path,
            found,
            f"{row.notes_written} of 3",
            f"{row.questions_answered} of {row.questions_linked}",
            Text(row.health, style=health_style),
        )
    return table


# ---------------------------------------------------------------- the lab notebook


def notebook_intro(target: Target, key_symbols: Sequence[Lookup], total: int) -> RenderableType:
    """The reminder above the prompts: the target and its key symbols with their current lines."""
    header = Text.assemble(
        ("Lab notebook ", "bold"), (f"{target.number}/{total} {target.key}", "bold magenta"), f": {target.title}"
    )
    header.append(
        "\nOne sentence per prompt. Enter keeps the current answer; each answer is saved at once, so Ctrl-C loses nothing given.",
        style="dim",
    )
    header.append(
        "\nCite code as `Class.method`, `path.py::name` or file.py:LINE and it is anchored for phase17 check.",
        style="dim",
    )
    table = Table.grid(padding=(0, 2))
    for key in key_symbols:
        if key.matches:
            symbol = key.matches[0]
            table.add_row(
                Text(key.ref, style="cyan"),
                Text(symbol.kind, style="dim"),
                f"{symbol.path}:{symbol.start_line}-{symbol.end_line}",
            )
        else:
            table.add_row(Text(key.ref, style="cyan"), Text("not found", style="red"), "")
    return Group(header, table)


def current_answer(text: str) -> Text:
    return Text.assemble(("  current: ", "dim"), text.strip())


def recorded(result: Recorded) -> RenderableType:
    """What a save did: where, which citations were anchored, and any warning, at once."""
    shown_path = f"annotations/{result.notes.name}.yaml"
    lines = [Text(f"  saved {result.label.replace('_', ' ')} to {shown_path}", style="green")]
    for citation in result.citations:
        lines.append(
            Text(
                f"  anchored {citation.cited} -> {citation.anchor.symbol} ({citation.anchor.start}-{citation.anchor.end})",
                style="dim",
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


def check_outcome(outcome: CheckOutcome) -> RenderableType:
    """What the mends rewrote (stderr), before the findings themselves."""
    return Group(*(mends(items, action) for action, items in outcome.mended))


def resolve_problem(lookup: Lookup, within: str | None) -> Text | None:
    """The stderr line for a reference that is missing or ambiguous (None when found)."""
    if lookup.status == "missing":
        return Text(
            f"{lookup.ref}: no definition of that name in {within or 'upstream/'}; try phase17 outline to see what is there."
        )
    if lookup.status == "ambiguous":
        return Text(f"{lookup.ref} is ambiguous: {len(lookup.matches)} definitions carry that name.", style="yellow")
    return None


def to_text(renderable: RenderableType, console: Console) -> str:
    """What `console` would print, as text (for the pager)."""
    with console.capture() as captured:
        console.print(renderable)
    return captured.get()


# ---------------------------------------------------------------- drift

_STATUS_STYLE = {"ok": "green", "moved": "cyan", "changed": "yellow", "missing": "red", "ambiguous": "magenta"}


def findings_report(findings: Sequence[Finding]) -> RenderableType:
    """A table per notes file, then the diff of each changed anchor and the suggestions for each missing one."""
    parts: list[RenderableType] = []
    for target in sorted({finding.target for finding in findings}, key=lambda name: (name == "questions", name)):
        mine = [finding for finding in findings if finding.target == target]
        table = Table(title=Text(f"{target}", style="bold"), title_justify="left", box=box.SIMPLE_HEAD, show_edge=False)
        for column in ("status", "anchor", "kind", "recorded", "now", "cited in"):
            table.add_column(column, no_wrap=column in ("status", "recorded", "now"), overflow="fold")
        for finding in mine:
            label = Text(finding.qualname)
            cited = (
                "-"
                if finding.cited is None
                else f"{finding.note}" + (f" ({finding.cited})" if finding.line is not None else "")
            )
            status = Text(finding.status, style=_STATUS_STYLE[finding.status])
            if finding.line_inside is False:
                status.append(" (line left)", style="red")
            now = "-" if finding.current is None else f"{finding.current.start}-{finding.current.end}"
            if finding.status == "ambiguous":
                now = ", ".join(f"{m.start}-{m.end}" for m in finding.matches)
            table.add_row(status, label, finding.kind, f"{finding.recorded.start}-{finding.recorded.end}", now, cited)
        parts.append(table)
        for finding in mine:
            parts.extend(_finding_details(finding))
    counts = summary_counts(findings)
    line = ", ".join(f"{counts[status]} {status}" for status in STATUSES)
    if counts["line left its symbol"]:
        line += f"; {counts['line left its symbol']} cited line(s) left their symbol"
    parts.append(Text(line, style="bold"))
    return Group(*parts)


def _finding_details(finding: Finding) -> list[RenderableType]:
    details: list[RenderableType] = []
    where = f"{finding.target}: {finding.anchor}"
    if finding.status == "changed":
        details.append(
            Text(f"changed  {where} (review it, then: phase17 check --accept {finding.qualname})", style="yellow")
        )
        if finding.diff:
            details.append(Syntax(finding.diff, "diff", theme="ansi_dark", background_color="default", word_wrap=True))
        else:
            details.append(
                Text("  (the recorded text is not in upstream/'s history, so no diff can be shown)", style="dim")
            )
    if finding.status == "missing":
        details.append(Text(f"missing  {where}", style="red"))
        if not finding.suggestions:
            details.append(
                Text("  no candidate found; relink by hand: phase17 check --relink REF NEW_REF", style="dim")
            )
        for suggestion in finding.suggestions:
            details.append(
                Text(
                    f"  -> {suggestion.ref}  lines {suggestion.start}-{suggestion.end}  score {suggestion.score:.2f}  {suggestion.reason}"
                )
            )
        if finding.suggestions:
            details.append(
                Text(f"  relink: phase17 check --relink {finding.qualname} {finding.suggestions[0].ref}", style="dim")
            )
    if finding.line_inside is False and finding.current is not None:
        details.append(
            Text(
                f"line left  {finding.cited}: line {finding.line} is no longer inside {finding.qualname} "
                f"(now {finding.current.start}-{finding.current.end}); edit the note's prose to cite the new line.",
                style="red",
            )
        )
    return details


def mends(items: Sequence[Mend], action: str) -> RenderableType:
    """What a mend rewrote, e.g. action="rewrote the lines of"."""
    if not items:
        return Text(f"No anchor to mend: nothing {action.split()[0]}.", style="dim")
    lines = [
        Text(
            f"{action[0].upper() + action[1:]} {len(items)} anchor(s); the previous files are kept as annotations/*.yaml.bak:",
            style="green",
        )
    ]
    lines += [Text(f"  {item.target}: {item.before}  ->  {item.after}") for item in items]
    return Group(*lines)
