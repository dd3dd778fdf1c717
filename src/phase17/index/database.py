"""The index's SQLite file: where it lives, its schema and stamp, and opening it safely (a file that is corrupt,
truncated, from another phase17 or parser version, or made for another tree is deleted and made anew, never read);
one transaction per write, so a killed run leaves the previous index."""

from __future__ import annotations

import gc
import hashlib
import sqlite3
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from phase17.cache import cache_root, code_digest
from phase17.index.records import StoredFile
from phase17.safety.files import safe_folder

INDEX_FORMAT = "phase17-symbol-index-9"  # 8: files carry their ctime; 9: every row its checksum


_SCHEMA = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE blobs(
    id INTEGER PRIMARY KEY, digest TEXT NOT NULL UNIQUE, sites INTEGER NOT NULL DEFAULT 0, "check" INTEGER NOT NULL);
CREATE TABLE sites(
    blob INTEGER NOT NULL, qualname TEXT NOT NULL, name TEXT NOT NULL, start_line INTEGER NOT NULL,
    bucket INTEGER NOT NULL, "check" INTEGER NOT NULL);
CREATE TABLE buckets(bucket INTEGER PRIMARY KEY, sites INTEGER NOT NULL, "check" INTEGER NOT NULL);
CREATE TABLE files(
    path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, inode INTEGER, checked_ns INTEGER, blob INTEGER,
    problem TEXT, ctime_ns INTEGER, "check" INTEGER NOT NULL);
CREATE INDEX files_by_blob ON files(blob);  -- a name's sites, then their files: not every file's sites
CREATE TABLE derived(
    blob INTEGER NOT NULL, kind TEXT NOT NULL, data TEXT NOT NULL, "check" INTEGER NOT NULL, PRIMARY KEY (blob, kind));
CREATE TABLE trees(id INTEGER PRIMARY KEY, tree TEXT NOT NULL UNIQUE);
CREATE TABLE tree_files(
    tree INTEGER NOT NULL, path TEXT NOT NULL, digest TEXT, "check" INTEGER NOT NULL, PRIMARY KEY (tree, path));
"""


# A name is looked up through its bucket (a hash of the name, 256 of them): every site of the bucket is read and
# verified, and their count checked against the bucket's row. So a flipped byte in a name (which an index on the
# name itself would silently stop finding) or in a bucket is seen by the next lookup there: ~225 rows of 57,000.
# A qualified name is looked up by its last part too, so one index serves both.
SITES_INDEX = "CREATE INDEX sites_by_bucket ON sites(bucket)"
_SCHEMA += SITES_INDEX + ";\n"
BUCKETS = 256


def index_location(upstream: Path) -> Path:
    """upstream/.git/phase17/ for a checkout (it goes where the tree goes), else the user cache, by the tree's path."""
    return _placed(upstream)[0]


def _placed(upstream: Path) -> tuple[Path, Path]:
    """The index file, and the folder nothing written for it may leave (the checkout, or the cache)."""
    if (upstream / ".git").is_dir() and not (upstream / ".git").is_symlink():
        return upstream / ".git" / "phase17" / "symbols.sqlite3", upstream
    key = hashlib.sha256(str(upstream.resolve()).encode("utf-8", "surrogateescape")).hexdigest()[:24]
    return cache_root() / "indexes" / f"{key}.sqlite3", cache_root()


def safe_index_location(upstream: Path) -> Path:
    """index_location, its folder made and checked not to lead out of its root by a symlink (WriteError)."""
    location, root = _placed(upstream)
    safe_folder(location.parent, root)
    return location


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


def expected_meta(upstream: Path) -> dict[str, str]:
    return {
        "format": INDEX_FORMAT,
        "phase17": code_digest(),
        "parser": _parser_version(),
        "root": str(upstream.resolve()),
    }


# How long a write waits for another's: a whole-tree build takes seconds; then the index is kept in memory.
_WAIT_SECONDS = 60


def connect(location: Path, expected: dict[str, str], rebuild: bool) -> tuple[sqlite3.Connection, str | None]:
    """An open index matching `expected`, and why it was rebuilt (None when the one found was trusted).

    A file another phase17 may have open is never deleted under it (its next COMMIT would fail): a rebuild of a
    sound index empties it in one transaction, which waits for theirs; only a file that is no index of ours is
    deleted and made again, under a lock beside it, and looked at once more once the lock is held.
    """
    if location.exists():
        reason = _distrust(location, expected)
        if reason is None and not rebuild:
            return _opened(location), None
        if reason is None:
            connection = _opened(location)
            try:
                _emptied(connection, expected)
                return connection, "asked to rebuild"
            except sqlite3.DatabaseError:
                connection.close()
                reason = "asked to rebuild"
    else:
        reason = "no index yet"
    from filelock import FileLock

    with FileLock(f"{location}.lock", timeout=_WAIT_SECONDS):
        if not rebuild and location.exists() and _distrust(location, expected) is None:
            return _opened(location), None  # made by another phase17 while this one waited
        _remove(location)
        return created(str(location), expected), reason


def _opened(location: Path) -> sqlite3.Connection:
    return sqlite3.connect(location, timeout=_WAIT_SECONDS, isolation_level=None, check_same_thread=False)


def _emptied(connection: sqlite3.Connection, expected: dict[str, str]) -> None:
    with transaction(connection):
        for table in ("tree_files", "trees", "derived", "files", "sites", "buckets", "blobs", "meta"):
            connection.execute(f"DELETE FROM {table}")
        connection.executemany("INSERT INTO meta VALUES (?, ?)", sorted(expected.items()))


def opened(upstream: Path, rebuild: bool) -> tuple[sqlite3.Connection, Path, str | None]:
    """The index of the tree at `upstream` (made anew with `rebuild`), where it is, and why it was rebuilt; in
    memory, for this run, when its place cannot be written."""
    expected = expected_meta(upstream)
    try:
        location = safe_index_location(upstream)  # (a folder linked out of its root: WriteError, never used)
        connection, reason = connect(location, expected, rebuild)
    except (sqlite3.Error, OSError):
        return empty_in_memory(upstream), Path(":memory:"), "the index folder is not writable; kept in memory"
    return connection, location, reason


def empty_in_memory(upstream: Path) -> sqlite3.Connection:
    """A new, empty index of the tree at `upstream` that lives as long as this run."""
    return created(":memory:", expected_meta(upstream))


def created(where: str, expected: dict[str, str]) -> sqlite3.Connection:
    """A new, empty index at `where` (a file, or ":memory:"), stamped with what it is made for."""
    connection = sqlite3.connect(where, timeout=_WAIT_SECONDS, isolation_level=None, check_same_thread=False)
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
        # A URI, so quoted: a folder named `C#notes` or `what?now` would cut a plain `file:` path short there.
        connection = sqlite3.connect(f"file:{quote(str(location), safe='/')}?mode=ro", uri=True, timeout=30)
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


class DamagedRowError(sqlite3.DatabaseError):
    """A row whose values no longer match its checksum: the file was changed under phase17 (SQLite's own
    integrity check does not look inside values). A DatabaseError, so the asker rebuilds the index."""


def row_check(*values: object) -> int:
    """The checksum stored with each row (its last column) and verified on every read of it: one flipped byte
    in a name or a line means "rebuild", never a wrong answer. CRC-32 finds every such flip; it is no seal
    against someone who can rewrite the file and the checksum with it (they could edit the source as well)."""
    return zlib.crc32("\0".join(map(str, values)).encode("utf-8", "surrogateescape"))


def verified(row: Sequence[Any]) -> Sequence[Any]:
    """`row` (values, then their checksum) once its checksum matches; DamagedRowError otherwise."""
    if row_check(*row[:-1]) != row[-1]:
        raise DamagedRowError(f"an index row does not match its checksum: {tuple(row[:-1])!r}")
    return row


def checked(*values: object) -> tuple[object, ...]:
    """`values` with their checksum appended, as a row is stored."""
    return (*values, row_check(*values))


@contextmanager
def transaction(connection: sqlite3.Connection) -> Iterator[None]:
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
def without_cycle_collection() -> Iterator[None]:
    """The cycle collector paused: a build makes some 60,000 row tuples and no cycle, and collecting as they came
    took a hundred passes and 35 ms of this process's CPU, while the workers need both cores."""
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


def bucket_of(name: str) -> int:
    return zlib.crc32(name.encode("utf-8", "surrogateescape")) % BUCKETS


def count_into_buckets(connection: sqlite3.Connection, added: dict[int, int]) -> None:
    """Add `added` (bucket -> new sites) to the buckets' counts, inside the caller's transaction."""
    if not added:
        return
    counts = dict(_bucket_rows(connection))
    for bucket, number in added.items():
        counts[bucket] = counts.get(bucket, 0) + number
    connection.executemany(
        "INSERT OR REPLACE INTO buckets VALUES (?, ?, ?)", [checked(*item) for item in sorted(counts.items())]
    )


def sites_of_bucket(connection: sqlite3.Connection, name: str) -> list[tuple[int, str, str, int]]:
    """(blob, qualname, name, start_line) of every site in `name`'s bucket, each verified, and the bucket whole."""
    bucket = bucket_of(name)
    rows = [
        verified(row)
        for row in connection.execute(
            'SELECT blob, qualname, name, start_line, bucket, "check" FROM sites WHERE bucket = ?', (bucket,)
        ).fetchall()
    ]
    expected = dict(_bucket_rows(connection, bucket)).get(bucket, 0)
    if len(rows) != expected:
        raise DamagedRowError(f"bucket {bucket} of the index holds {len(rows)} sites, but counted {expected}")
    return [(row[0], row[1], row[2], row[3]) for row in rows]


def _bucket_rows(connection: sqlite3.Connection, bucket: int | None = None) -> list[tuple[int, int]]:
    query = 'SELECT bucket, sites, "check" FROM buckets' + ("" if bucket is None else " WHERE bucket = ?")
    rows = connection.execute(query, () if bucket is None else (bucket,)).fetchall()
    return [(row[0], row[1]) for row in map(verified, rows)]


# ---------------------------------------------------------------- rows as read back

SITE_COLUMNS = 'sites.blob, sites.qualname, sites.name, sites.start_line, sites.bucket, sites."check"'
FILE_COLUMNS = (
    'SELECT path, size, mtime_ns, inode, checked_ns, blob, problem, ctime_ns, files."check", '
    'blobs.id, blobs.digest, blobs.sites, blobs."check" FROM files LEFT JOIN blobs ON blobs.id = files.blob'
)


def stored_file(row: Sequence[Any]) -> tuple[str, StoredFile]:
    """A files row joined with its blob's, both verified against their checksums."""
    verified(row[:9])
    if row[5] is not None:
        if row[9] is None:
            raise DamagedRowError(f"the index names content {row[5]} for {row[0]!r} but holds no such content")
        verified(row[9:])
    path, size, mtime_ns, inode, checked_ns, blob, problem, ctime_ns = row[:8]
    return path, StoredFile(size, mtime_ns, inode, checked_ns, blob, problem, row[10], ctime_ns)
