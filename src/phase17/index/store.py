"""The index of one upstream tree: where every definition is, so that whole-tree lookups never parse the tree again.

Rows are keyed by each file's content (its git blob id): a file is parsed once per content, ever, so a re-pin parses
only what changed and the old versions in upstream/'s history share the same store. Which files changed: in a git
checkout whose status the command has just asked (a GitView), HEAD's tree holds every file but the ones git names,
so nothing is walked; otherwise a file is re-read only when its size, mtime, ctime or inode changed (or it changed too
recently to tell). The index holds sites only (names, kinds, lines); a command parses the few files it shows for
signatures and fingerprints.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from itertools import starmap
from pathlib import Path
from typing import Any

from phase17.errors import UnreadableSourceError
from phase17.index.database import (
    FILE_COLUMNS,
    SITE_COLUMNS,
    SITES_INDEX,
    bucket_of,
    checked,
    count_into_buckets,
    empty_in_memory,
    opened,
    sites_of_bucket,
    stored_file,
    transaction,
    verified,
    without_cycle_collection,
)
from phase17.index.gitview import seen_through_git
from phase17.index.records import IndexedSite, IndexSummary, Needle, RefreshReport, StoredFile, TreeState
from phase17.index.workers import PARALLEL_FROM, answered, parsed_files
from phase17.progress import ProgressReporter, SilentReporter
from phase17.source.files import SeenFile, below, read_source, walk, with_stat_key

_RACY_NANOSECONDS = 2_000_000_000  # a file changed this close to its check may change again unseen: re-read it


_BULK_FROM = 1000  # files parsed in one refresh from which the sites' index is dropped and made again


class SymbolIndex:
    """The index of one upstream tree. Use `SymbolIndex.open`, then `refresh` the part of the tree to look in."""

    def __init__(self, tree: TreeState, connection: sqlite3.Connection, location: Path, rebuilt_because: str | None):
        self.tree = tree  # what git said of it in this command, and who draws progress (read when needed)
        self.upstream = tree.root
        self.location = location
        self.rebuilt_because = rebuilt_because
        self._connection = connection
        self._fresh: set[str] = set()
        self._answers: dict[tuple[str, tuple[str, ...]], list[tuple[str, Any]]] = {}  # derived, by kind and folders
        self._bytes: dict[str, bytes | None] = {}  # files read for a needle, this command (see _bytes_of)
        self._rows: dict[tuple[str, ...], dict[str, StoredFile]] = {}  # files rows read (and verified) until a write

    @classmethod
    def open(cls, tree: TreeState, *, rebuild: bool = False) -> SymbolIndex:
        return cls(tree, *opened(tree.root, rebuild))

    @classmethod
    def in_memory(cls, tree: TreeState, because: str) -> SymbolIndex:
        """An index for this command only (slower, never a wrong answer), and why."""
        return cls(tree, empty_in_memory(tree.root), Path(":memory:"), because)

    def close(self) -> None:
        self._connection.close()

    def refresh(
        self, under: Sequence[str] = ("",), reporter: ProgressReporter | None = None, *, recheck: bool = False
    ) -> RefreshReport:
        """Bring the rows of the files below each of `under` up to date with the tree: once in this index's life for a
        folder (a command reads the tree once), every time with `recheck` (one file, cheaply).

        When git has just said what differs from HEAD (use_git_view), only those files are looked at; the others
        hold HEAD's blobs. Otherwise every file's stat key is compared with the one recorded."""
        report = RefreshReport(rebuilt_because=self.rebuilt_because)
        places = [place for place in under if recheck or not below(place, list(self._fresh))]
        if not places:
            return report
        view = None if recheck else self.tree.git_view
        stored_clean = self._meta("clean_tree")
        seen: dict[str, SeenFile] | None = None
        if view is not None:
            if stored_clean == view.tree and not any(below(path, places) for path in view.differing):
                self._fresh.update(places)  # the rows are HEAD's tree, and git says the files are too
                return report
            seen = seen_through_git(self.upstream, self._connection, view, places)
        if seen is None:
            seen = {item.path: item for place in places for item in walk(self.upstream, place)}
        for path in [path for path in seen if "\n" in path]:  # no module's name; it would forge lines in output
            seen[path] = SeenFile(path, 0, 0, 0, "its name holds a line break: no Python module, not read")
        known = self._known_rows(places)
        now = time.time_ns()
        changed: list[SeenFile] = []
        for item in seen.values():
            row = known.get(item.path)
            if item.problem is not None:
                report.unreadable[item.path] = item.problem
                if row is None or row.blob is not None or row.problem != item.problem:
                    changed.append(item)
            elif item.digest is not None:
                if row is None or row.digest != item.digest:
                    changed.append(item)
            elif (
                row is None
                or (row.size, row.mtime_ns, row.ctime_ns, row.inode)
                != (item.size, item.mtime_ns, item.ctime_ns, item.inode)
                or row.checked_ns - item.mtime_ns < _RACY_NANOSECONDS
                or row.blob is None
            ):
                changed.append(item)
        removed = [path for path in known if path not in seen and below(path, places)]
        file_rows: list[tuple[Any, ...]] = []  # each file's row, as decided
        digests = self._blob_ids() if len(changed) >= PARALLEL_FROM else {}  # a few files: each content looked up
        to_read: list[SeenFile] = []
        for item in changed:
            if item.problem is not None:  # (in report.unreadable already: every seen file's problem is)
                file_rows.append((item.path, item.size, item.mtime_ns, item.inode, now, None, item.problem, 0))
                continue
            if (vouched := item.digest) is not None:
                item = with_stat_key(self.upstream, item)  # so a later walk finds the file unchanged
                if self._stored_blob(vouched, digests, len(changed)):
                    report.reused += 1  # git vouches for the content, and it is parsed already: nothing to read
                    file_rows.append(
                        (item.path, item.size, item.mtime_ns, item.inode, now, vouched, None, item.ctime_ns)
                    )
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

    def _ids_read_again(self, digests: dict[str, int], changes: int) -> None:
        """`digests` as the index holds them now: all of them (many files changed), else the ones asked before."""
        asked = list(digests)
        digests.clear()
        if changes >= PARALLEL_FROM:
            digests.update(self._blob_ids())
            return
        for digest in asked:
            self._stored_blob(digest, digests, changes)

    def _stored_blob(self, digest: str, digests: dict[str, int], changes: int) -> bool:
        """Is this content parsed already? (`digests` holds every blob id when many files changed.)"""
        if digest not in digests and changes < PARALLEL_FROM:
            found = self._connection.execute("SELECT id FROM blobs WHERE digest = ?", (digest,)).fetchone()
            if found is not None:
                digests[digest] = found[0]
        return digest in digests

    def _known_rows(self, places: Sequence[str]) -> dict[str, StoredFile]:
        """The files rows below `places` (all of them for the whole tree), by path; read and verified once until
        the next write (a command asks for them several times: the digest, the unreadable files, ...)."""
        key = tuple(places)
        if key not in self._rows:
            self._rows[key] = self._rows_below(places)
        return self._rows[key]

    def _rows_below(self, places: Sequence[str]) -> dict[str, StoredFile]:
        columns = FILE_COLUMNS
        if "" in places:
            return dict(map(stored_file, self._connection.execute(columns).fetchall()))
        rows: dict[str, StoredFile] = {}
        for place in places:
            folder = place.rstrip("/") + "/"
            query = f"{columns} WHERE path = ? OR (path >= ? AND path < ?)"
            # ("0" sorts after "/")
            rows.update(
                map(stored_file, self._connection.execute(query, (place, folder, folder[:-1] + "0")).fetchall())
            )
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
        self._rows.clear()  # (read again after this write)
        changes = len(file_rows) + len(to_read)
        progress = (
            reporter
            if reporter is not None
            else (self.tree.reporter_factory() if changes >= PARALLEL_FROM else SilentReporter())
        )
        connection = self._connection
        bulk = len(to_read) >= _BULK_FROM  # many rows at once: the sites' index is made after them, faster
        # ... as the smallest sixteenth of the files comes in, while the workers still parse (not after them)
        index_from = len(to_read) - len(to_read) // 16 if bulk else -1
        inserted: set[str] = set()
        started = False
        next_blob = 0  # (read once the write transaction holds the file: see below)
        blob_rows: list[tuple[int, str, int]] = []
        site_rows: list[tuple[int, str, str, int, int]] = []
        added: dict[int, int] = {}  # new sites by bucket

        def store_rows() -> None:  # in batches as the files come in, the last ones at the end
            connection.executemany("INSERT INTO blobs VALUES (?, ?, ?, ?)", starmap(checked, blob_rows))
            connection.executemany("INSERT INTO sites VALUES (?, ?, ?, ?, ?, ?)", starmap(checked, site_rows))
            connection.executemany(
                "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [checked(*row[:5], digests.get(row[5]) if row[5] else None, *row[6:]) for row in file_rows],
            )
            blob_rows.clear()
            site_rows.clear()
            file_rows.clear()

        try:
            with without_cycle_collection(), transaction(connection):
                # Every id is read now that this transaction holds the file: another phase17 may have rebuilt the
                # index since the files were looked at, and ids read before would name its contents. New contents
                # get their ids here, so their rows go in batches with the files' rows.
                self._ids_read_again(digests, changes)
                next_blob = (connection.execute("SELECT max(id) FROM blobs").fetchone()[0] or 0) + 1
                if bulk:
                    connection.execute("DROP INDEX sites_by_bucket")  # inside the transaction: a killed run keeps it
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
                            connection.execute(SITES_INDEX)
                        if len(file_rows) >= 512:
                            store_rows()
                        file_rows.append(
                            (item.path, item.size, item.mtime_ns, item.inode, now, digest, problem, item.ctime_ns)
                        )
                        if digest is None:
                            report.unreadable[item.path] = str(problem)
                        elif rows is None or self._stored_blob(digest, digests, changes):
                            report.reused += digest not in inserted  # (a copy of a file parsed just now is not)
                        else:
                            blob, next_blob = next_blob, next_blob + 1
                            digests[digest] = blob
                            inserted.add(digest)
                            blob_rows.append((blob, digest, len(rows)))
                            for row in rows:
                                bucket = bucket_of(row[1])
                                site_rows.append((blob, *row, bucket))
                                added[bucket] = added.get(bucket, 0) + 1
                            report.parsed += 1
                        progress.advance(1)
                connection.executemany("DELETE FROM files WHERE path = ?", [(path,) for path in removed])
                store_rows()
                count_into_buckets(connection, added)
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
        last = qualname.rpartition(".")[2] if qualname is not None else str(name)
        wanted = [
            site
            for site in sites_of_bucket(self._connection, last)
            if site[2] == last and (qualname is None or site[1] == qualname)
        ]
        if not wanted:
            return []
        blobs = sorted({site[0] for site in wanted})
        files: dict[int, list[str]] = {}
        query = f"{FILE_COLUMNS} WHERE files.blob IN ({', '.join('?' * len(blobs))})"
        for path, stored in map(stored_file, self._connection.execute(query, blobs).fetchall()):
            if below(path, under):
                files.setdefault(int(stored.blob or 0), []).append(path)
        found = [IndexedSite(path, site[1], site[3]) for site in wanted for path in files.get(site[0], [])]
        return sorted(found, key=lambda site: (site.path, site.start_line))

    def derived(
        self,
        kind: str,
        under: Sequence[str],
        compute: Callable[[str, bytes], Any],
        *,
        recheck: bool = False,
        needle: Needle | None = None,
    ) -> list[tuple[str, Any]]:
        """(path, compute(path, content)) for every readable file below `under`, each computed once per content
        and kind, ever (`kind` names the question and the code answering it: change either, and it is asked
        again). How `usages` answers at once the second time; the first time, many files are read by workers.
        Within one command (this index's life) a folder's answers are decoded once however often they are asked."""
        remembered = None if recheck else self._answers.get((kind, tuple(under)))
        if remembered is not None:
            return remembered
        self.refresh(under, recheck=recheck)
        known_rows = self._known_rows(under)
        rows = [(path, row.blob) for path, row in known_rows.items() if row.blob is not None]
        if len(rows) > 64:
            query = 'SELECT blob, kind, data, "check" FROM derived WHERE kind = ?'
            known = {row[0]: row[2] for row in map(verified, self._connection.execute(query, (kind,)).fetchall())}
        else:  # a few files: only their answers
            query = 'SELECT blob, kind, data, "check" FROM derived WHERE kind = ? AND blob = ?'
            known = {
                blob: verified(found)[2]
                for _, blob in rows
                if (found := self._connection.execute(query, (kind, blob)).fetchone())
            }
        # Each content not answered yet, asked of its first path (answers never depend on the path).
        asked = {blob: path for path, blob in sorted(rows, reverse=True) if blob not in known}
        computed: dict[str, Any] = {}
        if needle is not None:  # most files lack the words: answered here, read once, no worker started for them
            for path in list(asked.values()):
                data = self._bytes_of(path)
                if data is not None and needle.absent(data):
                    computed[path] = needle.empty
        unasked = [path for path in asked.values() if path not in computed]
        by_size = sorted(unasked, key=lambda path: -(known_rows[path].size or 0))  # the biggest first
        computed.update(answered(self.upstream, by_size, compute, self.tree.reporter_factory))
        answers: list[tuple[str, Any]] = []
        fresh: list[tuple[object, ...]] = []
        for path, blob in sorted(rows):
            if blob not in known:
                if asked[blob] not in computed:
                    continue  # became unreadable since the refresh: skipped, as the next refresh will say
                known[blob] = json.dumps(computed[asked[blob]])
                fresh.append(checked(blob, kind, known[blob]))
            answers.append((path, json.loads(known[blob])))
        if fresh:
            with transaction(self._connection):
                self._connection.executemany("INSERT OR REPLACE INTO derived VALUES (?, ?, ?, ?)", fresh)
        if not recheck:
            self._answers[(kind, tuple(under))] = answers
        return answers

    def _bytes_of(self, path: str) -> bytes | None:
        """A file's bytes as a worker would read them, or None (the worker then says why it cannot); read once in
        this index's life (a command), however many questions look for words in it."""
        if path not in self._bytes:
            try:
                self._bytes[path] = read_source(self.upstream / path, root=self.upstream)
            except (OSError, UnreadableSourceError):
                self._bytes[path] = None
        return self._bytes[path]

    def unreadable(self, under: Sequence[str] = ("",)) -> dict[str, str]:
        """The files below `under` that could not be read as Python, and why: from the rows this command has read,
        else from the rows that hold no content (verified, as every row read is), not from every row."""
        self.refresh(under)
        rows = self._rows.get(tuple(under))
        if rows is None:
            held = self._connection.execute(f"{FILE_COLUMNS} WHERE files.blob IS NULL").fetchall()
            rows = {path: row for path, row in map(stored_file, held) if below(path, under)}
        return {path: row.problem for path, row in rows.items() if row.problem is not None}

    def holding(self, words: Sequence[bytes], under: Sequence[str] = ("",)) -> dict[str, bytes]:
        """The readable files below `under` whose bytes hold one of `words`, with those bytes, in path order (each
        file read once in this index's life, however many searches)."""
        self.refresh(under)
        found = {}
        for path, row in sorted(self._known_rows(under).items()):
            data = self._bytes_of(path) if row.blob is not None else None
            if data is not None and any(word in data for word in words):
                found[path] = data
        return found

    def content_digest(self, under: Sequence[str] = ("",)) -> str:
        """A digest of what the tree below `under` holds now: every file's path and content (or why it cannot be
        read). Equal digests, equal trees: an answer about the whole tree can be kept under it."""
        self.refresh(under)
        digest = hashlib.sha256()
        for path, row in sorted(self._known_rows(under).items()):
            digest.update(f"{path}\0{row.digest or ''}\0{row.problem or ''}\n".encode("utf-8", "surrogatepass"))
        return digest.hexdigest()

    def qualnames(self, under: Sequence[str] = ("",)) -> Iterable[tuple[str, str]]:
        """(path, qualified name) of every definition below `under` (for did-you-mean)."""
        self.refresh(under)
        rows = self._connection.execute(
            f"SELECT files.path, {SITE_COLUMNS} FROM sites JOIN files ON files.blob = sites.blob"
        ).fetchall()  # (all read first: a damaged row must not leave a cursor, and its lock, open)
        return [(row[0], verified(row[1:])[1]) for row in rows if below(row[0], under)]

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
