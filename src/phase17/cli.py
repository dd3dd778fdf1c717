"""The phase17 command line: parse options, call the core, render, map errors to exit codes. Nothing else."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console

from phase17 import fetch as fetching
from phase17 import render
from phase17.errors import Phase17Error
from phase17.pin import Pin, ProjectPaths, inspect_upstream, load_pin, locate_project

app = typer.Typer(
    help="A reading companion for vLLM's hardware-platform layer (Phase 17), pinned to one upstream commit.",
    no_args_is_help=True,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)


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


class Source(str, Enum):
    auto = "auto"
    git = "git"
    pypi = "pypi"


@app.command()
def fetch(
    source: Annotated[
        str,
        typer.Option(
            help="Where to get the tree: auto (git, else the PyPI sdist), git, pypi, or a path or URL of a git clone.",
        ),
    ] = "auto",
    force: Annotated[bool, typer.Option(help="Replace an upstream/ that is at another commit or has local edits.")] = False,
) -> None:
    """Put exactly the pinned vLLM tree in upstream/ and prove it is the pinned commit.  Example: phase17 fetch --source pypi"""
    with reporting_errors():
        project = paths()
        pin = load_pin(project.pin_file)
        result = fetch_pinned(project, pin, source=source, force=force)
        console.print(render.fetch_summary(result, pin))


def fetch_pinned(project: ProjectPaths, pin: Pin, *, source: str = "auto", force: bool = False) -> fetching.FetchResult:
    """Run a fetch with progress bars on stderr (shared by fetch and by read's first use)."""
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
        )
    finally:
        reporter.finish()


@app.command()
def pin(
    as_json: Annotated[bool, typer.Option("--json", help="Print the pin and upstream/'s state as JSON.")] = False,
) -> None:
    """Show the pin and whether upstream/ matches it (missing, matches, other commit, or modified).  Example: phase17 pin"""
    with reporting_errors():
        project = paths()
        pinned = load_pin(project.pin_file)
        state = inspect_upstream(project.upstream, pinned)
        if as_json:
            print_json(
                {
                    "repository": pinned.repository,
                    "tag": pinned.tag,
                    "commit": pinned.commit,
                    "pypi": {"distribution": pinned.pypi_distribution, "version": pinned.pypi_version},
                    "upstream": {
                        "path": str(state.path),
                        "status": state.status,
                        "head": state.head,
                        "carries": state.carries,
                        "source": state.source,
                        "modified": list(state.modified),
                    },
                }
            )
        else:
            console.print(render.upstream_state(state, pinned))
        if state.status != "matches":
            raise typer.Exit(code=1)


def main() -> None:
    app()
