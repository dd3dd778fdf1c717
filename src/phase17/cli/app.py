"""The phase17 app: the global options, every command group registered in reading order, and the lean app a run
builds for the one command it was asked for. The commands themselves are in commands/.

Each command's docstring is its --help: one sentence, then an example.
"""

from __future__ import annotations

import copy
import inspect
import io
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from phase17.cli.argv import GUIDE_OPTION, GUIDE_VARIABLE, UPSTREAM_OPTION, UPSTREAM_VARIABLE, asked_command
from phase17.cli.commands import instruments, notes, plugins, reading, upstream
from phase17.cli.console import session

if TYPE_CHECKING:
    from phase17.upstream.gitrepo import Prefetched

app = typer.Typer(
    help="A reading companion for vLLM's hardware-platform layer (Phase 17), pinned to one upstream commit.",
    no_args_is_help=True,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
    suggest_commands=False,  # click suggests a close command name itself; typer's would say it twice
)


@app.callback()
def configure(
    upstream: Annotated[
        Optional[Path],
        typer.Option(
            UPSTREAM_OPTION,
            envvar=UPSTREAM_VARIABLE,
            metavar="PATH",
            help="Read this checkout of vLLM (or a plain source tree) instead of the project's upstream/.",
        ),
    ] = None,
    guide: Annotated[
        Optional[Path],
        typer.Option(
            GUIDE_OPTION,
            envvar=GUIDE_VARIABLE,
            metavar="FILE",
            help="Read with this reading guide (YAML: the upstream, targets, prompts, questions) instead of "
            "the shipped Phase 17 one.",
        ),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Also show the raw words of git or the index behind a fallback.")
    ] = False,
    no_pager: Annotated[
        bool,
        typer.Option(
            "--no-pager",
            help="Print long output as it is. Otherwise, on a terminal, output longer than the screen goes "
            "through PHASE17_PAGER, else $PAGER, else `less -FRX` (PHASE17_PAGER= turns paging off).",
        ),
    ] = False,
) -> None:
    """Read vLLM's platform layer by symbol name, keep three-sentence notes, and check them against drift."""
    session.configure(upstream, verbose, paging=not no_pager, guide=guide)


# The order `phase17 --help` lists them in: the tree, reading it, the notes, the instruments, the plugin lab.
for group in (upstream, reading, notes, instruments):
    app.registered_commands += group.commands.registered_commands
app.add_typer(plugins.commands, name="plugins")


def app_for(arguments: list[str]) -> typer.Typer:
    """The app with only the command asked for: typer turns every registered command into a click command
    before parsing anything (a sixth of a warm command's time), and a run uses one. With no command
    (`phase17 --help`), the commands are only listed, so they are listed without their options. Anything else (a
    misspelled command, shell completion) gets the whole app, so its help and errors are typer's own."""
    if any(variable.endswith("_COMPLETE") for variable in os.environ):
        return app
    name = asked_command(arguments)
    if name is None:
        return _listing_app()
    chosen = [info for info in app.registered_commands if _command_name(info) == name]
    groups = [info for info in app.registered_groups if info.name == name]
    if len(chosen) + len(groups) != 1:
        return app
    lean = copy.copy(app)
    lean.registered_commands, lean.registered_groups = chosen, groups
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
    listing.registered_groups = []
    for info in app.registered_commands:
        listed = copy.copy(info)
        listed.name = _command_name(info)
        listed.help = info.help if info.help is not None else inspect.getdoc(info.callback)
        listed.callback = listed_only
        listing.registered_commands.append(listed)
    for group in app.registered_groups:  # a group of subcommands is listed as one command
        short = group.typer_instance.info.short_help if group.typer_instance else None
        listing.registered_commands.append(
            typer.models.CommandInfo(name=group.name, short_help=short, callback=listed_only)
        )
    return listing


def main(prefetched: Prefetched | None = None) -> None:
    """Run the command line; `prefetched`: the git commands verifying upstream/ started before it loaded, handed
    to the command through click's context (workspace.py reads them there)."""
    # A terminal or pipe that cannot show a character (LANG=C, PYTHONIOENCODING=ascii) gets an escape such as
    # \u2014 instead of a crash halfway through the output.
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")
    if sys.stdout is None:  # started with stdout closed (`>&-`): what the command prints would be lost unseen
        if sys.stderr is not None:
            sys.stderr.write("Error: standard output is closed, so nothing phase17 prints could be seen; open it.\n")
        raise SystemExit(2)
    app_for(sys.argv[1:])(obj=prefetched)
