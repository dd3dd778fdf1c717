"""What upstream/ holds compared with the pin, and the older versions of its files kept in its git history."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from phase17.upstream import gitrepo
from phase17.upstream.pin import Pin

# A pypi-sourced upstream/ is a fresh git repository whose one commit names the upstream commit it carries.
COMMIT_TRAILER = "Phase17-Upstream-Commit"
PROVENANCE_FILE = "phase17-provenance.yaml"  # kept in upstream/.git/, so the tree stays exactly upstream's
UNVERIFIED_MARK = "Verification: skipped (--insecure-skip-verify)"
TREE_TRAILER = "Phase17-Tree"  # the tree the sdist made: edits committed (or amended) on top of it show

UpstreamStatus = Literal["missing", "not-a-checkout", "unverifiable", "matches", "other-commit", "modified"]


@dataclass(frozen=True)
class UpstreamState:
    """What upstream/ holds compared with the pin ("unverifiable": a tree is there, but git is not)."""

    status: UpstreamStatus
    path: Path
    head: str | None = None  # the checkout's own HEAD
    carries: str | None = None  # the upstream commit its tree is (HEAD itself, or a pypi tree's trailer)
    source: str | None = None  # "git" or "pypi"
    modified: tuple[str, ...] = ()
    verified: bool = True  # False when fetched with --insecure-skip-verify
    tree: str | None = None  # HEAD's tree id
    differing: tuple[str, ...] = ()  # every path whose content may not be HEAD's (gitrepo.WorktreeStatus)

    @property
    def is_verified(self) -> bool:
        return self.status == "matches" and self.verified

    @property
    def has_tree(self) -> bool:
        return self.status not in ("missing", "not-a-checkout")

    def to_data(self) -> dict[str, object]:
        return {
            "path": str(self.path),
            "status": self.status,
            "head": self.head,
            "carries": self.carries,
            "source": self.source,
            "verified": self.verified,
            "modified": list(self.modified),
        }


def inspect_upstream(upstream: Path, pin: Pin, prefetched: gitrepo.Prefetched | None = None) -> UpstreamState:
    """Say whether `upstream` holds exactly the pinned tree: missing, matches, other commit, or modified (listed).
    `prefetched`: the same git commands, started early."""
    if not upstream.exists() or (upstream.is_dir() and not any(upstream.iterdir())):
        return UpstreamState(status="missing", path=upstream)
    if not gitrepo.git_available():
        return UpstreamState(status="unverifiable", path=upstream)
    try:
        head = gitrepo.head_commit(upstream, prefetched)
    except gitrepo.NotARepositoryError:
        return UpstreamState(status="not-a-checkout", path=upstream)
    carries, source = head.sha, "git"
    trailer = commit_trailer(head.message)
    if trailer and not same_commit(head.sha, pin.commit):
        carries, source = trailer, "pypi"
    status_now = gitrepo.worktree_status(upstream, prefetched)
    modified = tuple(status_now.changed)
    fetched_tree = re.search(rf"^{TREE_TRAILER}: ([0-9a-f]{{40,64}})$", head.message, re.MULTILINE)
    if fetched_tree and head.tree and fetched_tree.group(1) != head.tree:  # committed on top, or amended
        modified = tuple(sorted({*modified, *gitrepo.paths_changed_since(upstream, fetched_tree.group(1))}))
        modified = modified or ("(commits on top of the fetched tree)",)
    if not same_commit(carries, pin.commit):
        status: UpstreamStatus = "other-commit"
    elif modified:
        status = "modified"
    else:
        status = "matches"
    verified = UNVERIFIED_MARK not in head.message
    return UpstreamState(
        status=status,
        path=upstream,
        head=head.sha,
        carries=carries,
        source=source,
        modified=modified,
        verified=verified,
        tree=head.tree or None,
        differing=tuple(status_now.differing),
    )


def same_commit(first: str, second: str) -> bool:
    """Two shas name the same commit when one is a prefix (of at least 7 characters) of the other."""
    shorter, longer = sorted((first, second), key=len)
    return len(shorter) >= 7 and longer.startswith(shorter)


def commit_trailer(message: str) -> str | None:
    found = re.search(rf"^{COMMIT_TRAILER}: ([0-9a-f]{{7,40}})$", message, re.MULTILINE)
    return found.group(1) if found else None


@dataclass(frozen=True)
class HistoricFile:
    """One version of a file in upstream/'s history: the upstream commit its tree carries, and its bytes."""

    carries: str
    content: bytes
    commit: str = ""  # the commit of upstream/'s own history that holds this version


def file_history(upstream: Path, path: str, limit: int = 20) -> list[HistoricFile]:
    """The versions of `path` in upstream/'s commits, newest first: HEAD, its parents, then kept refs.

    `pin REF` keeps each replaced tree as a parent commit (pypi) or under refs/phase17/ (git), so `check`
    can show what a changed anchor looked like when the note was written. Without git, there is no history.
    """
    return [
        HistoricFile(carries=commit_trailer(message) or "", content=content, commit=commit)
        for message, content, commit in gitrepo.file_versions(upstream, path, limit)
    ]


def keep_as_history(upstream: Path, label: str) -> None:
    """Point refs/phase17/<label> at upstream/'s HEAD so the tree stays reachable after HEAD moves on."""
    gitrepo.keep_ref(upstream, label)


def recorded_upstream_commits(upstream: Path) -> list[str]:
    """Every upstream commit upstream/'s history names: the trailers of sdist trees, and git-fetched commits."""
    if not gitrepo.git_available():
        return []
    try:
        log = gitrepo.history_messages(upstream)
    except Exception:  # no history is no knowledge, never a failure of the command asking
        return []
    found = re.findall(rf"^{COMMIT_TRAILER}: ([0-9a-f]{{7,40}})$", log, re.MULTILINE)
    found += re.findall(r"^commit ([0-9a-f]{40})$", log, re.MULTILINE)
    return list(dict.fromkeys(found))
