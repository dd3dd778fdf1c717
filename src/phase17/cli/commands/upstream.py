"""The commands about the pinned tree itself: fetch it, show or move the pin, index it."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from phase17.cli.commands.options import JsonOption
from phase17.cli.console import print_json, reporting_errors, session
from phase17.cli.workspace import existing_upstream, locate, prefetched

# Core modules are imported inside the commands that use them: `--help` and a command that parses nothing never
# load tree-sitter, GitPython, rich's syntax module or the fetch code.
commands = typer.Typer()


@commands.command(short_help="Put the pinned vLLM tree in upstream/, verified.")
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
    from phase17.cli.workspace import fetcher
    from phase17.upstream.pin import load_pin

    with reporting_errors():
        project = locate()
        pin = load_pin(project.pin_file)
        result = fetcher(project, pin, source=source, force=force, verify=not insecure_skip_verify)()
        session.out.print(render.fetch_summary(result, pin))


@commands.command(short_help="Show the pin and upstream/'s state; or move the pin.")
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
    from phase17.cli.reports import report_findings
    from phase17.cli.workspace import repin_and_check
    from phase17.upstream.checkout import inspect_upstream
    from phase17.upstream.pin import load_pin

    with reporting_errors():
        project = locate()
        pinned = load_pin(project.pin_file)
        if ref is not None:
            raise typer.Exit(
                code=report_findings(repin_and_check(project, pinned, ref, dry_run=dry_run, force=force), as_json)
            )
        state = inspect_upstream(project.upstream, pinned, prefetched())
        if as_json:
            print_json({**pinned.to_data(), "upstream": state.to_data()})
        else:
            session.out.print(render.upstream_state(state, pinned))
        raise typer.Exit(code=0 if state.is_verified else 1)


@commands.command(short_help="Build or refresh the symbol index of upstream/.")
def index(
    rebuild: Annotated[bool, typer.Option(help="Discard the index and parse every file again.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Bring the symbol index of upstream/ up to date (only files whose content is new are parsed) and say what it
    holds. Whole-tree lookups (resolve, check's suggestions) use it; a damaged index is rebuilt on its own.

    Example: phase17 index --rebuild
    """
    from phase17.cli.progress import print_index_summary, progress_reporter
    from phase17.index.symbolindex import build_index

    with reporting_errors():
        upstream = existing_upstream(ask_git=not rebuild)
        with progress_reporter() as reporter:
            summary = build_index(upstream, rebuild=rebuild, reporter=reporter)
        if as_json:
            print_json(summary.to_data())
        else:
            print_index_summary(summary)
