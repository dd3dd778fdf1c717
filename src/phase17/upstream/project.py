"""A phase17 project: where its pin, upstream tree, notes and export live; getting upstream/ ready to read; and
moving the pin to another release (the old tree kept in upstream/'s history, the drift reported).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from phase17.errors import ProjectNotFoundError, UpstreamError
from phase17.upstream.checkout import UpstreamState, inspect_upstream
from phase17.upstream.pin import PIN_FILE_NAME, Pin

if TYPE_CHECKING:  # the drift check, the fetch code and the notebook load only for the commands using them
    from phase17.upstream.fetch import FetchResult
    from phase17.upstream.gitrepo import Prefetched


@dataclass(frozen=True)
class NotebookPaths:
    """Where the notes are kept and where they are exported (the project's annotations/ and notebooks/)."""

    notes: Path
    notebooks: Path


@dataclass(frozen=True)
class ProjectPaths:
    """Where a phase17 project keeps its pin, upstream tree, notes and rendered notebook."""

    root: Path
    upstream: Path
    upstream_is_own: bool = True  # False for a reader's checkout named with --upstream: never replaced

    @property
    def pin_file(self) -> Path:
        return self.root / PIN_FILE_NAME

    @property
    def annotations(self) -> Path:
        return self.root / "annotations"

    @property
    def notebooks(self) -> Path:
        return self.root / "notebooks"

    @property
    def notebook(self) -> NotebookPaths:
        return NotebookPaths(notes=self.annotations, notebooks=self.notebooks)


def locate_project(start: Path, upstream_override: Path | None = None) -> ProjectPaths:
    """Walk up from `start` to the folder holding UPSTREAM_PIN.md, so every command works from any subfolder."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / PIN_FILE_NAME).is_file():
            if upstream_override is not None:
                return ProjectPaths(
                    root=folder, upstream=upstream_override.expanduser().resolve(), upstream_is_own=False
                )
            return ProjectPaths(root=folder, upstream=folder / "upstream")
    raise ProjectNotFoundError(
        f"no {PIN_FILE_NAME} in {start} or any folder above it; run phase17 inside a phase17 project checkout."
    )


@dataclass(frozen=True)
class ReadyUpstream:
    """An upstream tree ready to read, the warnings to show about it, and the fetch that made it (if any)."""

    path: Path
    warnings: tuple[str, ...] = ()
    fetched: FetchResult | None = None
    state: UpstreamState | None = None  # what git said of the tree as it was found (None: just fetched)


def ensure_upstream(
    project: ProjectPaths,
    pin: Pin,
    fetch_missing: Callable[[], FetchResult] | None = None,
    prefetched: Prefetched | None = None,
) -> ReadyUpstream:
    """upstream/, fetched on first use when `fetch_missing` is given; a tree that is not the pin is read, warned.

    A reader's own checkout (--upstream) that is not a git checkout is a plain source tree: read, not verified.
    """
    state = inspect_upstream(project.upstream, pin, prefetched)
    if state.status == "missing":
        if fetch_missing is None:
            raise UpstreamError(f"{project.upstream} is missing; run phase17 fetch first.")
        return ReadyUpstream(project.upstream, fetched=fetch_missing())
    if state.status == "not-a-checkout":
        if project.upstream_is_own:
            raise UpstreamError(f"{project.upstream} is not a checkout phase17 can verify; run phase17 fetch --force.")
        return ReadyUpstream(
            project.upstream,
            state=state,
            warnings=(
                f"{project.upstream} is not a git checkout, so it cannot be verified against the pin; "
                "lines are of what is there.",
            ),
        )
    if state.status == "unverifiable":
        return ReadyUpstream(
            project.upstream,
            state=state,
            warnings=(
                "git is not on PATH, so upstream/ cannot be verified against the pin; lines are of what is there.",
            ),
        )
    if state.status in ("other-commit", "modified"):
        what = (
            f"at {(state.carries or '?')[:7]}"
            if state.status == "other-commit"
            else f"modified ({len(state.modified)} files)"
        )
        return ReadyUpstream(
            project.upstream,
            state=state,
            warnings=(f"upstream/ is {what}, not exactly {pin.describe()}; lines are of what is there.",),
        )
    if not state.verified:
        return ReadyUpstream(
            project.upstream,
            state=state,
            warnings=("upstream/ was fetched with --insecure-skip-verify and is NOT verified; run phase17 fetch.",),
        )
    return ReadyUpstream(project.upstream, state=state)
