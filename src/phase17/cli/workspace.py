"""The project a command works in: found from the current folder, its pin and reading list, and its upstream/
(fetched on first use, verified, or re-pinned), with the reader's consent for an unexpected repository."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from phase17.cache import cache_root
from phase17.cli.console import session
from phase17.cli.progress import BarOnFirstUse
from phase17.errors import FetchError, ProjectNotFoundError

if TYPE_CHECKING:
    from phase17.drift.check import CheckOutcome
    from phase17.index.tree import Tree
    from phase17.notes.guide import ReadingList
    from phase17.upstream import fetch as fetching
    from phase17.upstream.gitrepo import Prefetched
    from phase17.upstream.pin import Pin
    from phase17.upstream.project import ProjectPaths


def locate() -> ProjectPaths:
    from phase17.upstream.project import locate_project

    try:
        here = Path.cwd()
    except FileNotFoundError:
        raise ProjectNotFoundError(
            "the current folder no longer exists (deleted or moved away); cd into the project again."
        ) from None
    return locate_project(here, session.upstream)


def load_all() -> tuple[ProjectPaths, Pin, ReadingList]:
    from phase17.upstream.pin import load_pin

    project = locate()
    return project, load_pin(project.pin_file), reading_list()


def reading_list() -> ReadingList:
    """The reading guide this command reads: the one named with --guide (PHASE17_GUIDE), else the shipped one.
    (Shell completion runs before the options are read: it finds the variable itself.)"""
    from phase17.cli.argv import GUIDE_VARIABLE
    from phase17.notes import guide

    named = session.guide or (Path(os.environ[GUIDE_VARIABLE]) if os.environ.get(GUIDE_VARIABLE) else None)
    return guide.load_reading_list(named)


def consent(pin: Pin, source: str) -> None:
    """A pin naming a repository other than the reading guide's is fetched only with the reader's yes (or
    PHASE17_TRUSTED_REPOSITORY)."""
    from phase17.upstream import fetch as fetching

    expected = reading_list().upstream.repository
    named = os.environ.get("PHASE17_TRUSTED_REPOSITORY")
    trusted = [expected, named] if named else [expected]
    if not fetching.needs_consent(pin, source, trusted):
        return
    question = f"UPSTREAM_PIN.md names the repository {pin.repository}, not the guide's {expected}. Fetch from it?"
    try:
        answer = typer.confirm(question, default=False, err=True)
    except typer.Abort:
        answer = False
    if not answer:
        raise FetchError(
            f"not fetching from {pin.repository}: it is not the guide's {expected}; answer yes, or set "
            f"PHASE17_TRUSTED_REPOSITORY={pin.repository}."
        )


def fetcher(
    project: ProjectPaths, pin: Pin, source: str = "auto", force: bool = False, verify: bool = True
) -> Callable[[], fetching.FetchResult]:
    """A fetch of the pin with progress bars on stderr (for `fetch`, and for `read`'s first use)."""
    from phase17 import render
    from phase17.upstream import fetch as fetching

    def run() -> fetching.FetchResult:
        consent(pin, source)
        reporter = render.RichReporter(session.err, session.verbose)
        try:
            fetched = fetching.fetch_upstream(
                pin,
                project.upstream,
                source=source,
                force=force,
                cache_dir=cache_root(),
                reporter=reporter,
                replaceable=project.upstream_is_own,
                verify=verify,
            )
            return fetched
        finally:
            reporter.finish()

    return run


def prefetched() -> Prefetched | None:
    """The git commands verifying upstream/ that the program started before its command line loaded (start.py),
    handed over in click's context; None in tests and for other commands."""
    import click

    from phase17.upstream.gitrepo import Prefetched

    context = click.get_current_context(silent=True)
    handed = context.find_root().obj if context is not None else None
    return handed if isinstance(handed, Prefetched) else None


def ready_upstream(project: ProjectPaths, pin: Pin, *, fetch_missing: bool = False) -> Tree:
    """upstream/, fetched on first use when asked, as the command's Tree; its warnings go to stderr."""
    from phase17 import render
    from phase17.upstream.project import ensure_upstream

    if fetch_missing and not project.upstream.exists():
        session.err.print(
            f"upstream/ is missing: fetching {pin.describe()} first (this is phase17 fetch).", highlight=False
        )
    ready = ensure_upstream(project, pin, fetcher(project, pin) if fetch_missing else None, prefetched())
    tree = opened(ready.path)
    if ready.state is not None and ready.state.tree is not None:
        from phase17.index import symbolindex

        # git has just compared every file with HEAD: the index need not walk the tree
        symbolindex.use_git_view(tree, ready.state.tree, ready.state.differing)
    if ready.fetched is not None:
        session.err.print(render.fetch_summary(ready.fetched, pin))
    if ready.warnings:
        session.err.print(render.warnings(ready.warnings))
    return tree


def opened(root: Path) -> Tree:
    """The Tree of the folder `root` for this command: a lookup that must first index many files draws a bar."""
    from phase17.index.tree import Tree

    return Tree(root, reporter_factory=BarOnFirstUse)


def existing_upstream(*, ask_git: bool = True) -> Tree:
    """upstream/ (or --upstream) as it is, unverified: for work that reads whatever tree is there. Of a checkout,
    git's status says which files changed, so the index walks nothing (symbolindex.view_through_git); without
    `ask_git` (a rebuild reads every file anyway) git is not asked."""
    from phase17.errors import UpstreamError
    from phase17.index.symbolindex import view_through_git

    upstream = locate().upstream
    if not upstream.is_dir():
        raise UpstreamError(f"{upstream} is missing: run phase17 fetch first.")
    tree = opened(upstream)
    if ask_git:
        view_through_git(tree, prefetched())
    return tree


def repin_and_check(project: ProjectPaths, current: Pin, ref: str, *, dry_run: bool, force: bool) -> CheckOutcome:
    """Fetch the new tree (keeping the old one in upstream/'s history), rewrite the pin, and check the notes."""
    from phase17 import render
    from phase17.drift.check import CheckOutcome
    from phase17.drift.repin import repin
    from phase17.upstream.fetch import plan_repin

    consent(current, "auto")
    reporter = render.RichReporter(session.err, session.verbose)
    try:
        from phase17.upstream.checkout import recorded_upstream_commits

        known = recorded_upstream_commits(project.upstream) if project.upstream.is_dir() else []
        new = plan_repin(current, ref, cache_dir=cache_root(), reporter=reporter, known_commits=known)
        prefix = "Dry run: " if dry_run else ""
        session.err.print(
            f"{prefix}re-pinning {current.describe()} -> {new.describe()} ({new.commit}).", highlight=False
        )
        findings = repin(project, current, new, cache_dir=cache_root(), reporter=reporter, dry_run=dry_run, force=force)
    finally:
        reporter.finish()
    return CheckOutcome(findings)
