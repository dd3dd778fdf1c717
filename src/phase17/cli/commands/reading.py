"""The commands that open the code: a reading target, the reading list, a definition, an outline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from phase17.cli import completion
from phase17.cli.commands.options import JsonOption
from phase17.cli.console import print_json, reporting_errors, session, show
from phase17.cli.workspace import load_all, opened, prefetched, ready_upstream

# Core modules are imported inside the commands that use them: `--help` and a command that parses nothing never
# load tree-sitter, GitPython, rich's syntax module or the fetch code.
commands = typer.Typer()


@commands.command(short_help="Open a reading target: symbols, source, questions.")
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
    from phase17 import render
    from phase17.cli import launch
    from phase17.notes import guide, reading

    with reporting_errors():
        project, pinned, reading_list = load_all()
        guide.find_target(reading_list, target, project.upstream, Path.cwd())  # a typo fails before any fetch
        upstream = ready_upstream(project, pinned, fetch_missing=fetch_missing)
        chosen = guide.find_target(reading_list, target, upstream.root, Path.cwd())
        view = reading.build_view(upstream, project.annotations, reading_list, chosen, pinned, symbol, full)
        if as_json:
            print_json(reading.view_data(view))
        elif open_editor:
            launch.run_editor(*reading.first_location(upstream, view))
        else:
            show(render.read_screen(view, full=full and not symbol, fold=not (symbol or full)), pager)


@commands.command("list", short_help="The reading list and your progress.")
def list_targets(as_json: JsonOption = False) -> None:
    """The reading list with your progress: symbols found, notes written, questions answered, anchor health.

    Example: phase17 list
    """
    from phase17 import render
    from phase17.notes import reading
    from phase17.upstream.checkout import inspect_upstream

    with reporting_errors():
        project, pinned, reading_list = load_all()
        state = inspect_upstream(project.upstream, pinned, prefetched())
        # a reader's own plain tree (--upstream) is read as it is, as every other command reads it
        readable = state.has_tree or (state.status == "not-a-checkout" and not project.upstream_is_own)
        upstream = opened(project.upstream) if readable else None
        rows = reading.reading_status(upstream, project.annotations, reading_list)
        if as_json:
            print_json(reading.status_data(rows))
        else:
            session.out.print(render.reading_status_table(rows))
        for problem in (problem for row in rows for problem in row.problems):
            session.err.print(f"warning: {problem}", style="yellow", highlight=False, markup=False)
        if upstream is None:
            session.err.print("upstream/ is missing: run phase17 fetch to count the symbols found.", highlight=False)


commands.command("status", help="The same as list.\n\nExample: phase17 status", short_help="The same as list.")(
    list_targets
)


@commands.command(short_help="Say where a definition is now, found by name.")
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
    from phase17.cli.reports import print_lookup
    from phase17.index.lookup import look_up
    from phase17.notes import guide

    with reporting_errors():
        project, pinned, reading_list = load_all()
        upstream = ready_upstream(project, pinned)
        within = guide.find_target(reading_list, target, upstream.root, Path.cwd()).place if target else None
        lookup = look_up(upstream, ref, within=(within,) if within else (), every_ending=True)
        if as_json:
            print_json(lookup.to_data())
        else:
            print_lookup(upstream, lookup, within, show_source)
        raise typer.Exit(code=0 if lookup.status in ("found", "choices") else 1)  # several by name end: a question


@commands.command(short_help="The nested definitions of a file, with live lines.")
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
        chosen = guide.find_target(reading_list, place, upstream.root, Path.cwd())
        outlines, unreadable = reading.outline_files(upstream, reading.target_files(upstream, chosen))
        if unreadable:
            session.err.print(render.unreadable_notice(unreadable))
        if as_json:
            print_json([{"path": item.path, "outline": reading.outline_data(item.outline)} for item in outlines])
        for item in [] if as_json else outlines:
            show(render.outline_tree(item.path, item.outline))
