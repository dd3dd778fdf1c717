"""The command line's consoles: stdout and stderr as rich consoles made on first use, JSON on stdout, the pager,
one-line errors, and whether a person is at a terminal to answer. Only the CLI layer (cli/) imports typer."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import typer

from phase17.errors import Phase17Error, UsageError
from phase17.safety.text import has_controls, json_text, neutralized

if TYPE_CHECKING:  # imported where used, so that a command loads only what it needs
    from rich.console import Console, RenderableType


def _console(*, stderr: bool) -> Console:
    """A console that never crops at the width (code lines and names are printed whole) and never
    parses markup: text from a pin, a note or a file name (`[/x]`) is shown as it is.
    NO_COLOR means plain text: no escape codes, bold included."""
    from rich.console import Console
    from rich.segment import Segment

    class WholeLineConsole(Console):
        def print(self, *objects: Any, **options: Any) -> None:
            options.setdefault("crop", False)
            super().print(*objects, **options)

        def render(self, renderable: Any, options: Any = None) -> Iterator[Segment]:
            """Every piece of text on its way out: control characters in it are shown, never obeyed."""
            for segment in super().render(renderable, options):
                if segment.control is None and has_controls(segment.text):
                    yield Segment(neutralized(segment.text), segment.style)
                else:
                    yield segment

    colors: Literal["auto"] | None = None if os.environ.get("NO_COLOR") else "auto"
    return WholeLineConsole(stderr=stderr, color_system=colors, highlight=False, markup=False)


@dataclass
class Session:
    """Options given before the subcommand, and the consoles every command prints through (made on first use)."""

    upstream: Path | None = None
    verbose: bool = False
    paging: bool = True
    guide: Path | None = None  # a reading guide other than the shipped one
    _consoles: dict[bool, Console] = field(default_factory=dict)

    def configure(
        self, upstream: Path | None, verbose: bool = False, paging: bool = True, guide: Path | None = None
    ) -> None:
        self.upstream, self.verbose, self.paging, self.guide = upstream, verbose, paging, guide
        self._consoles.clear()

    @property
    def out(self) -> Console:
        return self._console(stderr=False)

    @property
    def err(self) -> Console:
        return self._console(stderr=True)

    def _console(self, *, stderr: bool) -> Console:
        if stderr not in self._consoles:
            self._consoles[stderr] = _console(stderr=stderr)
        return self._consoles[stderr]


session = Session()


@contextmanager
def reporting_errors() -> Iterator[None]:
    """A Phase17Error becomes `Error: <message>` on stderr and exit code 2, and so does an error of the operating
    system (a name too long, a folder where a file should be, no permission): the machine's state, not a bug.
    Anything else is a bug, and shows its traceback."""
    try:
        yield
    except Phase17Error as error:
        session.err.print(f"Error: {error}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(code=2) from None
    except KeyboardInterrupt:
        session.err.print("Interrupted; nothing half-done was kept.", highlight=False)
        raise typer.Exit(code=130) from None
    except OSError as error:
        where = f"{error.filename}: " if error.filename else ""
        shown = f"{where}{error.strerror or error}"
        session.err.print(f"Error: {shown[:600]}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(code=2) from None


def print_json(data: Any) -> None:
    """JSON on stdout, with no terminal control character in it (safety.text.json_text)."""
    sys.stdout.write(json_text(data) + "\n")


def show(renderable: RenderableType, pager: bool = True) -> None:
    """Print, through the pager (like git) when stdout is a terminal and the output is longer than the screen;
    never piped, nor with `--no-pager` or an empty PHASE17_PAGER."""
    from phase17 import render
    from phase17.cli import launch

    if pager and session.paging and session.out.is_terminal and sys.stdout.isatty():
        text = render.to_text(renderable, session.out)
        if not (text.count("\n") > session.out.height and launch.page(text)):
            sys.stdout.write(text)
        return
    session.out.print(renderable)


def has_terminal() -> bool:
    """Is a person at a terminal to answer prompts? Without one, phase17 never prompts."""
    return sys.stdin is not None and sys.stdin.isatty()  # (None: started with stdin closed, `<&-`)


def require_terminal(what: str, instead: str) -> None:
    if not has_terminal():
        raise UsageError(f"no terminal to {what}: {instead}")
