"""What the command line says before typer reads it: one module, so that the early start (start.py) and the typer
app (app.py) read the same words the same way. It imports nothing heavy: it runs before typer loads."""

from __future__ import annotations

import os

UPSTREAM_OPTION = "--upstream"
UPSTREAM_VARIABLE = "PHASE17_UPSTREAM"
GUIDE_OPTION = "--guide"
GUIDE_VARIABLE = "PHASE17_GUIDE"

# Commands that ask git about upstream/ as it is (never the ones that replace it: fetch, pin): the verifying ones,
# and those that scan the tree, which trust git's status of a checkout instead of walking it.
COMMANDS_ASKING_GIT = frozenset(
    {
        "read",
        "resolve",
        "check",
        "review",
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
        "gates",
        "effects",
        "callers",
    }
)
COMMANDS_REPLACING_UPSTREAM = frozenset({"fetch", "pin"})
_GLOBAL_OPTIONS_WITH_VALUE = (UPSTREAM_OPTION, GUIDE_OPTION)


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
        if argument == UPSTREAM_OPTION and position + 1 < len(arguments):
            return arguments[position + 1]
        if argument.startswith(f"{UPSTREAM_OPTION}="):
            return argument.removeprefix(f"{UPSTREAM_OPTION}=")
    return os.environ.get(UPSTREAM_VARIABLE) or None
