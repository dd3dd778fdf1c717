"""Moving the pin to another release: the new tree fetched (the old one kept in upstream/'s history), the pin
rewritten, and every anchor checked against the new tree."""

from __future__ import annotations

import tempfile
from pathlib import Path

from phase17.drift.check import check_notes, write_last_check
from phase17.drift.findings import Finding
from phase17.index.tree import Tree
from phase17.progress import ProgressReporter
from phase17.upstream.checkout import inspect_upstream
from phase17.upstream.fetch import fetch_upstream
from phase17.upstream.pin import Pin, write_pin
from phase17.upstream.project import ProjectPaths


def repin(
    project: ProjectPaths,
    current: Pin,
    new: Pin,
    *,
    cache_dir: Path,
    reporter: ProgressReporter,
    dry_run: bool = False,
    force: bool = False,
) -> list[Finding]:
    """Move upstream/ and the pin to `new` (the old tree kept in upstream/'s history), then check every anchor.

    With `dry_run` the new tree goes to a scratch folder instead, checked with old texts from upstream/, and
    neither the pin nor upstream/ changes. Only a full sha can be fetched with git; a sdist prefix needs PyPI.
    """
    source = "auto" if len(new.commit) == 40 else "pypi"
    if dry_run:
        with tempfile.TemporaryDirectory(prefix=".phase17-dry-run-", dir=project.root) as scratch:
            trial = Path(scratch) / "upstream"
            fetch_upstream(new, trial, source=source, cache_dir=cache_dir, reporter=reporter)
            return check_notes(
                project.annotations, Tree(trial, reporter_factory=lambda: reporter), history_roots=(project.upstream,)
            )
    if inspect_upstream(project.upstream, new).is_verified:
        # a `pin REF` stopped after the swap and before the pin was written: upstream/ already holds `new`,
        # verified, with the old tree in its history; finishing means writing the pin
        reporter.notice(f"upstream/ already holds {new.describe()}, verified: finishing the re-pin.")
    else:
        state = inspect_upstream(project.upstream, current)
        fetch_upstream(
            new,
            project.upstream,
            source=source,
            force=force or state.status in ("missing", "matches", "other-commit"),  # local edits need --force
            cache_dir=cache_dir,
            reporter=reporter,
            replaceable=project.upstream_is_own,
            keep_history_as=current.tag,
        )
    write_pin(project.pin_file, new)
    findings = check_notes(project.annotations, Tree(project.upstream, reporter_factory=lambda: reporter))
    write_last_check(project.annotations, findings)
    return findings
