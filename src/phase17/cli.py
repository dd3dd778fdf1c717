"""The phase17 command line: parse options, call the core, render, map errors to exit codes. Nothing else."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console, RenderableType

from phase17 import drift, guide, launch, reading, render
from phase17 import export as exporting
from phase17 import fetch as fetching
from phase17 import notebook as notes
from phase17.errors import FetchError, Phase17Error
from phase17.guide import ReadingList, Target
from phase17.pin import Pin, load_pin
from phase17.project import ProjectPaths, ensure_upstream, locate_project, repin
from phase17.sourcetree import Lookup, look_up, source_lines, source_text

app = typer.Typer(
    help="A reading companion for vLLM's hardware-platform layer (Phase 17), pinned to one upstream commit.",
    no_args_is_help=True,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)


@dataclass
class Session:
    """Options given before the subcommand, and the consoles every command prints through."""

    upstream: Path | None = None
    out: Console = Console()
    err: Console = Console(stderr=True)


session = Session()


@contextmanager
def reporting_errors() -> Iterator[None]:
    """A Phase17Error becomes `Error: <message>` on stderr and exit code 2; anything else is a bug."""
    try:
        yield
    except Phase17Error as error:
        session.err.print(f"Error: {error}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(code=2) from None
    except KeyboardInterrupt:
        session.err.print("Interrupted; nothing half-done was kept.", highlight=False)
        raise typer.Exit(code=130) from None


def locate() -> ProjectPaths:
    return locate_project(Path.cwd(), session.upstream)


def cache_dir() -> Path:
    override = os.environ.get("PHASE17_CACHE_DIR")
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("phase17"))


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def _consent(pin: Pin, source: str) -> None:
    """A pin naming an unexpected repository is fetched only with the reader's yes (or PHASE17_TRUSTED_REPOSITORY)."""
    if not fetching.needs_consent(pin, source, os.environ.get("PHASE17_TRUSTED_REPOSITORY")):
        return
    question = f"UPSTREAM_PIN.md names the repository {pin.repository}, not vllm-project/vllm. Fetch from it?"
    try:
        trusted = typer.confirm(question, default=False, err=True)
    except typer.Abort:
        trusted = False
    if not trusted:
        raise FetchError(
            f"not fetching from {pin.repository}: it is not vllm-project/vllm; answer yes, or set PHASE17_TRUSTED_REPOSITORY={pin.repository}."
        )


def fetcher(
    project: ProjectPaths, pin: Pin, source: str = "auto", force: bool = False, verify: bool = True
) -> Callable[[], fetching.FetchResult]:
    """A fetch of the pin with progress bars on stderr (for `fetch`, and for `read`'s first use)."""

    def run() -> fetching.FetchResult:
        _consent(pin, source)
        reporter = render.RichReporter(session.err)
        try:
            return fetching.fetch_upstream(
                pin,
                project.upstream,
                source=source,
                force=force,
                cache_dir=cache_dir(),
                reporter=reporter,
                replaceable=project.upstream_is_own,
                verify=verify,
            )
        finally:
            reporter.finish()

    return run


def ready_upstream(project: ProjectPaths, pin: Pin, *, fetch_missing: bool = False) -> Path:
    """upstream/, fetched on first use when asked; its warnings go to stderr."""
    if fetch_missing and not project.upstream.exists():
        session.err.print(
            f"upstream/ is missing: fetching {pin.describe()} first (this is phase17 fetch).", highlight=False
        )
    ready = ensure_upstream(project, pin, fetcher(project, pin) if fetch_missing else None)
    if ready.fetched is not None:
        session.err.print(render.fetch_summary(ready.fetched, pin))
    if ready.warnings:
        session.err.print(render.warnings(ready.warnings))
    return ready.path


def load_all() -> tuple[ProjectPaths, Pin, ReadingList]:
    project = locate()
    return project, load_pin(project.pin_file), guide.load_reading_list()


def show(renderable: RenderableType, *, pager: bool) -> None:
    """Print, through the pager when stdout is a terminal and the output is longer than the screen."""
    if pager and session.out.is_terminal and sys.stdout.isatty():
        text = render.to_text(renderable, session.out)
        if not (text.count("\n") > session.out.height and launch.page(text)):
            sys.stdout.write(text)
        return
    session.out.print(renderable)


@app.callback()
def configure(
    upstream: Annotated[
        Optional[Path],
        typer.Option(
            "--upstream",
            envvar="PHASE17_UPSTREAM",
            help="Read this checkout of vLLM instead of the project's upstream/ (a clone you keep).",
        ),
    ] = None,
) -> None:
    """Read vLLM's platform layer by symbol name, keep three-sentence notes, and check them against drift."""
    plain = bool(os.environ.get("NO_COLOR"))  # NO_COLOR means plain text: no escape codes, bold included
    session.upstream = upstream
    session.out = Console(color_system=None if plain else "auto", highlight=False)
    session.err = Console(stderr=True, color_system=None if plain else "auto", highlight=False)


# ---------------------------------------------------------------- the pinned tree


@app.command()
def fetch(
    source: Annotated[
        str,
        typer.Option(
            help="Where to get the tree: auto (git, else the PyPI sdist), git, pypi, or a path or URL of a git clone."
        ),
    ] = "auto",
    force: Annotated[
        bool, typer.Option(help="Replace an upstream/ that is at another commit or has local edits.")
    ] = False,
    insecure_skip_verify: Annotated[
        bool,
        typer.Option(
            "--insecure-skip-verify", help="Do not check the sdist's sha256 and commit (warned, and recorded)."
        ),
    ] = False,
) -> None:
    """Put exactly the pinned vLLM tree in upstream/ and prove it is the pinned commit.  Example: phase17 fetch --source pypi"""
    with reporting_errors():
        project = locate()
        pin = load_pin(project.pin_file)
        result = fetcher(project, pin, source=source, force=force, verify=not insecure_skip_verify)()
        session.out.print(render.fetch_summary(result, pin))


@app.command()
def pin(
    ref: Annotated[
        Optional[str],
        typer.Argument(metavar="[REF]", help="Re-pin to this tag (v0.23.0), version (0.23.0) or release commit."),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(help="With REF: report the drift against that version without changing the pin or upstream/."),
    ] = False,
    force: Annotated[bool, typer.Option(help="With REF: replace an upstream/ that has local edits.")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the pin and upstream/'s state (or the drift report) as JSON.")
    ] = False,
) -> None:
    """Show the pin and whether upstream/ matches it; with REF, move the pin and report the drift.  Example: phase17 pin 0.23.0 --dry-run"""
    from phase17.checkout import inspect_upstream

    with reporting_errors():
        project = locate()
        pinned = load_pin(project.pin_file)
        if ref is not None:
            _repin(project, pinned, ref, dry_run=dry_run, force=force, as_json=as_json)
        state = inspect_upstream(project.upstream, pinned)
        if as_json:
            print_json({**pinned.to_data(), "upstream": state.to_data()})
        else:
            session.out.print(render.upstream_state(state, pinned))
        raise typer.Exit(code=0 if state.is_verified else 1)


def _repin(project: ProjectPaths, current: Pin, ref: str, *, dry_run: bool, force: bool, as_json: bool) -> None:
    """Fetch the new tree (keeping the old one in upstream/'s history), rewrite the pin, and report the drift."""
    _consent(current, "auto")
    reporter = render.RichReporter(session.err)
    try:
        new = fetching.plan_repin(current, ref, cache_dir=cache_dir(), reporter=reporter)
        session.err.print(
            f"{'Dry run: ' if dry_run else ''}re-pinning {current.describe()} -> {new.describe()} ({new.commit}).",
            highlight=False,
        )
        findings = repin(project, current, new, cache_dir=cache_dir(), reporter=reporter, dry_run=dry_run, force=force)
    finally:
        reporter.finish()
    _report_findings(drift.CheckOutcome(findings), as_json)


# ---------------------------------------------------------------- symbols


@app.command()
def resolve(
    ref: Annotated[
        str,
        typer.Argument(
            metavar="REF", help="Class, Class.method, function.inner, NAME, or path/to/file.py::Class.method."
        ),
    ],
    target: Annotated[
        Optional[str], typer.Option("--in", metavar="TARGET", help="Look only in this reading target or upstream path.")
    ] = None,
    show_source: Annotated[
        bool, typer.Option("--show", help="Print each match's source with its real line numbers.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the matches as JSON.")] = False,
) -> None:
    """Say where a definition is now, found by name (every match, none picked silently).  Example: phase17 resolve Platform.get_attn_backend_cls --json"""
    with reporting_errors():
        project, pinned, reading_list = load_all()
        upstream = ready_upstream(project, pinned)
        within = guide.find_target(reading_list, target, upstream).place if target else None
        lookup = look_up(upstream, ref, within=(within,) if within else ())
        if as_json:
            print_json(lookup.to_data())
        else:
            _print_lookup(upstream, lookup, within, show_source)
        raise typer.Exit(code=0 if lookup.status == "found" else 1)


def _print_lookup(upstream: Path, lookup: Lookup, within: str | None, show_source: bool) -> None:
    if lookup.unreadable:
        session.err.print(render.unreadable_notice(lookup.unreadable))
    if show_source:
        for symbol in lookup.matches:
            session.out.print(render.symbol_source(symbol, source_lines(upstream, symbol), fold=False))
    elif lookup.matches:
        session.out.print(render.symbol_table(lookup.matches))
    problem = render.resolve_problem(lookup, within)
    if problem is not None:
        session.err.print(problem)


@app.command()
def outline(
    place: Annotated[
        str,
        typer.Argument(
            metavar="PATH_OR_TARGET", help="A reading target (interface, 2, ...) or a path under upstream/."
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the outline as JSON.")] = False,
) -> None:
    """Show the nested definitions of a file (or of each file of a folder target) with their live lines.  Example: phase17 outline cuda"""
    with reporting_errors():
        project, pinned, reading_list = load_all()
        upstream = ready_upstream(project, pinned)
        chosen = guide.find_target(reading_list, place, upstream)
        outlines, unreadable = reading.outline_files(upstream, reading.target_files(upstream, chosen))
        if unreadable:
            session.err.print(render.unreadable_notice(unreadable))
        if as_json:
            print_json([{"path": item.path, "outline": reading.outline_data(item.outline)} for item in outlines])
        for item in [] if as_json else outlines:
            session.out.print(render.outline_tree(item.path, item.outline))


# ---------------------------------------------------------------- reading


@app.command()
def read(
    target: Annotated[
        str,
        typer.Argument(
            metavar="TARGET",
            help="A reading target: interface, cuda, cpu, platforms, plugins; its number 1-5; or a path under upstream/.",
        ),
    ],
    symbol: Annotated[
        Optional[str],
        typer.Option(metavar="REF", help="Show this one symbol whole, e.g. Platform.get_attn_backend_cls."),
    ] = None,
    full: Annotated[bool, typer.Option(help="Show the whole file (each file, for a folder target).")] = False,
    open_editor: Annotated[
        bool, typer.Option("--open", help="Open $VISUAL/$EDITOR at the first key symbol's line.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the same content as JSON.")] = False,
    pager: Annotated[
        bool, typer.Option(help="Page long output when stdout is a terminal ($PAGER, default less).")
    ] = True,
    fetch_missing: Annotated[
        bool, typer.Option("--fetch/--no-fetch", help="Fetch the pinned upstream/ on first use.")
    ] = True,
) -> None:
    """Open a reading target: where its symbols are now, their source, its questions, your notes.  Example: phase17 read interface"""
    with reporting_errors():
        project, pinned, reading_list = load_all()
        guide.find_target(
            reading_list, target, project.upstream if project.upstream.exists() else None
        )  # a typo fails before a fetch
        upstream = ready_upstream(project, pinned, fetch_missing=fetch_missing)
        view = reading.build_view(
            upstream,
            project.annotations,
            reading_list,
            guide.find_target(reading_list, target, upstream),
            pinned,
            symbol,
        )
        if as_json:
            print_json(reading.view_data(view))
        elif open_editor:
            launch.run_editor(*reading.first_location(upstream, view))
        elif full:
            show(
                render.whole_files({item.path: source_text(upstream, item.path) for item in view.files}, pinned),
                pager=pager,
            )
        else:
            sources = {s.ref: source_lines(upstream, s) for key in view.key_symbols for s in key.matches}
            show(render.target_view(view, sources, fold=not symbol), pager=pager)


@app.command("list")
def list_targets(as_json: Annotated[bool, typer.Option("--json", help="Print the rows as JSON.")] = False) -> None:
    """The reading list with your progress: symbols found, notes written, questions answered, anchor health.  Example: phase17 list"""
    from phase17.checkout import inspect_upstream

    with reporting_errors():
        project, pinned, reading_list = load_all()
        upstream = project.upstream if inspect_upstream(project.upstream, pinned).has_tree else None
        rows = reading.reading_status(upstream, project.annotations, reading_list)
        if as_json:
            print_json(reading.status_data(rows))
        else:
            session.out.print(render.reading_status_table(rows))
        if upstream is None:
            session.err.print("upstream/ is missing: run phase17 fetch to count the symbols found.", highlight=False)


app.command("status", help="The same as list.  Example: phase17 status")(list_targets)


# ---------------------------------------------------------------- drift


@app.command()
def check(
    fix: Annotated[
        bool, typer.Option(help="Rewrite the recorded lines of anchors that only moved (your prose is never touched).")
    ] = False,
    accept: Annotated[
        Optional[list[str]],
        typer.Option(metavar="REF", help="Take the current code of this changed anchor, once reviewed (repeatable)."),
    ] = None,
    relink: Annotated[
        Optional[tuple[str, str]],
        typer.Option(metavar="REF NEW_REF", help="Point the missing anchor REF at the definition NEW_REF."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the findings as JSON records.")] = False,
) -> None:
    """Prove every anchor in annotations/ still resolves in upstream/: ok, moved, changed, missing or ambiguous.  Example: phase17 check --fix"""
    with reporting_errors():
        project, pinned, _ = load_all()
        upstream = ready_upstream(project, pinned)
        outcome = drift.check_and_mend(
            project.annotations, upstream, drift.MendRequest(fix=fix, accept=tuple(accept or ()), relink=relink)
        )
        if outcome.mended:
            session.err.print(render.check_outcome(outcome))
            exporting.write_export(project.annotations, project.notebooks, guide.load_reading_list(), pinned)
        _report_findings(outcome, as_json)


def _report_findings(outcome: drift.CheckOutcome, as_json: bool) -> None:
    if as_json:
        print_json([drift.finding_data(finding) for finding in outcome.findings])
    else:
        session.out.print(render.findings_report(outcome.findings))
    raise typer.Exit(code=1 if outcome.has_problems else 0)


# ---------------------------------------------------------------- the lab notebook


class TerminalInterviewer:
    """notebook.Interviewer on the terminal: rich for the screens, typer's prompt for the answers."""

    def begin(self, target: Target, key_symbols: list[Lookup]) -> None:
        session.out.print(render.notebook_intro(target, key_symbols, len(guide.load_reading_list().targets)))

    def ask(self, prompt: str, current: str) -> str:
        if current.strip():
            session.out.print(render.current_answer(current))
        label = f"{prompt} [Enter keeps it]" if current.strip() else prompt
        try:
            return str(typer.prompt(label, default=current, show_default=False)).strip()
        except typer.Abort:
            raise KeyboardInterrupt from None

    def saved(self, recorded: notes.Recorded) -> None:
        _print_recorded(recorded)

    def warn(self, message: str) -> None:
        session.err.print(render.note_warnings([message]))


def _print_recorded(recorded: notes.Recorded) -> None:
    session.out.print(render.recorded(recorded))
    if recorded.warnings:
        session.err.print(render.note_warnings(recorded.warnings))


def _reopen(error: Phase17Error) -> bool:
    session.err.print(f"Error: {error}", highlight=False, markup=False)
    return bool(typer.confirm("The previous file is unchanged. Reopen the editor to fix it?", default=True))


@app.command()
def notebook(
    target: Annotated[
        Optional[str],
        typer.Argument(
            metavar="[TARGET]", help="The reading target to write notes for; default: the first one not finished."
        ),
    ] = None,
    data_structure: Annotated[
        Optional[str], typer.Option(help="Set the 'what data structure' note without prompting.")
    ] = None,
    invariant: Annotated[Optional[str], typer.Option(help="Set the 'what invariant' note without prompting.")] = None,
    edge_case: Annotated[Optional[str], typer.Option(help="Set the 'what edge case' note without prompting.")] = None,
    edit: Annotated[
        bool, typer.Option(help="Open the target's YAML in $EDITOR and validate it when the editor exits.")
    ] = False,
) -> None:
    """Write a target's three-sentence lab notes (and its questions), saved the moment each is given.  Example: phase17 notebook interface"""
    with reporting_errors():
        project, pinned, reading_list = load_all()
        upstream = ready_upstream(project, pinned, fetch_missing=True)
        notes.ensure_notes_files(project.annotations, upstream, reading_list, pinned)
        chosen = notes.notes_target(
            reading_list, guide.find_target(reading_list, target, upstream) if target else None, project.annotations
        )
        given = {"data_structure": data_structure, "invariant": invariant, "edge_case": edge_case}
        if chosen is None:
            session.out.print(
                "Every target's three notes are written; name a target to revise it, e.g. phase17 notebook interface."
            )
        elif edit:
            session.out.print(
                render.edited(
                    notes.edit_notes(
                        project.notebook, upstream, reading_list, pinned, chosen.key, launch.run_editor, _reopen
                    )
                )
            )
        elif any(value is not None for value in given.values()):
            for recorded in notes.record_notes(project.notebook, upstream, reading_list, pinned, chosen, given):
                _print_recorded(recorded)
        else:
            result = notes.interview(project.notebook, upstream, reading_list, pinned, chosen, TerminalInterviewer())
            (session.err if result.stopped else session.out).print(render.notebook_done(chosen, result))
            raise typer.Exit(code=130 if result.stopped else 0)


@app.command()
def answer(
    number: Annotated[int, typer.Argument(metavar="N", help="The question's number (see phase17 read TARGET).")],
    text: Annotated[
        str, typer.Argument(metavar="TEXT", help="Your answer; cite code as `Class.method` or path.py:LINE.")
    ],
) -> None:
    """Save your answer to one of the guide's questions in annotations/questions.yaml.  Example: phase17 answer 4 "..." """
    with reporting_errors():
        project, pinned, reading_list = load_all()
        upstream = ready_upstream(project, pinned, fetch_missing=True)
        session.out.print(
            render.recorded(notes.record_answer(project.notebook, upstream, reading_list, pinned, number, text))
        )


@app.command()
def export() -> None:
    """Regenerate notebooks/phase17.md from annotations/ (deterministic, links pinned to the commit).  Example: phase17 export"""
    with reporting_errors():
        project, pinned, reading_list = load_all()
        path = exporting.write_export(project.annotations, project.notebooks, reading_list, pinned)
        session.out.print(f"Wrote {path.relative_to(project.root)}.", highlight=False)


def main() -> None:
    app()
