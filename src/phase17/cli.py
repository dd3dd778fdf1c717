"""The phase17 command line: parse options, call the core, render, pick the exit code. Nothing else.

Each command's docstring is its --help: one sentence, then an example.
"""

from __future__ import annotations

import copy
import inspect
import io
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from phase17 import completion
from phase17.start import asked_command
from phase17.terminal import (
    existing_upstream,
    load_all,
    locate,
    print_json,
    ready_upstream,
    reporting_errors,
    session,
)

# Core modules are imported inside the commands that use them: `--help` and a command that parses nothing
# never load tree-sitter, GitPython, rich's syntax module or the fetch code (issue 12).

app = typer.Typer(
    help="A reading companion for vLLM's hardware-platform layer (Phase 17), pinned to one upstream commit.",
    no_args_is_help=True,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
    suggest_commands=False,  # click suggests a close command name itself; typer's would say it twice
)
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON (data on stdout).")]


class ExportFormat(str, Enum):
    """What `export` writes."""

    markdown = "markdown"
    codetour = "codetour"


FetchOption = Annotated[bool, typer.Option("--fetch/--no-fetch", help="Fetch the pinned upstream/ on first use.")]


@app.callback()
def configure(
    upstream: Annotated[
        Optional[Path],
        typer.Option(
            "--upstream",
            envvar="PHASE17_UPSTREAM",
            metavar="PATH",
            help="Read this checkout of vLLM (or a plain source tree) instead of the project's upstream/.",
        ),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Also show the raw words of git or the index behind a fallback.")
    ] = False,
) -> None:
    """Read vLLM's platform layer by symbol name, keep three-sentence notes, and check them against drift."""
    session.configure(upstream, verbose)


# ---------------------------------------------------------------- the pinned tree


@app.command(short_help="Put the pinned vLLM tree in upstream/, verified.")
def fetch(
    source: Annotated[
        str,
        typer.Option(
            help="Where to get the tree: auto (git, else the PyPI sdist), git, pypi, or a clone's path or URL."
        ),
    ] = "auto",
    force: Annotated[
        bool, typer.Option(help="Replace an upstream/ that is at another commit or has local edits.")
    ] = False,
    insecure_skip_verify: Annotated[
        bool,
        typer.Option("--insecure-skip-verify", help="Do not check the sdist's sha256 and commit (warned, recorded)."),
    ] = False,
) -> None:
    """Put exactly the pinned vLLM tree in upstream/ and prove it is the pinned commit.

    Example: phase17 fetch --source pypi
    """
    from phase17 import render
    from phase17.terminal import fetcher
    from phase17.upstream.pin import load_pin

    with reporting_errors():
        project = locate()
        pin = load_pin(project.pin_file)
        result = fetcher(project, pin, source=source, force=force, verify=not insecure_skip_verify)()
        session.out.print(render.fetch_summary(result, pin))


@app.command(short_help="Show the pin and upstream/'s state; or move the pin.")
def pin(
    ref: Annotated[
        Optional[str], typer.Argument(metavar="[REF]", help="Re-pin to this tag (v0.23.0), version (0.23.0) or commit.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option(help="With REF: report the drift against that version; change neither pin nor upstream/.")
    ] = False,
    force: Annotated[bool, typer.Option(help="With REF: replace an upstream/ that has local edits.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Show the pin and whether upstream/ matches it; with REF, move the pin and report the drift.

    Example: phase17 pin 0.23.0 --dry-run
    """
    from phase17 import render
    from phase17.terminal import repin_and_check, report_findings
    from phase17.upstream.checkout import inspect_upstream
    from phase17.upstream.pin import load_pin

    with reporting_errors():
        project = locate()
        pinned = load_pin(project.pin_file)
        if ref is not None:
            report_findings(repin_and_check(project, pinned, ref, dry_run=dry_run, force=force), as_json)
        state = inspect_upstream(project.upstream, pinned)
        if as_json:
            print_json({**pinned.to_data(), "upstream": state.to_data()})
        else:
            session.out.print(render.upstream_state(state, pinned))
        raise typer.Exit(code=0 if state.is_verified else 1)


@app.command(short_help="Say where a definition is now, found by name.")
def resolve(
    ref: Annotated[
        str,
        typer.Argument(
            metavar="REF",
            help="Class, Class.method, function.inner, NAME, or path/file.py::Class.method.",
            autocompletion=completion.symbol_names,
        ),
    ],
    target: Annotated[
        Optional[str], typer.Option("--in", metavar="TARGET", help="Look only in this reading target or upstream path.")
    ] = None,
    show_source: Annotated[
        bool, typer.Option("--show", help="Print each match's source with its real line numbers.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Say where a definition is now, found by name (every match, none picked silently).

    Example: phase17 resolve Platform.get_attn_backend_cls --json
    """
    from phase17.index.lookup import look_up
    from phase17.notes import guide
    from phase17.terminal import print_lookup

    with reporting_errors():
        project, pinned, reading_list = load_all()
        upstream = ready_upstream(project, pinned)
        within = guide.find_target(reading_list, target, upstream, Path.cwd()).place if target else None
        lookup = look_up(upstream, ref, within=(within,) if within else ())
        if as_json:
            print_json(lookup.to_data())
        else:
            print_lookup(upstream, lookup, within, show_source)
        raise typer.Exit(code=0 if lookup.status in ("found", "choices") else 1)  # several by name end: a question


@app.command(short_help="The nested definitions of a file, with live lines.")
def outline(
    place: Annotated[
        str,
        typer.Argument(
            metavar="PATH_OR_TARGET",
            help="A reading target (interface, 2, ...) or a path under upstream/.",
            autocompletion=completion.target_keys,
        ),
    ],
    as_json: JsonOption = False,
) -> None:
    """Show the nested definitions of a file (or of each file of a folder target) with their live lines.

    Example: phase17 outline cuda
    """
    from phase17 import render
    from phase17.notes import guide, reading

    with reporting_errors():
        project, pinned, reading_list = load_all()
        upstream = ready_upstream(project, pinned)
        chosen = guide.find_target(reading_list, place, upstream, Path.cwd())
        outlines, unreadable = reading.outline_files(upstream, reading.target_files(upstream, chosen))
        if unreadable:
            session.err.print(render.unreadable_notice(unreadable))
        if as_json:
            print_json([{"path": item.path, "outline": reading.outline_data(item.outline)} for item in outlines])
        for item in [] if as_json else outlines:
            session.out.print(render.outline_tree(item.path, item.outline))


@app.command(short_help="Build or refresh the symbol index of upstream/.")
def index(
    rebuild: Annotated[bool, typer.Option(help="Discard the index and parse every file again.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Bring the symbol index of upstream/ up to date (only files whose content is new are parsed) and say what it
    holds. Whole-tree lookups (resolve, check's suggestions) use it; a damaged index is rebuilt on its own.

    Example: phase17 index --rebuild
    """
    from phase17.index.symbolindex import build_index
    from phase17.terminal import print_index_summary, progress_reporter

    with reporting_errors():
        upstream = existing_upstream(ask_git=not rebuild)
        with progress_reporter() as reporter:
            summary = build_index(upstream, rebuild=rebuild, reporter=reporter)
        if as_json:
            print_json(summary.to_data())
        else:
            print_index_summary(summary)


@app.command(short_help="Where code uses a name: attributes read, calls, callers.")
def usages(
    name: Annotated[
        str,
        typer.Argument(
            metavar="[NAME]",
            help="A variable (current_platform: its attributes used) or a function or method name (its callers).",
        ),
    ] = "current_platform",
    attribute: Annotated[
        Optional[str], typer.Option("--attr", metavar="NAME", help="Only this attribute (or receiver), every use.")
    ] = None,
    place: Annotated[
        Optional[str], typer.Option("--in", metavar="PATH", help="Search below this upstream path (default: vllm).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Every place in upstream/vllm that uses a name, in code only (never comments or strings), grouped and counted.

    Example: phase17 usages current_platform --attr supports_fp8
    """
    from phase17 import render
    from phase17.instruments.usages import find_usages

    with reporting_errors():
        upstream = existing_upstream()
        report = find_usages(upstream, name, under=(place or "vllm",), attribute=attribute)
        if as_json:
            print_json(report.to_data())
        else:
            session.out.print(render.usage_report(report, every=attribute is not None))
        if report.unreadable:
            session.err.print(render.unreadable_notice(report.unreadable))


@app.command(short_help="Who overrides what: a base class against every subclass.")
def contract(
    base: Annotated[
        str, typer.Argument(metavar="[BASE]", help="The base class (default Platform); with --vs, the subclass.")
    ] = "Platform",
    members: Annotated[
        Optional[str], typer.Option(metavar="REGEX", help="Only members whose name matches this regex.")
    ] = None,
    platforms: Annotated[
        Optional[str], typer.Option(metavar="A,B", help="Only these subclasses (comma-separated class names).")
    ] = None,
    vs: Annotated[
        Optional[str], typer.Option("--vs", metavar="BASE", help="Compare the class BASE names against this base.")
    ] = None,
    markdown: Annotated[bool, typer.Option("--markdown", help="Print the matrix as a Markdown table.")] = False,
    as_json: JsonOption = False,
) -> None:
    """The contract a base class sets and how each subclass in upstream/vllm meets it: a literal value, an
    override (with its line) or inherited (from where), and what each subclass adds.

    Example: phase17 contract --platforms CpuPlatform,CudaPlatformBase --members 'device|dist|attn'
    """
    from phase17 import render
    from phase17.instruments import contract as contracts

    with reporting_errors():
        upstream = existing_upstream()
        if vs is not None:
            sub, root, differences = contracts.compare(upstream, base, vs)
            if as_json:
                print_json(
                    {
                        "class": {"name": sub.name, "path": sub.path, "line": sub.line},
                        "base": {"name": root.name, "path": root.path, "line": root.line},
                        "differences": [vars(item) for item in differences],
                    }
                )
            else:
                session.out.print(render.differences_table(sub, root, differences))
            return
        chosen = tuple(name.strip() for name in platforms.split(",") if name.strip()) if platforms else ()
        matrix = contracts.build_contract(
            upstream,
            base,
            contracts.BASE_PATH if base == contracts.BASE_NAME else None,
            members=members,
            platforms=chosen,
        )
        if as_json:
            print_json(matrix.to_data())
        elif markdown:
            sys.stdout.write(contracts.contract_markdown(matrix))
        else:
            session.out.print(render.contract_matrix(matrix))


@app.command(short_help="How plugins load: groups, load sites, builtin platforms.")
def plugins(as_json: JsonOption = False) -> None:
    """The plugin groups upstream defines and where each is loaded, the builtin platform plugins and where one is
    chosen, and a minimal out-of-tree platform plugin's entry point for the platform group found in the tree.

    Example: phase17 plugins --json
    """
    from phase17 import render
    from phase17.instruments.plugins import plugins_report

    with reporting_errors():
        report = plugins_report(existing_upstream())
        if as_json:
            print_json(report.to_data())
        else:
            session.out.print(render.plugins_screen(report))


# ---------------------------------------------------------------- reading


@app.command(short_help="Open a reading target: symbols, source, questions.")
def read(
    target: Annotated[
        str,
        typer.Argument(
            metavar="TARGET",
            help="A reading target (interface, cuda, cpu, platforms, plugins; 1-5) or a path.",
            autocompletion=completion.target_keys,
        ),
    ],
    symbol: Annotated[
        Optional[str],
        typer.Option(
            metavar="REF",
            help="Show only this symbol, whole, and the notes that cite it.",
            autocompletion=completion.symbol_names,
        ),
    ] = None,
    full: Annotated[
        bool, typer.Option(help="Show the whole file (each file of a folder target; with --symbol, it whole).")
    ] = False,
    open_editor: Annotated[bool, typer.Option("--open", help="Open $VISUAL/$EDITOR at the first key symbol.")] = False,
    as_json: JsonOption = False,
    pager: Annotated[
        bool, typer.Option(help="Page long output when stdout is a terminal ($PAGER, default less).")
    ] = True,
    fetch_missing: Annotated[
        bool, typer.Option("--fetch/--no-fetch", help="Fetch the pinned upstream/ on first use.")
    ] = True,
) -> None:
    """Open a reading target: where its symbols are now, their source, its questions, your notes.

    Example: phase17 read interface
    """
    from phase17 import launch, render
    from phase17.notes import guide, reading
    from phase17.terminal import show

    with reporting_errors():
        project, pinned, reading_list = load_all()
        guide.find_target(reading_list, target, project.upstream, Path.cwd())  # a typo fails before any fetch
        upstream = ready_upstream(project, pinned, fetch_missing=fetch_missing)
        chosen = guide.find_target(reading_list, target, upstream, Path.cwd())
        view = reading.build_view(upstream, project.annotations, reading_list, chosen, pinned, symbol, full)
        if as_json:
            print_json(reading.view_data(view))
        elif open_editor:
            launch.run_editor(*reading.first_location(upstream, view))
        else:
            show(render.read_screen(view, full=full and not symbol, fold=not (symbol or full)), pager)


@app.command("list", short_help="The reading list and your progress.")
def list_targets(as_json: JsonOption = False) -> None:
    """The reading list with your progress: symbols found, notes written, questions answered, anchor health.

    Example: phase17 list
    """
    from phase17 import render
    from phase17.notes import reading
    from phase17.upstream.checkout import inspect_upstream

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


app.command("status", help="The same as list.\n\nExample: phase17 status", short_help="The same as list.")(list_targets)


# ---------------------------------------------------------------- drift


@app.command(short_help="Prove every note anchor still resolves; mend.")
def check(
    fix: Annotated[
        bool,
        typer.Option(help="Rewrite the recorded lines of anchors and cited lines that only moved (never your prose)."),
    ] = False,
    rewrite_lines: Annotated[
        bool, typer.Option("--rewrite-lines", help="With --fix: also rewrite a moved file.py:LINE in your prose.")
    ] = False,
    accept: Annotated[
        Optional[list[str]],
        typer.Option(
            metavar="REF_OR_TARGET",
            help="Take the current code of this reviewed, changed anchor (a target: all of its); repeatable.",
            autocompletion=completion.symbol_names,
        ),
    ] = None,
    accept_cosmetic: Annotated[
        bool, typer.Option("--accept-cosmetic", help="Take every change that is only docstrings or comments.")
    ] = False,
    relink: Annotated[
        Optional[tuple[str, str]], typer.Option(metavar="REF NEW_REF", help="Point the missing anchor REF at NEW_REF.")
    ] = None,
    retire: Annotated[
        Optional[list[str]],
        typer.Option(metavar="REF", help="Keep the note on a deleted anchor, linked where its code was last seen."),
    ] = None,
    diff: Annotated[bool, typer.Option("--diff", help="Show each changed symbol's diff, once.")] = False,
    as_json: JsonOption = False,
    fetch_missing: Annotated[
        bool, typer.Option("--fetch/--no-fetch", help="Fetch the pinned upstream/ first if it is missing (for CI).")
    ] = False,
) -> None:
    """Prove every anchor in annotations/ still resolves in upstream/: ok, moved, changed, missing, deleted or
    ambiguous, one line each; mend what is safe.

    Example: phase17 check --fix
    """
    from phase17 import render
    from phase17.drift.check import MendRequest, check_and_mend
    from phase17.notes import export as exporting
    from phase17.terminal import report_findings

    with reporting_errors():
        project, pinned, reading_list = load_all()
        upstream = ready_upstream(project, pinned, fetch_missing=fetch_missing)
        from phase17.notes.store import PinStamp

        request = MendRequest(
            fix=fix,
            accept=tuple(accept or ()),
            relink=relink,
            accept_cosmetic=accept_cosmetic,
            retire=tuple(retire or ()),
            rewrite_lines=rewrite_lines,
            stamp=PinStamp(tag=pinned.tag, commit=pinned.commit),
        )
        outcome = check_and_mend(project.annotations, upstream, request)
        if outcome.mended:
            session.err.print(render.check_outcome(outcome))
            exporting.write_export(project.annotations, project.notebooks, reading_list, pinned)
        report_findings(outcome, as_json, diffs=diff)


@app.command(short_help="Write a target's three-sentence lab notes.")
def notebook(
    target: Annotated[
        Optional[str],
        typer.Argument(
            metavar="[TARGET]",
            help="The target to write notes for; default: the first unfinished.",
            autocompletion=completion.target_keys,
        ),
    ] = None,
    data_structure: Annotated[
        Optional[str], typer.Option(help="Set the 'what data structure' note, no prompt.")
    ] = None,
    invariant: Annotated[Optional[str], typer.Option(help="Set the 'what invariant' note, no prompt.")] = None,
    edge_case: Annotated[Optional[str], typer.Option(help="Set the 'what edge case' note, no prompt.")] = None,
    edit: Annotated[
        bool, typer.Option(help="Open the target's YAML in $EDITOR; it is validated when the editor exits.")
    ] = False,
    fetch_missing: FetchOption = True,
) -> None:
    """Write a target's three-sentence lab notes (and its questions), saved the moment each is given.

    Example: phase17 notebook interface
    """
    from phase17 import launch, render
    from phase17.notes import notebook as notes
    from phase17.terminal import print_recorded, reopen_editor, run_interview

    with reporting_errors():
        project, pinned, reading_list = load_all()
        context = (project.notebook, ready_upstream(project, pinned, fetch_missing=fetch_missing), reading_list, pinned)
        chosen = notes.notes_target(*context, target)
        given = {"data_structure": data_structure, "invariant": invariant, "edge_case": edge_case}
        if chosen is None:
            session.out.print("Every target's three notes are written; revise one with: phase17 notebook interface.")
        elif edit:
            session.out.print(render.edited(notes.edit_notes(*context, chosen.key, launch.run_editor, reopen_editor)))
        elif any(value is not None for value in given.values()):
            for recorded in notes.record_notes(*context, chosen, given):
                print_recorded(recorded)
        else:
            run_interview(context, chosen)


@app.command(short_help="Answer one of the guide's questions.")
def answer(
    number: Annotated[
        int,
        typer.Argument(
            metavar="N",
            help="The question's number (see phase17 read TARGET).",
            autocompletion=completion.question_numbers,
        ),
    ],
    text: Annotated[
        str, typer.Argument(metavar="TEXT", help="Your answer; cite code as `Class.method` or path.py:LINE.")
    ],
    fetch_missing: FetchOption = True,
) -> None:
    """Save your answer to one of the guide's questions in annotations/questions.yaml.

    Example: phase17 answer 4 'The CPU path has no paging kernels; see cpu.py:115.'
    """
    from phase17.notes import notebook as notes
    from phase17.terminal import print_recorded

    with reporting_errors():
        project, pinned, reading_list = load_all()
        upstream = ready_upstream(project, pinned, fetch_missing=fetch_missing)
        print_recorded(notes.record_answer(project.notebook, upstream, reading_list, pinned, number, text))


@app.command(short_help="Regenerate notebooks/phase17.md, or a VS Code tour.")
def export(
    output_format: Annotated[
        ExportFormat,
        typer.Option(
            "--format",
            help="markdown: notebooks/phase17.md. codetour: upstream/.tours/phase17.tour (open upstream/ in VS Code).",
        ),
    ] = ExportFormat.markdown,
    evidence: Annotated[
        bool,
        typer.Option(
            "--evidence", help="Add the platform class diagram (Mermaid) and contract table, computed from upstream/."
        ),
    ] = False,
) -> None:
    """Regenerate notebooks/phase17.md from annotations/ (deterministic, links pinned), or write a CodeTour.

    Example: phase17 export --format codetour
    """
    from phase17.notes import export as exporting

    with reporting_errors():
        project, pinned, reading_list = load_all()
        if output_format is ExportFormat.codetour:
            upstream = ready_upstream(project, pinned)
            tour = exporting.codetour(project.annotations, upstream, reading_list, pinned)
            path = exporting.write_codetour(upstream, tour)
        else:
            gathered = exporting.evidence_markdown(ready_upstream(project, pinned), reading_list) if evidence else None
            path = exporting.write_export(project.annotations, project.notebooks, reading_list, pinned, gathered)
        shown = path.relative_to(project.root) if path.is_relative_to(project.root) else path
        session.out.print(f"Wrote {shown}.", highlight=False)


def app_for(arguments: list[str]) -> typer.Typer:
    """The app with only the command asked for: typer turns every registered command into a click command
    before parsing anything (a sixth of a warm command's time, issue 12), and a run uses one. With no command
    (`phase17 --help`), the commands are only listed, so they are listed without their options. Anything else (a
    misspelled command, shell completion) gets the whole app, so its help and errors are typer's own."""
    if any(variable.endswith("_COMPLETE") for variable in os.environ):
        return app
    name = asked_command(arguments)
    if name is None:
        return _listing_app()
    chosen = [info for info in app.registered_commands if _command_name(info) == name]
    if len(chosen) != 1:
        return app
    lean = copy.copy(app)
    lean.registered_commands = chosen
    return lean


def _command_name(info: typer.models.CommandInfo) -> str:
    """The name a registered command is called by: its own, or typer's from its function."""
    return info.name or typer.main.get_command_name(info.callback.__name__ if info.callback else "")


def _listing_app() -> typer.Typer:
    """The app with each command's name and help but none of its options: enough to list the commands, without
    typer reading fifteen signatures (a third of `phase17 --help`). A command run by mistake through it (never:
    app_for gives a named command its own app) would exit 2 with a usage error rather than act."""

    def listed_only() -> None:
        raise typer.Exit(code=2)

    listing = copy.copy(app)
    listing.registered_commands = []
    for info in app.registered_commands:
        listed = copy.copy(info)
        listed.name = _command_name(info)
        listed.help = info.help if info.help is not None else inspect.getdoc(info.callback)
        listed.callback = listed_only
        listing.registered_commands.append(listed)
    return listing


def main() -> None:
    # A terminal or pipe that cannot show a character (LANG=C, PYTHONIOENCODING=ascii) gets an escape such as
    # \u2014 instead of a crash halfway through the output (issue 15).
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")
    app_for(sys.argv[1:])()
