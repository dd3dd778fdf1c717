"""A persistent index of where every definition of upstream/ is, so whole-tree lookups never parse the tree again.

It is an SQLite file (stdlib; one transaction per refresh, so a killed run leaves the previous index) kept in
upstream/.git/phase17/ for a checkout phase17 made, else in the user cache. Rows are keyed by each file's
content (its git blob id): a file is parsed once per content, ever, so a re-pin parses only what changed and
the old versions in upstream/'s history share the same store. Which files changed: in a git checkout whose
status the command has just asked (use_git_view), HEAD's tree holds every file but the ones git names, so
nothing is walked; otherwise a file is re-read only when its size, mtime or inode changed (or it changed too
recently to tell). The index holds sites only (names, kinds, lines); a command parses the few files it shows
for signatures and fingerprints.

An index that is corrupt, truncated, from another phase17 or parser version, or made for another tree is
deleted and rebuilt, never read.
"""

from __future__ import annotations

import gc
import hashlib
import os
import re
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from phase17.cache import cache_root, code_digest
from phase17.index.workers import PARALLEL_FROM, answered, parsed_files
from phase17.progress import ProgressReporter, SilentReporter
from phase17.source.files import SeenFile, below, in_skipped_folder, seen_file, walk, with_stat_key

INDEX_FORMAT = "phase17-symbol-index-7"
_RACY_NANOSECONDS = 2_000_000_000  # a file changed this close to its check may change again unseen: re-read it
_SITE_CODE = ("source/",)  # what decides a site (the parse, the queries): a change makes every stored site stale
_SCHEMA = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE blobs(id INTEGER PRIMARY KEY, digest TEXT NOT NULL UNIQUE, sites INTEGER NOT NULL DEFAULT 0);
CREATE TABLE sites(blob INTEGER NOT NULL, qualname TEXT NOT NULL, name TEXT NOT NULL, start_line INTEGER NOT NULL);
CREATE TABLE files(
    path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, inode INTEGER, checked_ns INTEGER, blob INTEGER,
    problem TEXT);
CREATE INDEX files_by_blob ON files(blob);  -- a name's sites, then their files: not every file's sites
CREATE TABLE derived(blob INTEGER NOT NULL, kind TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (blob, kind));
CREATE TABLE trees(id INTEGER PRIMARY KEY, tree TEXT NOT NULL UNIQUE);
CREATE TABLE tree_files(tree INTEGER NOT NULL, path TEXT NOT NULL, digest TEXT, PRIMARY KEY (tree, path));
"""
# A name's sites, then their files (files_by_blob): no query starts from a blob's sites. A qualified name is
# looked up by its last part too (the same rows, fewer), so one index serves both: one fewer to build.
_SITES_INDEX = "CREATE INDEX sites_by_name ON sites(name)"
_SCHEMA += _SITES_INDEX + ";\n"
_BULK_FROM = 1000  # files parsed in one refresh from which the sites' index is dropped and made again
_KEPT_TREES = 4  # git trees whose .py entries are kept (the pin and the trees re-pins replaced)

T = TypeVar("T")

# Who draws progress when a lookup has to build the index first (the CLI sets a progress bar; tests record).
reporter_factory: Callable[[], ProgressReporter] = SilentReporter


@dataclass(frozen=True)
class IndexedSite:
    """Where a definition is: its file and first line. A lookup then parses the few files found for the rest."""

    path: str
    qualname: str
    start_line: int


@dataclass
class RefreshReport:
    """What one refresh did: files seen, parsed (new content), reused (known content), and the unreadable."""

    files: int = 0
    parsed: int = 0
    reused: int = 0
    removed: int = 0
    unreadable: dict[str, str] = field(default_factory=dict)
    rebuilt_because: str | None = None


@dataclass(frozen=True)
class IndexSummary:
    """`phase17 index`'s answer: where the index is and what it holds."""

    location: str
    files: int
    definitions: int
    contents: int  # distinct file contents stored (the tree's, and earlier versions')
    parsed: int
    reused: int
    unreadable: dict[str, str]
    rebuilt_because: str | None
    seconds: float

    def to_data(self) -> dict[str, Any]:
        return {
            "location": self.location,
            "files": self.files,
            "definitions": self.definitions,
            "contents": self.contents,
            "parsed": self.parsed,
            "reused": self.reused,
            "unreadable": [{"path": path, "reason": reason} for path, reason in sorted(self.unreadable.items())],
            "rebuilt_because": self.rebuilt_because,
            "seconds": round(self.seconds, 3),
        }


# ---------------------------------------------------------------- where it lives, and opening it safely


def index_location(upstream: Path) -> Path:
    """upstream/.git/phase17/ for a checkout (it goes where the tree goes), else the user cache, by the tree's path."""
    if (upstream / ".git").is_dir() and not (upstream / ".git").is_symlink():
        return upstream / ".git" / "phase17" / "symbols.sqlite3"
    key = hashlib.sha256(str(upstream.resolve()).encode("utf-8", "surrogateescape")).hexdigest()[:24]
    return cache_root() / "indexes" / f"{key}.sqlite3"


def _parser_version() -> str:
    """The installed parser's identity: its compiled modules' names, sizes and mtimes (importlib.metadata is too
    slow for a command that must answer at once, and an upgrade replaces these files)."""
    import importlib.util

    parts = []
    for package in ("tree_sitter", "tree_sitter_python"):
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.origin:
            return "unknown"
        folder = Path(spec.origin).parent
        for binary in sorted(folder.glob("*.so")) + sorted(folder.glob("*.pyd")):
            status = binary.stat()
            parts.append(f"{binary.name}:{status.st_size}:{status.st_mtime_ns}")
    return hashlib.sha256(" ".join(parts).encode()).hexdigest()[:16]


def _expected_meta(upstream: Path) -> dict[str, str]:
    return {
        "format": INDEX_FORMAT,
        "phase17": code_digest(*_SITE_CODE),
        "parser": _parser_version(),
        "root": str(upstream.resolve()),
    }


def _connect(location: Path, expected: dict[str, str], rebuild: bool) -> tuple[sqlite3.Connection, str | None]:
    """An open index matching `expected`, and why it was rebuilt (None when the one found was trusted)."""
    reason = "asked to rebuild" if rebuild and location.exists() else None
    if not rebuild and location.exists():
        reason = _distrust(location, expected)
        if reason is None:
            return sqlite3.connect(location, timeout=30, isolation_level=None, check_same_thread=False), None
    elif not location.exists():
        reason = "no index yet"
    _remove(location)
    location.parent.mkdir(parents=True, exist_ok=True)
    return _created(str(location), expected), reason


def _created(where: str, expected: dict[str, str]) -> sqlite3.Connection:
    """A new, empty index at `where` (a file, or ":memory:"), stamped with what it is made for."""
    connection = sqlite3.connect(where, timeout=30, isolation_level=None, check_same_thread=False)
    # One transaction, so one sync to disk, for the schema and its stamp (each statement alone is one: 12 ms).
    connection.executescript("BEGIN IMMEDIATE;\n" + _SCHEMA)
    connection.executemany("INSERT INTO meta VALUES (?, ?)", sorted(expected.items()))
    connection.execute("COMMIT")
    return connection


def _distrust(location: Path, expected: dict[str, str]) -> str | None:
    """Why an existing index file must not be used, or None."""
    try:
        if location.is_symlink() or not location.is_file():
            return "not a regular file"
        with location.open("rb") as handle:
            if handle.read(16) != b"SQLite format 3\x00":
                return "not an SQLite file"
        connection = sqlite3.connect(f"file:{location}?mode=ro", uri=True, timeout=30)
        try:
            page_size, page_count = (
                connection.execute(f"PRAGMA {name}").fetchone()[0] for name in ("page_size", "page_count")
            )
            if location.stat().st_size < page_size * page_count:
                return "truncated"
            found = dict(connection.execute("SELECT key, value FROM meta").fetchall())
            connection.execute("SELECT count(*) FROM files").fetchone()
        finally:
            connection.close()
    except (sqlite3.Error, OSError) as error:
        return f"unreadable ({error})"
    for key, value in expected.items():
        if found.get(key) != value:
            return f"made for another {key} ({found.get(key)!r})"
    return None


@contextmanager
def _transaction(connection: sqlite3.Connection) -> Iterator[None]:
    """One write transaction: committed at the end, rolled back when anything (an error, ^C) ends it early, so a
    killed or failed run leaves the index as it was."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise


@contextmanager
def _without_cycle_collection() -> Iterator[None]:
    """The cycle collector paused: a build makes some 60,000 row tuples and no cycle, and collecting as they came
    took a hundred passes and 35 ms of this process's CPU, while the workers need both cores (issue 12)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _remove(location: Path) -> None:
    for suffix in ("", "-journal", "-wal", "-shm"):
        Path(f"{location}{suffix}").unlink(missing_ok=True)


# ---------------------------------------------------------------- the index


class SymbolIndex:
    """The index of one upstream tree. Use `SymbolIndex.open`, then `refresh` the part of the tree to look in."""

    def __init__(self, upstream: Path, connection: sqlite3.Connection, location: Path, rebuilt_because: str | None):
        self.upstream = upstream
        self.location = location
        self.rebuilt_because = rebuilt_because
        self._connection = connection
        self._fresh: set[str] = set()

    @classmethod
    def open(cls, upstream: Path, *, rebuild: bool = False) -> SymbolIndex:
        location = index_location(upstream)
        expected = _expected_meta(upstream)
        try:
            connection, reason = _connect(location, expected, rebuild)
        except (sqlite3.Error, OSError):  # an unwritable place: an index in memory, for this run
            connection = _created(":memory:", expected)
            location, reason = Path(":memory:"), "the index folder is not writable; kept in memory"
        return cls(upstream, connection, location, reason)

    def close(self) -> None:
        self._connection.close()

    def refresh(
        self, under: Sequence[str] = ("",), reporter: ProgressReporter | None = None, *, recheck: bool = False
    ) -> RefreshReport:
        """Bring the rows of the files below each of `under` up to date with the tree: once per process for a
        folder (a command reads the tree once), every time with `recheck` (one file, cheaply).

        When git has just said what differs from HEAD (use_git_view), only those files are looked at; the others
        hold HEAD's blobs. Otherwise every file's stat key is compared with the one recorded."""
        report = RefreshReport(rebuilt_because=self.rebuilt_because)
        places = [place for place in under if recheck or not below(place, list(self._fresh))]
        if not places:
            return report
        view = None if recheck else _GIT_VIEWS.get(self.upstream.resolve())
        stored_clean = self._meta("clean_tree")
        seen: dict[str, SeenFile] | None = None
        if view is not None:
            if stored_clean == view.tree and not any(below(path, places) for path in view.differing):
                self._fresh.update(places)  # the rows are HEAD's tree, and git says the files are too
                return report
            seen = self._seen_through_git(view, places)
        if seen is None:
            seen = {item.path: item for place in places for item in walk(self.upstream, place)}
        known = self._known_rows(places)
        now = time.time_ns()
        changed: list[SeenFile] = []
        for item in seen.values():
            row = known.get(item.path)
            if item.problem is not None:
                report.unreadable[item.path] = item.problem
                if row is None or row[4] is not None or row[5] != item.problem:
                    changed.append(item)
            elif item.digest is not None:
                if row is None or row[6] != item.digest:
                    changed.append(item)
            elif (
                row is None
                or row[:3] != (item.size, item.mtime_ns, item.inode)
                or row[3] - item.mtime_ns < _RACY_NANOSECONDS
                or row[4] is None
            ):
                changed.append(item)
        removed = [path for path in known if path not in seen and below(path, places)]
        file_rows: list[tuple[Any, ...]] = []  # each file's row, as decided
        digests = self._blob_ids() if len(changed) >= PARALLEL_FROM else {}  # a few files: each content looked up
        to_read: list[SeenFile] = []
        for item in changed:
            if item.problem is not None:  # (in report.unreadable already: every seen file's problem is)
                file_rows.append((item.path, item.size, item.mtime_ns, item.inode, now, None, item.problem))
                continue
            if (vouched := item.digest) is not None:
                item = with_stat_key(self.upstream, item)  # so a later walk finds the file unchanged
                if self._stored_blob(vouched, digests, len(changed)):
                    report.reused += 1  # git vouches for the content, and it is parsed already: nothing to read
                    file_rows.append((item.path, item.size, item.mtime_ns, item.inode, now, vouched, None))
                    continue
            to_read.append(item)
        to_read.sort(key=lambda item: -item.size)  # the biggest first: the workers end together

        report.files = len(seen)
        report.removed = len(removed)
        if view is not None and "" in places and not view.differing:
            clean_tree: str | None = view.tree  # every row is now HEAD's tree, as git said the files are
        else:
            clean_tree = None if changed or removed else stored_clean
        if changed or removed or clean_tree != stored_clean:
            self._write(file_rows, removed, to_read, now, digests, reporter, report, clean_tree)
        self._fresh.update(places)
        return report

    def _meta(self, key: str) -> str | None:
        found = self._connection.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if found is None else str(found[0])

    def _stored_blob(self, digest: str, digests: dict[str, int], changes: int) -> bool:
        """Is this content parsed already? (`digests` holds every blob id when many files changed.)"""
        if digest not in digests and changes < PARALLEL_FROM:
            found = self._connection.execute("SELECT id FROM blobs WHERE digest = ?", (digest,)).fetchone()
            if found is not None:
                digests[digest] = found[0]
        return digest in digests

    def _seen_through_git(self, view: GitView, places: Sequence[str]) -> dict[str, SeenFile] | None:
        """The files below `places` as git sees them: HEAD's blobs, except what differs, which is looked at
        (None when git cannot list HEAD's tree: the caller walks the tree instead)."""
        entries = self._tree_entries(view.tree)
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
            if path.endswith("/") or os.path.isdir(os.path.join(self.upstream, folder)):
                seen.update((item.path, item) for item in walk(self.upstream, folder) if below(item.path, places))
            elif folder.endswith(".py"):
                full = os.path.join(self.upstream, folder)
                try:
                    seen[folder] = seen_file(self.upstream, folder, os.stat(full, follow_symlinks=False), full)
                except FileNotFoundError:
                    continue  # deleted
                except OSError as error:
                    seen[folder] = SeenFile(folder, 0, 0, 0, f"cannot read ({error.strerror})")
        return seen

    def _tree_entries(self, tree: str) -> list[tuple[str, str | None]] | None:
        """(path, blob id) of the .py files of git tree `tree` (blob id None for a symlink or a submodule), listed
        by git once per tree and kept."""
        connection = self._connection
        found = connection.execute("SELECT id FROM trees WHERE tree = ?", (tree,)).fetchone()
        if found is not None:
            return connection.execute("SELECT path, digest FROM tree_files WHERE tree = ?", (found[0],)).fetchall()
        from phase17.errors import Phase17Error
        from phase17.upstream import gitrepo

        try:
            listed = gitrepo.tree_files(self.upstream, tree)
        except Phase17Error:
            return None
        entries = [
            (path, digest if mode in ("100644", "100755") else None)
            for mode, digest, path in listed
            if path.endswith(".py") and not in_skipped_folder(path)
        ]
        with _transaction(connection):
            old = [row[0] for row in connection.execute("SELECT id FROM trees ORDER BY id DESC")][_KEPT_TREES - 1 :]
            connection.executemany("DELETE FROM tree_files WHERE tree = ?", [(tree_id,) for tree_id in old])
            connection.executemany("DELETE FROM trees WHERE id = ?", [(tree_id,) for tree_id in old])
            tree_id = connection.execute("INSERT INTO trees(tree) VALUES (?)", (tree,)).lastrowid
            connection.executemany("INSERT INTO tree_files VALUES (?, ?, ?)", [(tree_id, *entry) for entry in entries])
        return entries

    def _known_rows(self, places: Sequence[str]) -> dict[str, tuple[Any, ...]]:
        """The files rows below `places` (all of them for the whole tree), by path."""
        columns = (
            "SELECT path, size, mtime_ns, inode, checked_ns, blob, problem, blobs.digest "
            "FROM files LEFT JOIN blobs ON blobs.id = files.blob"
        )
        if "" in places:
            return {row[0]: row[1:] for row in self._connection.execute(columns)}
        rows: dict[str, tuple[Any, ...]] = {}
        for place in places:
            folder = place.rstrip("/") + "/"
            query = f"{columns} WHERE path = ? OR (path >= ? AND path < ?)"
            for row in self._connection.execute(query, (place, folder, folder[:-1] + "0")):  # "0" sorts after "/"
                rows[row[0]] = row[1:]
        return rows

    def _blob_ids(self) -> dict[str, int]:
        return dict(self._connection.execute("SELECT digest, id FROM blobs"))

    def _write(
        self,
        file_rows: list[tuple[Any, ...]],
        removed: list[str],
        to_read: list[SeenFile],
        now: int,
        digests: dict[str, int],
        reporter: ProgressReporter | None,
        report: RefreshReport,
        clean_tree: str | None = None,
    ) -> None:
        """In one transaction: read and parse the files `to_read`; store each new content and its sites, and the
        files' rows (`file_rows`, decided without a read, and one per file read), all written in batches; and the
        tree's cleanliness."""
        changes = len(file_rows) + len(to_read)
        progress = (
            reporter if reporter is not None else (reporter_factory() if changes >= PARALLEL_FROM else SilentReporter())
        )
        connection = self._connection
        bulk = len(to_read) >= _BULK_FROM  # many rows at once: the sites' index is made after them, faster
        # ... as the smallest sixteenth of the files comes in, while the workers still parse (not after them)
        index_from = len(to_read) - len(to_read) // 16 if bulk else -1
        inserted: set[str] = set()
        started = False
        # New contents get their ids here, so that their rows go in batches with the files' rows: one INSERT per
        # content cost more than its sites' rows (issue 12).
        next_blob = (connection.execute("SELECT max(id) FROM blobs").fetchone()[0] or 0) + 1
        blob_rows: list[tuple[int, str, int]] = []
        site_rows: list[tuple[int, str, str, int]] = []

        def store_rows() -> None:  # in batches as the files come in, the last ones at the end
            connection.executemany("INSERT INTO blobs(id, digest, sites) VALUES (?, ?, ?)", blob_rows)
            connection.executemany("INSERT INTO sites VALUES (?, ?, ?, ?)", site_rows)
            connection.executemany(
                "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(*row[:5], digests.get(row[5]) if row[5] else None, row[6]) for row in file_rows],
            )
            blob_rows.clear()
            site_rows.clear()
            file_rows.clear()

        try:
            with _without_cycle_collection(), _transaction(connection):
                if bulk:
                    connection.execute("DROP INDEX sites_by_name")  # inside the transaction: a killed run keeps it
                paths = [item.path for item in to_read]

                def known(digest: str) -> bool:
                    return self._stored_blob(digest, digests, changes)

                with parsed_files(self.upstream, paths, known, digests) as parsed:  # the workers start before the bar
                    if changes:
                        progress.start(f"indexing {changes} files of {self.upstream.name}/", changes)
                        started = True
                        progress.advance(len(file_rows))  # decided without a read
                    for position, (item, (digest, problem, rows)) in enumerate(zip(to_read, parsed, strict=True)):
                        if position == index_from:
                            store_rows()
                            connection.execute(_SITES_INDEX)
                        if len(file_rows) >= 512:
                            store_rows()
                        file_rows.append((item.path, item.size, item.mtime_ns, item.inode, now, digest, problem))
                        if digest is None:
                            report.unreadable[item.path] = str(problem)
                        elif rows is None or self._stored_blob(digest, digests, changes):
                            report.reused += digest not in inserted  # (a copy of a file parsed just now is not)
                        else:
                            blob, next_blob = next_blob, next_blob + 1
                            digests[digest] = blob
                            inserted.add(digest)
                            blob_rows.append((blob, digest, len(rows)))
                            site_rows.extend([(blob, *row) for row in rows])
                            report.parsed += 1
                        progress.advance(1)
                connection.executemany("DELETE FROM files WHERE path = ?", [(path,) for path in removed])
                store_rows()
                connection.execute("DELETE FROM meta WHERE key = 'clean_tree'")
                if clean_tree is not None:
                    connection.execute("INSERT INTO meta VALUES ('clean_tree', ?)", (clean_tree,))
        finally:
            if started:
                progress.finish()

    # ------------------------------------------------------------ questions

    def sites(
        self, *, qualname: str | None = None, name: str | None = None, under: Sequence[str] = ("",)
    ) -> list[IndexedSite]:
        """Definitions with this qualified name (or last name part) in the files below `under`, in path order."""
        self.refresh(under)
        condition, values = "sites.name = ?", [name]
        if qualname is not None:  # through its last part, the one index (sites_by_name)
            condition, values = "sites.name = ? AND sites.qualname = ?", [qualname.rpartition(".")[2], qualname]
        rows = self._connection.execute(
            f"SELECT files.path, sites.qualname, sites.start_line FROM sites JOIN files ON files.blob = sites.blob "
            f"WHERE {condition} ORDER BY files.path, sites.start_line",
            values,
        ).fetchall()
        return [IndexedSite(*row) for row in rows if below(row[0], under)]

    def derived(
        self, kind: str, under: Sequence[str], compute: Callable[[str, bytes], Any], *, recheck: bool = False
    ) -> list[tuple[str, Any]]:
        """(path, compute(path, content)) for every readable file below `under`, each computed once per content
        and kind, ever (`kind` names the question and the code answering it: change either, and it is asked
        again). How `usages` answers at once the second time; the first time, many files are read by workers."""
        import json

        self.refresh(under, recheck=recheck)
        known_rows = self._known_rows(under)
        rows = [(path, row[4]) for path, row in known_rows.items() if row[4] is not None]
        if len(rows) > 64:
            known = dict(self._connection.execute("SELECT blob, data FROM derived WHERE kind = ?", (kind,)))
        else:  # a few files: only their answers
            query = "SELECT blob, data FROM derived WHERE kind = ? AND blob = ?"
            known = {
                blob: found[1]
                for _, blob in rows
                if (found := self._connection.execute(query, (kind, blob)).fetchone())
            }
        # Each content not answered yet, asked of its first path (answers never depend on the path).
        asked = {blob: path for path, blob in sorted(rows, reverse=True) if blob not in known}
        by_size = sorted(asked.values(), key=lambda path: -known_rows[path][0])  # the biggest first
        computed = dict(answered(self.upstream, by_size, compute, reporter_factory))
        answers: list[tuple[str, Any]] = []
        fresh: list[tuple[int, str, str]] = []
        for path, blob in sorted(rows):
            if blob not in known:
                if asked[blob] not in computed:
                    continue  # became unreadable since the refresh: skipped, as the next refresh will say
                known[blob] = json.dumps(computed[asked[blob]])
                fresh.append((blob, kind, known[blob]))
            answers.append((path, json.loads(known[blob])))
        if fresh:
            with _transaction(self._connection):
                self._connection.executemany("INSERT OR REPLACE INTO derived VALUES (?, ?, ?)", fresh)
        return answers

    def unreadable(self, under: Sequence[str] = ("",)) -> dict[str, str]:
        """The files below `under` that could not be read as Python, and why."""
        self.refresh(under)
        rows = self._connection.execute("SELECT path, problem FROM files WHERE problem IS NOT NULL")
        return {path: problem for path, problem in rows if below(path, under)}

    def qualnames(self, under: Sequence[str] = ("",)) -> Iterable[tuple[str, str]]:
        """(path, qualified name) of every definition below `under` (for did-you-mean)."""
        self.refresh(under)
        rows = self._connection.execute(
            "SELECT files.path, sites.qualname FROM sites JOIN files ON files.blob = sites.blob"
        )
        return [(path, qualname) for path, qualname in rows if below(path, under)]

    def summary(self, report: RefreshReport, seconds: float) -> IndexSummary:
        count = self._connection.execute
        return IndexSummary(
            location=str(self.location),
            files=count("SELECT count(*) FROM files").fetchone()[0],
            definitions=count(
                "SELECT coalesce(sum(blobs.sites), 0) FROM files JOIN blobs ON blobs.id = files.blob"
            ).fetchone()[0],
            contents=count("SELECT count(*) FROM blobs").fetchone()[0],
            parsed=report.parsed,
            reused=report.reused,
            unreadable=dict(count("SELECT path, problem FROM files WHERE problem IS NOT NULL")),
            rebuilt_because=report.rebuilt_because,
            seconds=seconds,
        )


_OPEN: dict[Path, SymbolIndex] = {}
_GIT_VIEWS: dict[Path, GitView] = {}


@dataclass(frozen=True)
class GitView:
    """What git said of a checkout in this command: HEAD's tree and the paths whose content may not be HEAD's."""

    tree: str
    differing: tuple[str, ...]


def use_git_view(upstream: Path, tree: str, differing: Iterable[str]) -> None:
    """Let this command's lookups in `upstream` trust git's status instead of walking the tree: the files are
    HEAD's tree `tree` except `differing` (gitrepo.WorktreeStatus.differing). Only Python files and folders
    (an ignored "dir/") matter; what the walk skips is left out."""
    if not re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", tree):
        return
    kept = tuple(path for path in differing if path.endswith((".py", "/")) and not in_skipped_folder(path))
    _GIT_VIEWS[upstream.resolve()] = GitView(tree, kept)


def tree_index(upstream: Path) -> SymbolIndex:
    """The index of `upstream`, opened once per process (a corrupt one is rebuilt on the way)."""
    key = upstream.resolve()
    if key not in _OPEN:
        _OPEN[key] = SymbolIndex.open(upstream)
    return _OPEN[key]


def _asking(upstream: Path, question: Callable[[SymbolIndex], T]) -> T:
    """Ask the tree's index; an index found broken while reading it is rebuilt and asked again."""
    try:
        return question(tree_index(upstream))
    except sqlite3.DatabaseError:
        _OPEN.pop(upstream.resolve()).close()
        _OPEN[upstream.resolve()] = SymbolIndex.open(upstream, rebuild=True)
        return question(tree_index(upstream))


def find_sites(
    upstream: Path, *, qualname: str | None = None, name: str | None = None, under: Sequence[str] = ("",)
) -> tuple[list[IndexedSite], dict[str, str]]:
    """Sites by qualified name or last name part below `under`, and the files there that cannot be read."""
    return _asking(
        upstream, lambda index: (index.sites(qualname=qualname, name=name, under=under), index.unreadable(under))
    )


def derived_answers(
    upstream: Path, kind: str, under: Sequence[str], compute: Callable[[str, bytes], Any], *, recheck: bool = False
) -> tuple[list[tuple[str, Any]], dict[str, str]]:
    """SymbolIndex.derived for the tree, and the files below `under` that cannot be read."""
    return _asking(
        upstream, lambda index: (index.derived(kind, under, compute, recheck=recheck), index.unreadable(under))
    )


def all_qualnames(upstream: Path, under: Sequence[str] = ("",)) -> list[tuple[str, str]]:
    """(path, qualified name) of every definition below `under`."""
    return _asking(upstream, lambda index: list(index.qualnames(under)))


def build_index(upstream: Path, *, rebuild: bool = False, reporter: ProgressReporter | None = None) -> IndexSummary:
    """`phase17 index`: bring the whole tree's index up to date (or make it anew) and say what it holds."""
    started = time.perf_counter()
    key = upstream.resolve()
    if rebuild and key in _OPEN:
        _OPEN.pop(key).close()
    if rebuild:
        _GIT_VIEWS.pop(key, None)  # a rebuild reads every file it walks, whatever git says
    index = SymbolIndex.open(upstream, rebuild=rebuild)
    _OPEN[key] = index
    report = index.refresh(("",), reporter=reporter)
    return index.summary(report, time.perf_counter() - started)


def view_through_git(upstream: Path) -> None:
    """For the top of a git checkout, ask git what differs from HEAD and trust it for this command (use_git_view):
    one `git status` in C instead of a walk in Python. Anything else (a plain tree, no git, a failure) walks."""
    from phase17.errors import Phase17Error
    from phase17.upstream import gitrepo

    if not (upstream / ".git").exists() or not gitrepo.git_available():
        return
    try:
        head = gitrepo.head_commit(upstream)
        status = gitrepo.worktree_status(upstream)
    except (gitrepo.NotARepositoryError, Phase17Error):
        return
    use_git_view(upstream, head.tree, status.differing)


def forget(upstream: Path | None = None) -> None:
    """Drop what this process knows of a tree (all trees by default): the next lookup checks the files again.

    Called when a command starts and after a fetch or re-pin replaces the tree; within one command the tree
    is read once.
    """
    for key in [key for key in _OPEN if upstream is None or key == upstream.resolve()]:
        _OPEN.pop(key).close()
    for key in [key for key in _GIT_VIEWS if upstream is None or key == upstream.resolve()]:
        del _GIT_VIEWS[key]


def stored_definitions(upstream: Path, relative: str, parse: Callable[[bytes], list[Any]]) -> list[Any] | None:
    """A file's full definitions (signatures, fingerprints) as stored for its content, computed with `parse` the
    first time; None when the file cannot be indexed (the caller parses it itself)."""
    try:
        answers, _ = derived_answers(
            upstream, f"definitions:{code_digest(*_SITE_CODE)}", (relative,), lambda _, data: parse(data), recheck=True
        )
    except (sqlite3.Error, OSError):
        return None
    return next((value for path, value in answers if path == relative), None)
