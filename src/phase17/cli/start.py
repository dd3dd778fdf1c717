"""The `phase17` program. For a command that asks git about upstream/ (to verify it against the pin, and to learn
which files changed), those git commands are started first, so they run on another core while typer and the
command's modules load; then the command line runs as usual. This module imports nothing heavy: it
runs before everything else."""

from __future__ import annotations

import gc
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from phase17.cli.argv import COMMANDS_ASKING_GIT, asked_command, upstream_option

if TYPE_CHECKING:
    from phase17.upstream.gitrepo import Prefetched


def start_verification(arguments: list[str]) -> Prefetched | None:
    """Start the git commands about the upstream/ the command will read, if it asks git; never an error here (the
    command itself reports a missing project or tree in its own words). The command is handed them (app.main)."""
    name = asked_command(arguments)
    if name not in COMMANDS_ASKING_GIT or (name == "index" and "--rebuild" in arguments):
        return None  # (a rebuild reads every file: it does not ask git)
    from phase17.errors import Phase17Error
    from phase17.upstream.gitrepo import prefetch_verification
    from phase17.upstream.project import locate_project

    override = upstream_option(arguments)
    try:
        project = locate_project(Path.cwd(), Path(override) if override else None)
        return prefetch_verification(project.upstream)
    except (Phase17Error, OSError):
        return None


def main() -> None:
    prefetched = start_verification(sys.argv[1:])
    from phase17.cli.app import main as run_command_line

    try:
        run_command_line(prefetched)
    finally:
        # The interpreter's last cycle collection walks every object typer, rich and tree-sitter made, only to
        # find almost nothing: a tenth of a warm command. Frozen, they are freed as modules are torn down.
        gc.freeze()
