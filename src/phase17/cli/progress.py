"""Progress on stderr: a bar that loads rich only when there is progress to draw, and `index`'s summary."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from phase17.cli.console import session
from phase17.safety.text import neutralized

if TYPE_CHECKING:
    from phase17.index.records import IndexSummary
    from phase17.progress import ProgressReporter


class BarOnFirstUse:
    """A ProgressReporter that loads rich only when there is progress to draw: a warm index draws none. What a
    command's trees draw with when a lookup must first index many files (the first after a re-pin: seconds)."""

    def __init__(self) -> None:
        self._bar: ProgressReporter | None = None

    def _drawn(self) -> ProgressReporter:
        if self._bar is None:
            from phase17 import render

            self._bar = render.RichReporter(session.err, session.verbose)
        return self._bar

    def start(self, description: str, total: int | None) -> None:
        self._drawn().start(description, total)

    def advance(self, amount: int) -> None:
        self._drawn().advance(amount)

    def finish(self) -> None:
        if self._bar is not None:
            self._bar.finish()

    def notice(self, message: str) -> None:
        self._drawn().notice(message)

    def detail(self, message: str) -> None:
        self._drawn().detail(message)


@contextmanager
def progress_reporter() -> Iterator[ProgressReporter]:
    """A progress bar on stderr for long work (rich is loaded once the work starts)."""
    reporter = BarOnFirstUse()
    try:
        yield reporter
    finally:
        reporter.finish()


def print_index_summary(summary: IndexSummary) -> None:
    """`phase17 index`'s few lines, written without loading rich (it runs between reads, so it must be instant)."""
    lines = [
        f"Symbol index: {summary.location}",
        f"  {summary.files} Python files, {summary.definitions} definitions ({summary.contents} file contents stored)",
        f"  this run: {summary.parsed} parsed, {summary.reused} re-used by content, {summary.seconds:.2f} s",
    ]
    if summary.rebuilt_because:
        lines.append(f"  built anew: {summary.rebuilt_because}")
    lines += [f"  skipped {path}: {reason}" for path, reason in sorted(summary.unreadable.items())]
    sys.stdout.write("".join(neutralized(line) + "\n" for line in lines))
