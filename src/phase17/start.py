"""The `phase17` program. For a command that asks git about upstream/ (to verify it against the pin, and to learn
which files changed), those git commands are started first, so they run on another core while typer and the
command's modules load (issue 12); then the command line runs as usual. This module imports nothing heavy: it
runs before everything else."""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path

# Commands that ask git about upstream/ as it is (never the ones that replace it: fetch, pin): the verifying ones,
# and those that scan the tree, which trust git's status of a checkout instead of walking it.
COMMANDS_ASKING_GIT = frozenset(
    {
        "read",
        "resolve",
        "check",
        "outline",
        "export",
        "answer",
        "notebook",
        "list",
        "status",
        "index",
        "usages",
        "contract",
        "plugins",
    }
)
_GLOBAL_OPTIONS_WITH_VALUE = ("--upstream",)


def asked_command(arguments: list[str]) -> str | None:
    """The subcommand named on the command line, skipping the options before it (None when there is none)."""
    waiting_for_value = False
    for argument in arguments:
        if waiting_for_value:
            waiting_for_value = False
        elif argument in _GLOBAL_OPTIONS_WITH_VALUE:
            waiting_for_value = True
        elif argument == "--":
            return None
        elif not argument.startswith("-"):
            return argument
    return None


def upstream_option(arguments: list[str]) -> str | None:
    """The --upstream given before the subcommand (or PHASE17_UPSTREAM), as the command line will read it."""
    for position, argument in enumerate(arguments):
        if not argument.startswith("-"):
            break
        if argument == "--upstream" and position + 1 < len(arguments):
            return arguments[position + 1]
        if argument.startswith("--upstream="):
            return argument.removeprefix("--upstream=")
    return os.environ.get("PHASE17_UPSTREAM") or None


def start_verification(arguments: list[str]) -> None:
    """Start the git commands about the upstream/ the command will read, if it asks git; never an error here (the
    command itself reports a missing project or tree in its own words)."""
    name = asked_command(arguments)
    if name not in COMMANDS_ASKING_GIT or (name == "index" and "--rebuild" in arguments):
        return  # (a rebuild reads every file: it does not ask git)
    from phase17.errors import Phase17Error
    from phase17.upstream.gitrepo import prefetch_verification
    from phase17.upstream.project import locate_project

    override = upstream_option(arguments)
    try:
        project = locate_project(Path.cwd(), Path(override) if override else None)
        prefetch_verification(project.upstream)
    except (Phase17Error, OSError):
        return


def main() -> None:
    start_verification(sys.argv[1:])
    from phase17.cli import main as run_command_line

    try:
        run_command_line()
    finally:
        # The interpreter's last cycle collection walks every object typer, rich and tree-sitter made, only to
        # find almost nothing: a tenth of a warm command. Frozen, they are freed as modules are torn down.
        gc.freeze()
