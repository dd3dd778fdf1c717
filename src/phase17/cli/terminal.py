"""The command line's side of the terminal: consoles, one-line errors, prompts, the pager, and fetches drawn
with progress bars. Only the CLI layer (cli/) imports typer.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import typer

from phase17.cache import cache_root
from phase17.errors import FetchError, Phase17Error, ProjectNotFoundError, UsageError
from phase17.safety.text import has_controls, json_text, neutralized

if TYPE_CHECKING:  # imported where used, so that a command loads only what it needs
    from rich.console import Console, RenderableType

    from phase17.drift.check import CheckOutcome
    from phase17.index.lookup import Lookup
    from phase17.index.records import IndexSummary
    from phase17.notes import notebook as notes
    from phase17.notes.guide import ReadingList, Target
    from phase17.progress import ProgressReporter
    from phase17.upstream import fetch as fetching
    from phase17.upstream.pin import Pin
    from phase17.upstream.project import NotebookPaths, ProjectPaths


def _console(*, stderr: bool) -> Console:
    """A console that never crops at the width (code lines and names are printed whole) and never
    parses markup: text from a pin, a note or a file name (`[/x]`) is shown as it is.
    NO_COLOR means plain text: no escape codes, bold included."""
    from rich.console import Console
    from rich.segment import Segment

    class WholeLineConsole(Console):
        def print(self, *objects: Any, **options: Any) -> None:
            options.setdefault("crop", False)
            super().print(*objects, **options)

        def render(self, renderable: Any, options: Any = None) -> Iterator[Segment]:
            """Every piece of text on its way out: control characters in it are shown, never obeyed."""
            for segment in super().render(renderable, options):
                if segment.control is None and has_controls(segment.text):
                    yield Segment(neutralized(segment.text), segment.style)
                else:
                    yield segment

    colors: Literal["auto"] | None = None if os.environ.get("NO_COLOR") else "auto"
    return WholeLineConsole(stderr=stderr, color_system=colors, highlight=False, markup=False)


@dataclass
class Session:
    """Options given before the subcommand, and the consoles every command prints through (made on first use)."""

    upstream: Path | None = None
    verbose: bool = False
    paging: bool = True
    _consoles: dict[bool, Console] = field(default_factory=dict)

    def configure(self, upstream: Path | None, verbose: bool = False, paging: bool = True) -> None:
        self.upstream, self.verbose, self.paging = upstream, verbose, paging
        self._consoles.clear()

    @property
    def out(self) -> Console:
        return self._console(stderr=False)

    @property
    def err(self) -> Console:
        return self._console(stderr=True)

    def _console(self, *, stderr: bool) -> Console:
        if stderr not in self._consoles:
            self._consoles[stderr] = _console(stderr=stderr)
        return self._consoles[stderr]


session = Session()


@contextmanager
def reporting_errors() -> Iterator[None]:
    """A Phase17Error becomes `Error: <message>` on stderr and exit code 2, and so does an error of the operating
    system (a name too long, a folder where a file should be, no permission): the machine's state, not a bug.
    Anything else is a bug, and shows its traceback."""
    _forget_the_tree()  # a command reads the tree afresh (several commands can run in one process: tests)
    try:
        yield
    except Phase17Error as error:
        session.err.print(f"Error: {error}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(code=2) from None
    except KeyboardInterrupt:
        session.err.print("Interrupted; nothing half-done was kept.", highlight=False)
        raise typer.Exit(code=130) from None
    except OSError as error:
        where = f"{error.filename}: " if error.filename else ""
        shown = f"{where}{error.strerror or error}"
        session.err.print(f"Error: {shown[:600]}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(code=2) from None
    finally:
        _forget_the_tree()  # what git said of the tree held for this command only


def _forget_the_tree() -> None:
    if "phase17.index.symbolindex" in sys.modules:  # (never imported just for this)
        from phase17.index import symbolindex
        from phase17.progress import SilentReporter

        symbolindex.forget()
        symbolindex.reporter_factory = SilentReporter  # a bar is this command's (_bar_when_indexing)


def locate() -> ProjectPaths:
    from phase17.upstream.project import locate_project

    try:
        here = Path.cwd()
    except FileNotFoundError:
        raise ProjectNotFoundError(
            "the current folder no longer exists (deleted or moved away); cd into the project again."
        ) from None
    return locate_project(here, session.upstream)


def print_json(data: Any) -> None:
    """JSON on stdout, with no terminal control character in it (safety.text.json_text)."""
    sys.stdout.write(json_text(data) + "\n")


def consent(pin: Pin, source: str) -> None:
    """A pin naming an unexpected repository is fetched only with the reader's yes (or PHASE17_TRUSTED_REPOSITORY)."""
    from phase17.upstream import fetch as fetching

    if not fetching.needs_consent(pin, source, os.environ.get("PHASE17_TRUSTED_REPOSITORY")):
        return
    question = f"UPSTREAM_PIN.md names the repository {pin.repository}, not vllm-project/vllm. Fetch from it?"
    try:
        trusted = typer.confirm(question, default=False, err=True)
    except typer.Abort:
        trusted = False
    if not trusted:
        raise FetchError(
            f"not fetching from {pin.repository}: it is not vllm-project/vllm; answer yes, or set "
            f"PHASE17_TRUSTED_REPOSITORY={pin.repository}."
        )


def fetcher(
    project: ProjectPaths, pin: Pin, source: str = "auto", force: bool = False, verify: bool = True
) -> Callable[[], fetching.FetchResult]:
    """A fetch of the pin with progress bars on stderr (for `fetch`, and for `read`'s first use)."""
    from phase17 import render
    from phase17.index import symbolindex
    from phase17.upstream import fetch as fetching

    def run() -> fetching.FetchResult:
        consent(pin, source)
        reporter = render.RichReporter(session.err, session.verbose)
        try:
            fetched = fetching.fetch_upstream(
                pin,
                project.upstream,
                source=source,
                force=force,
                cache_dir=cache_root(),
                reporter=reporter,
                replaceable=project.upstream_is_own,
                verify=verify,
            )
            symbolindex.forget(project.upstream)  # what this process knew of the old tree
            return fetched
        finally:
            reporter.finish()

    return run


def ready_upstream(project: ProjectPaths, pin: Pin, *, fetch_missing: bool = False) -> Path:
    """upstream/, fetched on first use when asked; its warnings go to stderr."""
    from phase17 import render
    from phase17.upstream.project import ensure_upstream

    if fetch_missing and not project.upstream.exists():
        session.err.print(
            f"upstream/ is missing: fetching {pin.describe()} first (this is phase17 fetch).", highlight=False
        )
    ready = ensure_upstream(project, pin, fetcher(project, pin) if fetch_missing else None)
    if ready.state is not None and ready.state.tree is not None:
        from phase17.index import symbolindex

        # git has just compared every file with HEAD: the index need not walk the tree
        symbolindex.use_git_view(ready.path, ready.state.tree, ready.state.differing)
    if ready.fetched is not None:
        session.err.print(render.fetch_summary(ready.fetched, pin))
    if ready.warnings:
        session.err.print(render.warnings(ready.warnings))
    _bar_when_indexing()
    return ready.path


def _bar_when_indexing() -> None:
    """A lookup that must first index many files (the first after a fetch or a re-pin: seconds) draws a bar."""
    from phase17.index import symbolindex

    symbolindex.reporter_factory = _BarOnFirstUse


def existing_upstream(*, ask_git: bool = True) -> Path:
    """upstream/ (or --upstream) as it is, unverified: for work that reads whatever tree is there. Of a checkout,
    git's status says which files changed, so the index walks nothing (symbolindex.view_through_git); without
    `ask_git` (a rebuild reads every file anyway) git is not asked."""
    from phase17.errors import UpstreamError
    from phase17.index.symbolindex import view_through_git

    upstream = locate().upstream
    if not upstream.is_dir():
        raise UpstreamError(f"{upstream} is missing: run phase17 fetch first.")
    if ask_git:
        view_through_git(upstream)
    _bar_when_indexing()
    return upstream


class _BarOnFirstUse:
    """A ProgressReporter that loads rich only when there is progress to draw: a warm index draws none."""

    def __init__(self) -> None:
        self._bar: ProgressReporter | None = None

    def _drawn(self) -> ProgressReporter:
        if self._bar is None:
            from phase17 import render

            self._bar = render.RichReporter(session.err, session.verbose)
        return self._bar

    def start(self, description: str, total: int | None) -> None:
        self._drawn().start(description, total)

    def advance(self, amount: int) -> None:
        self._drawn().advance(amount)

    def finish(self) -> None:
        if self._bar is not None:
            self._bar.finish()

    def notice(self, message: str) -> None:
        self._drawn().notice(message)

    def detail(self, message: str) -> None:
        self._drawn().detail(message)


@contextmanager
def progress_reporter() -> Iterator[ProgressReporter]:
    """A progress bar on stderr for long work (rich is loaded once the work starts)."""
    reporter = _BarOnFirstUse()
    try:
        yield reporter
    finally:
        reporter.finish()


def print_index_summary(summary: IndexSummary) -> None:
    """`phase17 index`'s few lines, written without loading rich (it runs between reads, so it must be instant)."""
    lines = [
        f"Symbol index: {summary.location}",
        f"  {summary.files} Python files, {summary.definitions} definitions ({summary.contents} file contents stored)",
        f"  this run: {summary.parsed} parsed, {summary.reused} re-used by content, {summary.seconds:.2f} s",
    ]
    if summary.rebuilt_because:
        lines.append(f"  built anew: {summary.rebuilt_because}")
    lines += [f"  skipped {path}: {reason}" for path, reason in sorted(summary.unreadable.items())]
    sys.stdout.write("".join(neutralized(line) + "\n" for line in lines))


def load_all() -> tuple[ProjectPaths, Pin, ReadingList]:
    from phase17.notes import guide
    from phase17.upstream.pin import load_pin

    project = locate()
    return project, load_pin(project.pin_file), guide.load_reading_list()


def show(renderable: RenderableType, pager: bool = True) -> None:
    """Print, through the pager (like git) when stdout is a terminal and the output is longer than the screen;
    never piped, nor with `--no-pager` or an empty PHASE17_PAGER."""
    from phase17 import render
    from phase17.cli import launch

    if pager and session.paging and session.out.is_terminal and sys.stdout.isatty():
        text = render.to_text(renderable, session.out)
        if not (text.count("\n") > session.out.height and launch.page(text)):
            sys.stdout.write(text)
        return
    session.out.print(renderable)


class TerminalInterviewer:
    """notebook.Interviewer on the terminal: rich for the screens, typer's prompt for the answers."""

    def begin(self, target: Target, key_symbols: list[Lookup]) -> None:
        from phase17 import render
        from phase17.notes import guide

        session.out.print(render.notebook_intro(target, key_symbols, len(guide.load_reading_list().targets)))

    def ask(self, prompt: str, current: str) -> str:
        from phase17 import render

        if current.strip():
            session.out.print(render.current_answer(current))
        label = f"{prompt} [Enter keeps it]" if current.strip() else prompt
        try:
            return str(typer.prompt(label, default=current, show_default=False)).strip()
        except typer.Abort:
            raise KeyboardInterrupt from None

    def saved(self, recorded: notes.Recorded) -> None:
        print_recorded(recorded)

    def warn(self, message: str) -> None:
        from phase17 import render

        session.err.print(render.note_warnings([message]))

    def correct(self, written: str, closest: str) -> bool:
        try:
            answer = typer.prompt(
                f"`{written}` names no definition: did you mean `{closest}`? [Y/n]", default="y", show_default=False
            )
        except typer.Abort:
            raise KeyboardInterrupt from None
        return str(answer).strip().lower() in ("", "y", "yes")


def print_recorded(recorded: notes.Recorded) -> None:
    from phase17 import render

    session.out.print(render.recorded(recorded))
    if recorded.warnings:
        session.err.print(render.note_warnings(recorded.warnings))


def reopen_editor(error: Phase17Error) -> bool:
    """After a rejected edit: ask whether to reopen the editor, only when someone is at a terminal to answer."""
    if not has_terminal():
        return False
    session.err.print(f"Error: {error}", highlight=False, markup=False)
    return bool(typer.confirm("The previous file is unchanged. Reopen the editor to fix it?", default=True))


def has_terminal() -> bool:
    """Is a person at a terminal to answer prompts? Without one, phase17 never prompts."""
    return sys.stdin is not None and sys.stdin.isatty()  # (None: started with stdin closed, `<&-`)


def require_terminal(what: str, instead: str) -> None:
    if not has_terminal():
        raise UsageError(f"no terminal to {what}: {instead}")


def repin_and_check(project: ProjectPaths, current: Pin, ref: str, *, dry_run: bool, force: bool) -> CheckOutcome:
    """Fetch the new tree (keeping the old one in upstream/'s history), rewrite the pin, and check the notes."""
    from phase17 import render
    from phase17.drift.check import CheckOutcome
    from phase17.drift.repin import repin
    from phase17.upstream.fetch import plan_repin

    consent(current, "auto")
    reporter = render.RichReporter(session.err, session.verbose)
    try:
        from phase17.upstream.checkout import recorded_upstream_commits

        known = recorded_upstream_commits(project.upstream) if project.upstream.is_dir() else []
        new = plan_repin(current, ref, cache_dir=cache_root(), reporter=reporter, known_commits=known)
        prefix = "Dry run: " if dry_run else ""
        session.err.print(
            f"{prefix}re-pinning {current.describe()} -> {new.describe()} ({new.commit}).", highlight=False
        )
        findings = repin(project, current, new, cache_dir=cache_root(), reporter=reporter, dry_run=dry_run, force=force)
    finally:
        reporter.finish()
    return CheckOutcome(findings)


def print_lookup(upstream: Path, lookup: Lookup, within: str | None, show_source: bool) -> None:
    """`resolve`'s screen: every match (as source with --show), and on stderr what is missing or ambiguous."""
    from phase17 import render
    from phase17.index.lookup import source_lines

    if lookup.unreadable:
        session.err.print(render.unreadable_notice(lookup.unreadable))
    for symbol in lookup.matches if show_source else ():
        session.out.print(render.symbol_source(symbol, source_lines(upstream, symbol), fold=False))
    if lookup.matches and not show_source:
        session.out.print(render.symbol_table(lookup.matches))
    problem = render.resolve_problem(lookup, within)
    if problem is not None:
        session.err.print(problem)


def report_findings(outcome: CheckOutcome, as_json: bool, *, diffs: bool = False, every: bool = False) -> int:
    """Print the findings (or their JSON records); the exit code: 1 if any needs the reader, else 0."""
    from phase17 import render
    from phase17.drift.findings import finding_data

    if as_json:
        print_json([finding_data(finding) for finding in outcome.findings])
    else:
        show(render.findings_report(outcome.findings, diffs=diffs, every=every))
    return 1 if outcome.has_problems else 0


def run_interview(context: tuple[NotebookPaths, Path, ReadingList, Pin], chosen: Target) -> int:
    """`notebook`'s interview on the terminal (never without one); the exit code: 130 when the reader stopped it."""
    from phase17 import render
    from phase17.notes import notebook as notes

    require_terminal(
        f"ask the prompts of {chosen.key} on",
        f"give the notes as options (phase17 notebook {chosen.key} --data-structure '...' --invariant '...' "
        f"--edge-case '...'), edit the file with --edit, or run it in a terminal.",
    )
    result = notes.interview(*context, chosen, TerminalInterviewer())
    (session.err if result.stopped else session.out).print(render.notebook_done(chosen, result))
    return 130 if result.stopped else 0
