"""The phase17 command line: parse options, call the core, render, map errors to exit codes. Nothing else."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console

from phase17 import fetch as fetching
from phase17 import annotations as annotations_store
from phase17 import drift, guide, launch, reading, render, symbols
from phase17 import notebook as notes_core
from phase17.errors import AnnotationError, FetchError, Phase17Error, TargetNotFoundError, UpstreamMissingError
from phase17.pin import KNOWN_REPOSITORIES, Pin, ProjectPaths, inspect_upstream, load_pin, locate_project, pin_data

app = typer.Typer(
    help="A reading companion for vLLM's hardware-platform layer (Phase 17), pinned to one upstream commit.",
    no_args_is_help=True,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)


def _make_consoles() -> None:
    """NO_COLOR means plain text: color_system=None drops every escape code, bold included."""
    global console, err_console
    plain = bool(os.environ.get("NO_COLOR"))
    console = Console(color_system=None if plain else "auto", highlight=False)
    err_console = Console(stderr=True, color_system=None if plain else "auto", highlight=False)


@dataclass
class Settings:
    """Options given before the subcommand."""

    upstream: Path | None = None


settings = Settings()


@contextmanager
def reporting_errors() -> Iterator[None]:
    """A Phase17Error becomes `Error: <message>` on stderr and exit code 2; anything else is a bug."""
    try:
        yield
    except Phase17Error as error:
        err_console.print(f"Error: {error}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(code=2) from None
    except KeyboardInterrupt:
        err_console.print("Interrupted; nothing half-done was kept.", highlight=False)
        raise typer.Exit(code=130) from None


def paths() -> ProjectPaths:
    return locate_project(Path.cwd(), settings.upstream)


def cache_dir() -> Path:
    override = os.environ.get("PHASE17_CACHE_DIR")
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("phase17"))


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


@app.callback()
def configure(
    upstream: Annotated[
        Optional[Path],
        typer.Option(
            "--upstream",
            envvar="PHASE17_UPSTREAM",
            help="Use this checkout of vLLM instead of the project's upstream/ (for a reader who keeps a clone).",
        ),
    ] = None,
) -> None:
    """Read vLLM's platform layer by symbol name, keep three-sentence notes, and check them against drift."""
    settings.upstream = upstream
    _make_consoles()


@app.command()
def fetch(
    source: Annotated[
        str,
        typer.Option(
            help="Where to get the tree: auto (git, else the PyPI sdist), git, pypi, or a path or URL of a git clone.",
        ),
    ] = "auto",
    force: Annotated[bool, typer.Option(help="Replace an upstream/ that is at another commit or has local edits.")] = False,
    insecure_skip_verify: Annotated[
        bool, typer.Option("--insecure-skip-verify", help="Do not check the sdist's sha256 and commit (loudly warned, and recorded).")
    ] = False,
) -> None:
    """Put exactly the pinned vLLM tree in upstream/ and prove it is the pinned commit.  Example: phase17 fetch --source pypi"""
    with reporting_errors():
        project = paths()
        pin = load_pin(project.pin_file)
        result = fetch_pinned(project, pin, source=source, force=force, verify=not insecure_skip_verify)
        console.print(render.fetch_summary(result, pin))


def confirm_repository(pin: Pin, source: str) -> None:
    """A pin naming an unexpected repository is fetched only with the reader's yes (or PHASE17_TRUSTED_REPOSITORY)."""
    if source not in ("auto", "git") or pin.repository in KNOWN_REPOSITORIES:
        return
    if os.environ.get("PHASE17_TRUSTED_REPOSITORY") == pin.repository:
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


def fetch_pinned(project: ProjectPaths, pin: Pin, *, source: str = "auto", force: bool = False, verify: bool = True) -> fetching.FetchResult:
    """Run a fetch with progress bars on stderr (shared by fetch and by read's first use)."""
    confirm_repository(pin, source)
    reporter = render.RichReporter(err_console)
    try:
        return fetching.fetch_upstream(
            pin,
            project.upstream,
            source=source,
            force=force,
            cache_dir=cache_dir(),
            reporter=reporter,
            replaceable=settings.upstream is None,
            verify=verify,
        )
    finally:
        reporter.finish()


@app.command()
def pin(
    ref: Annotated[Optional[str], typer.Argument(help="Re-pin to this tag (v0.23.0), version (0.23.0) or release commit.")] = None,
    dry_run: Annotated[bool, typer.Option(help="With REF: report the drift against that version without changing the pin or upstream/.")] = False,
    force: Annotated[bool, typer.Option(help="With REF: replace an upstream/ that has local edits.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the pin and upstream/'s state (or the drift report) as JSON.")] = False,
) -> None:
    """Show the pin and whether upstream/ matches it; with REF, move the pin and report the drift.  Example: phase17 pin 0.23.0 --dry-run"""
    with reporting_errors():
        project = paths()
        pinned = load_pin(project.pin_file)
        if ref is not None:
            _repin(project, pinned, ref, dry_run=dry_run, force=force, as_json=as_json)
            return
        state = inspect_upstream(project.upstream, pinned)
        if as_json:
            print_json(pin_data(pinned, state))
        else:
            console.print(render.upstream_state(state, pinned))
        if not state.is_verified:
            raise typer.Exit(code=1)


def _repin(project: ProjectPaths, current: Pin, ref: str, *, dry_run: bool, force: bool, as_json: bool) -> None:
    """Fetch the new tree (keeping the old one in upstream/'s history), rewrite the pin, and report the drift."""
    confirm_repository(current, "auto")
    reporter = render.RichReporter(err_console)
    try:
        new = fetching.plan_repin(current, ref, cache_dir=cache_dir(), reporter=reporter)
        err_console.print(f"{'Dry run: ' if dry_run else ''}re-pinning {current.describe()} -> {new.describe()} ({new.commit}).", highlight=False)
        findings = drift.repin(
            project,
            current,
            new,
            cache_dir=cache_dir(),
            reporter=reporter,
            dry_run=dry_run,
            force=force,
            replaceable=settings.upstream is None,
        )
    finally:
        reporter.finish()
    _report_findings(findings, as_json)


# ---------------------------------------------------------------- symbols


def verified_upstream(project: ProjectPaths, pin: Pin, *, fetch_if_missing: bool = False) -> Path:
    """upstream/, fetched on first use when allowed; a tree that is not the pin is used, with a warning."""
    state = inspect_upstream(project.upstream, pin)
    if state.status == "missing":
        if not fetch_if_missing:
            raise UpstreamMissingError(f"{project.upstream} is missing; run phase17 fetch first.")
        err_console.print(f"upstream/ is missing: fetching {pin.describe()} first (this is phase17 fetch).", highlight=False)
        err_console.print(render.fetch_summary(fetch_pinned(project, pin), pin))
    elif state.status == "not-a-checkout":
        raise UpstreamMissingError(f"{project.upstream} is not a checkout phase17 can verify; run phase17 fetch --force.")
    elif state.status != "matches":
        what = f"at {(state.carries or '?')[:7]}" if state.status == "other-commit" else f"modified ({len(state.modified)} files)"
        err_console.print(f"Warning: upstream/ is {what}, not exactly {pin.describe()}; lines are of what is there.", style="yellow", highlight=False)
    elif not state.verified:
        err_console.print("Warning: upstream/ was fetched with --insecure-skip-verify and is NOT verified; run phase17 fetch.", style="bold red", highlight=False)
    return project.upstream


def load_guide_and_pin() -> tuple[ProjectPaths, Pin, guide.ReadingList]:
    project = paths()
    return project, load_pin(project.pin_file), guide.load_reading_list()


@app.command()
def resolve(
    ref: Annotated[str, typer.Argument(help="Class, Class.method, function.inner, NAME, or path/to/file.py::Class.method.")],
    target: Annotated[Optional[str], typer.Option("--in", help="Look only in this reading target or upstream path.")] = None,
    show: Annotated[bool, typer.Option(help="Print each match's source with its real line numbers.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the matches as JSON.")] = False,
) -> None:
    """Say where a definition is now, found by name (every match, none picked silently).  Example: phase17 resolve Platform.get_attn_backend_cls --json"""
    with reporting_errors():
        project, pinned, reading_list = load_guide_and_pin()
        upstream = verified_upstream(project, pinned)
        parsed = symbols.parse_ref(ref)
        within = (guide.find_target(reading_list, target, upstream).place,) if target else ()
        scan = symbols.find_symbol(upstream, parsed, within=within)
        status = "found" if len(scan.symbols) == 1 else ("missing" if not scan.symbols else "ambiguous")
        if as_json:
            print_json({"ref": ref, "status": status, "matches": [reading.symbol_data(s) for s in scan.symbols], "unreadable": [u.__dict__ for u in scan.unreadable]})
        else:
            if scan.unreadable:
                err_console.print(render.unreadable_notice(scan.unreadable))
            if not scan.symbols:
                err_console.print(f"{ref}: no definition of that name in {within[0] if within else 'upstream/'}; try phase17 outline to see what is there.", highlight=False)
            elif show:
                for symbol in scan.symbols:
                    console.print(render.symbol_source(symbol, symbols.source_lines(upstream, symbol), fold=False))
            else:
                console.print(render.symbol_table(scan.symbols))
            if status == "ambiguous":
                err_console.print(f"{ref} is ambiguous: {len(scan.symbols)} definitions carry that name.", style="yellow", highlight=False)
        if status != "found":
            raise typer.Exit(code=1)


@app.command()
def outline(
    place: Annotated[str, typer.Argument(metavar="PATH_OR_TARGET", help="A reading target (interface, 2, ...) or a path under upstream/.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the outline as JSON.")] = False,
) -> None:
    """Show the nested definitions of a file (or of each file of a folder target) with their live lines.  Example: phase17 outline cuda"""
    with reporting_errors():
        project, pinned, reading_list = load_guide_and_pin()
        upstream = verified_upstream(project, pinned)
        chosen = guide.find_target(reading_list, place, upstream)
        outlines, unreadable = reading.outline_files(upstream, reading.target_files(upstream, chosen))
        if unreadable:
            err_console.print(render.unreadable_notice(unreadable))
        if as_json:
            print_json([{"path": item.path, "outline": reading.outline_data(item.outline)} for item in outlines])
            return
        for item in outlines:
            console.print(render.outline_tree(item.path, item.outline))


# ---------------------------------------------------------------- reading


@app.command()
def read(
    target: Annotated[str, typer.Argument(help="A reading target: interface, cuda, cpu, platforms, plugins; its number 1-5; or a path under upstream/.")],
    symbol: Annotated[Optional[str], typer.Option(help="Show this one symbol whole, e.g. Platform.get_attn_backend_cls.")] = None,
    full: Annotated[bool, typer.Option(help="Show the whole file (each file, for a folder target).")] = False,
    open_editor: Annotated[bool, typer.Option("--open", help="Open $VISUAL/$EDITOR at the first key symbol's line.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the same content as JSON.")] = False,
    pager: Annotated[bool, typer.Option(help="Page long output when stdout is a terminal ($PAGER, default less).")] = True,
    fetch_missing: Annotated[bool, typer.Option("--fetch/--no-fetch", help="Fetch the pinned upstream/ on first use.")] = True,
) -> None:
    """Open a reading target: where its symbols are now, their source, its questions, your notes.  Example: phase17 read interface"""
    with reporting_errors():
        project, pinned, reading_list = load_guide_and_pin()
        chosen = guide.find_target(reading_list, target, project.upstream if project.upstream.exists() else None)
        upstream = verified_upstream(project, pinned, fetch_if_missing=fetch_missing)
        if chosen.number == 0:
            chosen = guide.find_target(reading_list, target, upstream)
        view = reading.build_view(upstream, project.annotations, reading_list, chosen, pinned)
        if symbol:
            view = dataclasses.replace(view, key_symbols=(reading.locate_one(upstream, chosen, symbol),))
        if as_json:
            print_json(reading.view_data(view))
            return
        if open_editor:
            _open_first_symbol(upstream, view)
            return
        if full:
            output: Any = render.whole_files({item.path: symbols.source_text(upstream, item.path) for item in view.files}, pinned)
        else:
            sources = {s.ref: symbols.source_lines(upstream, s) for key in view.key_symbols for s in key.matches}
            output = render.target_view(view, sources, fold=not symbol)
        show(output, pager=pager)


def _open_first_symbol(upstream: Path, view: reading.TargetView) -> None:
    first = next((key.matches[0] for key in view.key_symbols if key.matches), None)
    path = upstream / (first.path if first else view.files[0].path)
    launch.run_editor(path, first.start_line if first else None)


def show(renderable: Any, *, pager: bool) -> None:
    """Print, through the pager when stdout is a terminal and the output is longer than the screen."""
    if pager and console.is_terminal and sys.stdout.isatty():
        with console.capture() as captured:
            console.print(renderable)
        text = captured.get()
        if text.count("\n") > console.height and launch.page(text):
            return
        sys.stdout.write(text)
        return
    console.print(renderable)


@app.command("list")
def list_targets(
    as_json: Annotated[bool, typer.Option("--json", help="Print the rows as JSON.")] = False,
) -> None:
    """The reading list with your progress: symbols found, notes written, questions answered, anchor health.  Example: phase17 list"""
    with reporting_errors():
        project, pinned, reading_list = load_guide_and_pin()
        state = inspect_upstream(project.upstream, pinned)
        upstream = project.upstream if state.status not in ("missing", "not-a-checkout") else None
        rows = reading.reading_status(upstream, project.annotations, reading_list)
        if as_json:
            print_json(reading.status_data(rows))
            return
        console.print(render.reading_status_table(rows))
        if upstream is None:
            err_console.print("upstream/ is missing: run phase17 fetch to count the symbols found.", highlight=False)


app.command("status", help="The same as list.  Example: phase17 status")(list_targets)


# ---------------------------------------------------------------- drift


@app.command()
def check(
    fix: Annotated[bool, typer.Option(help="Rewrite the recorded lines of anchors that only moved (your prose is never touched).")] = False,
    accept: Annotated[Optional[list[str]], typer.Option(help="Take the current code of this changed anchor, once you have reviewed it (repeatable).")] = None,
    relink: Annotated[Optional[tuple[str, str]], typer.Option(metavar="REF NEW_REF", help="Point the missing anchor REF at the definition NEW_REF.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the findings as JSON records.")] = False,
) -> None:
    """Prove every anchor in annotations/ still resolves in upstream/: ok, moved, changed, missing or ambiguous.  Example: phase17 check --fix"""
    with reporting_errors():
        project, pinned, _ = load_guide_and_pin()
        upstream = verified_upstream(project, pinned)
        findings = drift.check_notes(project.annotations, upstream)
        mended: list[tuple[list[drift.Mend], str]] = []
        if fix:
            mended.append((drift.fix_moved(project.annotations, findings), "rewrote the lines of"))
        for ref in accept or []:
            mended.append((drift.accept_changed(project.annotations, findings, ref), "accepted the current code of"))
        if relink:
            mended.append((drift.relink_missing(project.annotations, upstream, findings, relink[0], relink[1]), "relinked"))
        if mended:
            for items, action in mended:
                err_console.print(render.mends(items, action))
            findings = drift.check_notes(project.annotations, upstream)
        drift.write_last_check(project.annotations, findings)
        _report_findings(findings, as_json)


def _report_findings(findings: list[drift.Finding], as_json: bool) -> None:
    if as_json:
        print_json([drift.finding_data(finding) for finding in findings])
    else:
        console.print(render.findings_report(findings))
    if any(finding.is_problem for finding in findings):
        raise typer.Exit(code=1)


# ---------------------------------------------------------------- the lab notebook


@app.command()
def notebook(
    target: Annotated[Optional[str], typer.Argument(help="The reading target to write notes for; default: the first one not finished.")] = None,
    data_structure: Annotated[Optional[str], typer.Option(help="Set the 'what data structure' note without prompting.")] = None,
    invariant: Annotated[Optional[str], typer.Option(help="Set the 'what invariant' note without prompting.")] = None,
    edge_case: Annotated[Optional[str], typer.Option(help="Set the 'what edge case' note without prompting.")] = None,
    edit: Annotated[bool, typer.Option(help="Open the target's YAML in $EDITOR and validate it when the editor exits.")] = False,
) -> None:
    """Write a target's three-sentence lab notes (and its questions), saved the moment each is given.  Example: phase17 notebook interface"""
    with reporting_errors():
        project, pinned, reading_list = load_guide_and_pin()
        upstream = verified_upstream(project, pinned, fetch_if_missing=True)
        notes_core.ensure_notes_files(project.annotations, upstream, reading_list, pinned)
        chosen = guide.find_target(reading_list, target, upstream) if target else notes_core.first_unfinished_target(project.annotations, reading_list)
        if chosen is None:
            console.print("Every target's three notes are written; name a target to revise it, e.g. phase17 notebook interface.")
            return
        if chosen.number == 0:
            raise TargetNotFoundError(f"{chosen.path} is not on the reading list; notes are kept for {', '.join(reading_list.keys)}.")
        given = {"data_structure": data_structure, "invariant": invariant, "edge_case": edge_case}
        if edit:
            _edit_notes(project, upstream, reading_list, pinned, chosen.key)
        elif any(value is not None for value in given.values()):
            for key, value in given.items():
                if value is not None:
                    _report_recorded(project, key, notes_core.record_note(project.annotations, upstream, chosen, key, value, pinned, reading_list))
            notes_core.write_export(project.annotations, project.notebooks, reading_list, pinned)
        else:
            _interview(project, upstream, reading_list, pinned, chosen)


def _interview(project: ProjectPaths, upstream: Path, reading_list: guide.ReadingList, pinned: Pin, target: guide.Target) -> None:
    """Ask each prompt, then each linked question; save every answer at once (Ctrl-C loses nothing given)."""
    saved = 0
    console.print(render.notebook_intro(target, reading.locate_key_symbols(upstream, target), len(reading_list.targets)))
    try:
        current = annotations_store.load_notes(project.annotations, target.key)
        for key in guide.PROMPT_KEYS:
            answer = _ask(reading_list.prompts[key], current.notes.get(key, ""))
            if not answer:
                err_console.print("  warning: left empty.", style="yellow", highlight=False)
            if answer != current.notes.get(key, ""):
                _report_recorded(project, key, notes_core.record_note(project.annotations, upstream, target, key, answer, pinned, reading_list))
                notes_core.write_export(project.annotations, project.notebooks, reading_list, pinned)
                saved += 1
        answers = annotations_store.load_notes(project.annotations, annotations_store.QUESTIONS_FILE)
        for question in reading_list.questions_for(target.key):
            before = answers.notes.get(str(question.number), "")
            answer = _ask(f"Q{question.number}. {question.text}", before)
            if answer != before:
                recorded = notes_core.record_answer(project.annotations, upstream, reading_list, question.number, answer, pinned)
                _report_recorded(project, f"Q{question.number}", recorded)
                notes_core.write_export(project.annotations, project.notebooks, reading_list, pinned)
                saved += 1
    except (typer.Abort, KeyboardInterrupt, EOFError):
        err_console.print(f"\nStopped. {saved} answer(s) from this session are saved in annotations/.", highlight=False)
        raise typer.Exit(code=130) from None
    next_target = reading_list.next_target(target)
    console.print(render.notebook_done(target, saved, next_target))


def _ask(prompt: str, current: str) -> str:
    if current.strip():
        console.print(render.current_answer(current))
    label = f"{prompt} [Enter keeps it]" if current.strip() else prompt
    return str(typer.prompt(label, default=current, show_default=False)).strip()


def _report_recorded(project: ProjectPaths, label: str, recorded: notes_core.Recorded) -> None:
    warnings = notes_core.sentence_warnings(recorded.notes.notes.get(label, "")) if label in guide.PROMPT_KEYS else []
    console.print(render.recorded(label, recorded, annotations_store.notes_path(Path("annotations"), recorded.notes.name), warnings))


def _edit_notes(project: ProjectPaths, upstream: Path, reading_list: guide.ReadingList, pinned: Pin, name: str) -> None:
    """Edit a copy; only a copy that validates replaces the notes file, so a bad edit never costs the old one."""
    path = annotations_store.notes_path(project.annotations, name)
    draft = path.with_name(f".{name}.edit.yaml")
    shutil.copyfile(path, draft)
    while True:
        status = launch.run_editor(draft)
        try:
            edited = annotations_store.load_notes_from(draft, name, f"annotations/{path.name}")
        except AnnotationError as error:
            err_console.print(f"Error: {error}", highlight=False, markup=False)
            if status == 0 and typer.confirm("The previous file is unchanged. Reopen the editor to fix it?", default=True):
                continue
            rejected = path.with_name(f".{name}.rejected.yaml")
            os.replace(draft, rejected)
            raise Phase17Error(f"annotations/{path.name} is unchanged; your rejected edit is kept in annotations/{rejected.name}.") from None
        break
    edited, warnings = notes_core.reanchor_citations(edited, upstream, reading_list)
    with annotations_store.locked(project.annotations, name):
        annotations_store.save_notes(project.annotations, edited, backup=True)
    draft.unlink(missing_ok=True)
    notes_core.write_export(project.annotations, project.notebooks, reading_list, pinned)
    console.print(f"Saved annotations/{path.name} ({len(edited.citations)} citation(s) anchored).", highlight=False)
    for warning in warnings:
        err_console.print(f"Warning: {warning}", style="yellow", highlight=False)


@app.command()
def answer(
    number: Annotated[int, typer.Argument(help="The question's number (see phase17 read TARGET).")],
    text: Annotated[str, typer.Argument(help="Your answer; cite code as `Class.method` or path.py:LINE.")],
) -> None:
    """Save your answer to one of the guide's questions in annotations/questions.yaml.  Example: phase17 answer 4 "..." """
    with reporting_errors():
        project, pinned, reading_list = load_guide_and_pin()
        upstream = verified_upstream(project, pinned, fetch_if_missing=True)
        recorded = notes_core.record_answer(project.annotations, upstream, reading_list, number, text, pinned)
        _report_recorded(project, f"Q{number}", recorded)
        notes_core.write_export(project.annotations, project.notebooks, reading_list, pinned)


@app.command()
def export() -> None:
    """Regenerate notebooks/phase17.md from annotations/ (deterministic, links pinned to the commit).  Example: phase17 export"""
    with reporting_errors():
        project, pinned, reading_list = load_guide_and_pin()
        path = notes_core.write_export(project.annotations, project.notebooks, reading_list, pinned)
        console.print(f"Wrote {path.relative_to(project.root)}.", highlight=False)


def main() -> None:
    app()
