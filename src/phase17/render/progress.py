"""Progress bars for long work, and what a fetch or `phase17 pin` says about upstream/."""

from __future__ import annotations

from rich.console import Console, Group, RenderableType
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table
from rich.text import Text
from typing_extensions import assert_never

from phase17.safety.text import shown_name
from phase17.upstream.checkout import UpstreamState
from phase17.upstream.fetch import FetchResult
from phase17.upstream.pin import Pin


class RichReporter:
    """A fetch ProgressReporter drawing rich progress bars on stderr: bytes for downloads, counts otherwise."""

    def __init__(self, console: Console, verbose: bool = False) -> None:
        self._console = console
        self._verbose = verbose
        self._progress: Progress | None = None
        self._task: int | None = None

    def start(self, description: str, total: int | None) -> None:
        self.finish()
        if description.startswith("download"):
            columns = (
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
            )
        elif total is None:
            columns = (SpinnerColumn(), TextColumn("{task.description}"))  # type: ignore[assignment]
        else:
            columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())  # type: ignore[assignment]
        self._progress = Progress(*columns, console=self._console, transient=False)
        self._progress.start()
        self._task = self._progress.add_task(description, total=total)

    def advance(self, amount: int) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, amount)  # type: ignore[arg-type]

    def finish(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
            self._task = None

    def notice(self, message: str) -> None:
        self._console.print(Text(message, style="bold red" if message.startswith("INSECURE") else "yellow"))

    def detail(self, message: str) -> None:
        """A tool's own words (git's `fatal:` line): shown only with --verbose, and never wrapped."""
        if self._verbose and message:
            self._console.print(Text(f"  {message}", style="dim", no_wrap=True, overflow="ignore"))


def fetch_summary(result: FetchResult, pin: Pin) -> Text:
    """The last line of a fetch: what upstream/ now holds."""
    state = result.state
    if result.up_to_date:
        return Text(
            f"upstream/ is up to date: {pin.describe()} ({pin.commit}), verified, from {state.source}.", style="green"
        )
    if not state.verified:
        return Text(
            f"upstream/ now holds {result.origin}, NOT verified (--insecure-skip-verify); run phase17 fetch to verify.",
            style="bold red",
        )
    origin = result.origin
    if result.source == "pypi":
        cached = "downloaded" if result.downloaded else "from the cache"
        origin = f"{result.origin} ({cached}, sha256 {result.sha256}, commit_id verified)"
    return Text(
        f"upstream/ now holds {pin.describe()} ({pin.commit}), verified, from {result.source}: {origin}.", style="green"
    )


def _verdict(state: UpstreamState) -> Text:
    """What upstream/'s state means and what to run: one line for every UpstreamStatus (mypy checks them all)."""
    status = state.status
    if status == "missing":
        return Text("missing: run phase17 fetch", style="yellow")
    if status == "not-a-checkout":
        return Text("not a git checkout phase17 can verify: run phase17 fetch --force", style="red")
    if status == "unverifiable":
        return Text("not verified: git is not on PATH, so upstream/ cannot be compared with the pin", style="yellow")
    if status == "matches":
        if state.verified:
            return Text(f"matches the pin (from {state.source})", style="green")
        return Text(
            f"matches the pin (from {state.source}) but was NOT verified (--insecure-skip-verify): run phase17 fetch",
            style="bold red",
        )
    if status == "other-commit":
        return Text(f"at another commit, {(state.carries or '')[:12]}: run phase17 fetch --force", style="red")
    if status == "modified":
        return Text(f"at the pin, but {len(state.modified)} file(s) modified or untracked:", style="red")
    assert_never(status)


def upstream_state(state: UpstreamState, pin: Pin) -> RenderableType:
    """The pin and whether upstream/ matches it."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    table.add_row("repository", pin.repository)
    table.add_row("tag", pin.tag)
    table.add_row("commit", pin.commit)
    table.add_row("pypi", f"{pin.pypi_distribution}=={pin.pypi_version}")
    table.add_row("upstream/", str(state.path))
    table.add_row("status", _verdict(state))
    parts: list[RenderableType] = [table]
    if state.modified:
        parts.append(Text("\n".join(f"  {shown_name(path)}" for path in state.modified)))
    return Group(*parts)
