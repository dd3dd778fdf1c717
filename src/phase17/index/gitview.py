"""What git says of a tree, for the index: the .py files of HEAD's tree with their blob ids (listed by git once per
tree and kept in the index), and the few files that differ from it, looked at on disk. A command that has just run
`git status` to verify upstream/ thus needs no walk of the tree."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from phase17.index.database import checked, transaction, verified
from phase17.index.records import GitView
from phase17.source.files import SeenFile, below, in_skipped_folder, seen_file, walk

_KEPT_TREES = 4  # git trees whose .py entries are kept (the pin and the trees re-pins replaced)


def seen_through_git(
    upstream: Path, connection: sqlite3.Connection, view: GitView, places: Sequence[str]
) -> dict[str, SeenFile] | None:
    """The files below `places` as git sees them: HEAD's blobs, except what differs, which is looked at
    (None when git cannot list HEAD's tree: the caller walks the tree instead)."""
    entries = _tree_entries(upstream, connection, view.tree)
    if entries is None:
        return None
    seen: dict[str, SeenFile] = {}
    to_look_at: list[str] = []
    differing = set(view.differing)
    for path, digest in entries:
        if not below(path, places):
            continue
        if digest is None or path in differing:  # a symlink or a submodule in the tree, or changed
            to_look_at.append(path)
        else:
            seen[path] = SeenFile(path, 0, 0, 0, None, digest)
    for path in differing:
        folder = path.rstrip("/")
        if below(folder, places) or (path.endswith("/") and any(below(place, [folder]) for place in places)):
            to_look_at.append(path)  # (a folder git lists whole may hold a place looked in)
    for path in to_look_at:  # (none in a skipped folder: _tree_entries and use_git_view left those out)
        folder = path.rstrip("/")
        if path.endswith("/") or os.path.isdir(os.path.join(upstream, folder)):
            seen.update((item.path, item) for item in walk(upstream, folder) if below(item.path, places))
        elif folder.endswith(".py"):
            full = os.path.join(upstream, folder)
            try:
                seen[folder] = seen_file(upstream, folder, os.stat(full, follow_symlinks=False), full)
            except FileNotFoundError:
                continue  # deleted
            except OSError as error:
                seen[folder] = SeenFile(folder, 0, 0, 0, f"cannot read ({error.strerror})")
    return seen


def _tree_entries(upstream: Path, connection: sqlite3.Connection, tree: str) -> list[tuple[str, str | None]] | None:
    """(path, blob id) of the .py files of git tree `tree` (blob id None for a symlink or a submodule), listed
    by git once per tree and kept."""
    found = connection.execute("SELECT id FROM trees WHERE tree = ?", (tree,)).fetchone()
    if found is not None:
        query = 'SELECT tree, path, digest, "check" FROM tree_files WHERE tree = ?'
        return [(row[1], row[2]) for row in map(verified, connection.execute(query, (found[0],)).fetchall())]
    from phase17.errors import Phase17Error
    from phase17.upstream import gitrepo

    try:
        listed = gitrepo.tree_files(upstream, tree)
    except Phase17Error:
        return None
    entries = [
        (path, digest if mode in ("100644", "100755") else None)
        for mode, digest, path in listed
        if path.endswith(".py") and not in_skipped_folder(path)
    ]
    with transaction(connection):
        old = [row[0] for row in connection.execute("SELECT id FROM trees ORDER BY id DESC")][_KEPT_TREES - 1 :]
        connection.executemany("DELETE FROM tree_files WHERE tree = ?", [(tree_id,) for tree_id in old])
        connection.executemany("DELETE FROM trees WHERE id = ?", [(tree_id,) for tree_id in old])
        tree_id = connection.execute("INSERT INTO trees(tree) VALUES (?)", (tree,)).lastrowid
        connection.executemany(
            "INSERT INTO tree_files VALUES (?, ?, ?, ?)", [checked(tree_id, *entry) for entry in entries]
        )
    return entries
