"""The symbol index as a command asks it, of the Tree the command opened (tree.py): the questions the rest of phase17
asks (sites by name, derived answers, every qualified name), an index found broken rebuilt on the way.

The index itself is an SQLite file kept in upstream/.git/phase17/ for a checkout phase17 made, else in the user
cache (database.py); store.py reads and writes it.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from phase17.cache import code_digest
from phase17.index.records import GitView, IndexedSite, IndexSummary, Needle
from phase17.index.store import SymbolIndex
from phase17.index.tree import Tree
from phase17.progress import ProgressReporter
from phase17.source.files import in_skipped_folder

if TYPE_CHECKING:
    from phase17.upstream.gitrepo import Prefetched

T = TypeVar("T")


def use_git_view(tree: Tree, head_tree: str, differing: Iterable[str]) -> None:
    """Let this command's lookups in `tree` trust git's status instead of walking it: the files are HEAD's tree
    `head_tree` except `differing` (gitrepo.WorktreeStatus.differing). Only Python files and folders (an ignored
    "dir/") matter; what the walk skips is left out."""
    if not re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", head_tree):
        return
    kept = tuple(path for path in differing if path.endswith((".py", "/")) and not in_skipped_folder(path))
    tree.git_view = GitView(head_tree, kept)


def tree_index(tree: Tree) -> SymbolIndex:
    """The index of `tree`, opened on its first use (a corrupt one is rebuilt on the way)."""
    if tree.index is None:
        tree.index = SymbolIndex.open(tree)
    return tree.index


def _in_memory(tree: Tree, error: sqlite3.OperationalError) -> SymbolIndex:
    """An index for this command only, when the file's disk is full (or failing, or the file is held by another
    program); any other error is raised again."""
    if not _disk_trouble(error):
        raise error
    return SymbolIndex.in_memory(tree, f"the index file cannot be written ({error}); kept in memory")


def _disk_trouble(error: sqlite3.OperationalError) -> bool:
    message = str(error).lower()
    return any(
        sign in message for sign in ("disk is full", "disk i/o", "readonly", "read-only", "unable to open", "locked")
    )


def _asking(tree: Tree, question: Callable[[SymbolIndex], T]) -> T:
    """Ask the tree's index; an index found broken while reading it is rebuilt and asked again, and one whose
    disk is full (or failing, or held by another program) is kept in memory for this command: slower, never a
    wrong answer or a traceback."""
    trouble: sqlite3.OperationalError | None = None
    try:
        return question(tree_index(tree))
    except sqlite3.OperationalError as error:
        if not _disk_trouble(error):
            raise
        trouble = error
    except sqlite3.DatabaseError:
        pass
    # (out of the except block: the failed read's cursors are gone with its traceback, and so are their locks)
    tree.close()
    try:
        tree.index = SymbolIndex.open(tree, rebuild=True) if trouble is None else _in_memory(tree, trouble)
    except sqlite3.OperationalError as error:
        tree.index = _in_memory(tree, error)
    return question(tree.index)


def find_sites(
    tree: Tree, *, qualname: str | None = None, name: str | None = None, under: Sequence[str] = ("",)
) -> tuple[list[IndexedSite], dict[str, str]]:
    """Sites by qualified name or last name part below `under`, and the files there that cannot be read."""
    return _asking(
        tree, lambda index: (index.sites(qualname=qualname, name=name, under=under), index.unreadable(under))
    )


def derived_answers(
    tree: Tree,
    kind: str,
    under: Sequence[str],
    compute: Callable[[str, bytes], Any],
    *,
    recheck: bool = False,
    needle: Needle | None = None,
) -> tuple[list[tuple[str, Any]], dict[str, str]]:
    """SymbolIndex.derived for the tree, and the files below `under` that cannot be read. With `needle`, a file
    that holds none of its bytes answers its `empty` without being sent to a worker."""
    return _asking(
        tree,
        lambda index: (index.derived(kind, under, compute, recheck=recheck, needle=needle), index.unreadable(under)),
    )


def content_digest(tree: Tree, under: Sequence[str] = ("",)) -> str:
    """SymbolIndex.content_digest for the tree: what its files below `under` hold now."""
    return _asking(tree, lambda index: index.content_digest(under))


def files_holding(tree: Tree, words: Sequence[bytes], under: Sequence[str] = ("",)) -> dict[str, bytes]:
    """SymbolIndex.holding for the tree: the files below `under` whose bytes hold one of `words`, with those bytes."""
    return _asking(tree, lambda index: index.holding(words, under))


def all_qualnames(tree: Tree, under: Sequence[str] = ("",)) -> list[tuple[str, str]]:
    """(path, qualified name) of every definition below `under`."""
    return _asking(tree, lambda index: list(index.qualnames(under)))


def build_index(tree: Tree, *, rebuild: bool = False, reporter: ProgressReporter | None = None) -> IndexSummary:
    """`phase17 index`: bring the whole tree's index up to date (or make it anew) and say what it holds."""
    started = time.perf_counter()
    tree.close()
    if rebuild:
        tree.git_view = None  # a rebuild reads every file it walks, whatever git says
    index = tree.index = SymbolIndex.open(tree, rebuild=rebuild)
    try:
        report = index.refresh(("",), reporter=reporter)
    except sqlite3.OperationalError as error:
        index.close()
        index = tree.index = _in_memory(tree, error)
        report = index.refresh(("",), reporter=reporter)
    return index.summary(report, time.perf_counter() - started)


def view_through_git(tree: Tree, prefetched: Prefetched | None = None) -> None:
    """For the top of a git checkout, ask git what differs from HEAD and trust it for this command (use_git_view):
    one `git status` in C instead of a walk in Python. Anything else (a plain tree, no git, a failure) walks."""
    from phase17.errors import Phase17Error
    from phase17.upstream import gitrepo

    if not (tree / ".git").exists() or not gitrepo.git_available():
        return
    try:
        head = gitrepo.head_commit(tree.root, prefetched)
        status = gitrepo.worktree_status(tree.root, prefetched)
    except (gitrepo.NotARepositoryError, Phase17Error):
        return
    use_git_view(tree, head.tree, status.differing)


def stored_definitions(tree: Tree, relative: str, parse: Callable[[bytes], list[Any]]) -> list[Any] | None:
    """A file's full definitions (signatures, fingerprints) as stored for its content, computed with `parse` the
    first time; None when the file cannot be indexed (the caller parses it itself)."""
    try:
        answers, _ = derived_answers(
            tree, f"definitions:{code_digest()}", (relative,), lambda _, data: parse(data), recheck=True
        )
    except (sqlite3.Error, OSError):
        return None
    return next((value for path, value in answers if path == relative), None)
