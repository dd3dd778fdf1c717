"""The user cache folder: what phase17 keeps between runs and can always rebuild (sdists, schema verdicts), and
the digest of phase17's own code that every kept answer is stamped with."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from phase17.errors import FetchError
from phase17.progress import ProgressReporter

FILLING_TIMEOUT_SECONDS = 1800  # a release fetched over a slow link: a download, an extraction and a commit


def cache_root() -> Path:
    """Where phase17 keeps what it can rebuild; PHASE17_CACHE_DIR overrides the user cache folder."""
    override = os.environ.get("PHASE17_CACHE_DIR")
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("phase17"))


@cache
def code_digest(*names: str) -> str:
    """A hash of the package files `names`, paths under phase17/ (`instruments/usages.py`), a folder ending in `/`
    standing for every file below it (`source/`): an answer kept in a cache and stamped with it is stale, never
    read, once that code changes. A folder keeps the stamp whole when its modules are split or added."""
    from importlib.resources import files  # not at start-up: `--help` never needs it

    digest = hashlib.sha256()
    for name in names:
        part = files("phase17").joinpath(*name.strip("/").split("/"))
        for path in _files_below(Path(str(part))) if name.endswith("/") else [Path(str(part))]:
            digest.update(path.as_posix().rsplit("/phase17/", 1)[-1].encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _files_below(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise FileNotFoundError(folder)  # a stamp naming a folder that moved is a packaging bug
    return sorted(path for path in folder.rglob("*") if path.suffix in (".py", ".scm") and path.is_file())


def prune(folder: Path, keep: int = 2000) -> None:
    """Beyond `keep` entries in `folder` (kept answers, one file each), drop the oldest half."""
    entries = list(os.scandir(folder))
    if len(entries) <= keep:
        return
    entries.sort(key=lambda entry: entry.stat().st_mtime_ns)
    for entry in entries[: len(entries) // 2]:
        Path(entry.path).unlink(missing_ok=True)


@contextmanager
def filling(entry: Path, what: str, reporter: ProgressReporter) -> Iterator[None]:
    """Hold `entry`.lock while one cache entry (a release tree, an unpacked plugin, a download) is made or checked:
    a second phase17 process waits for the first, then finds the entry whole, never half-made."""
    from filelock import FileLock, Timeout

    lock = FileLock(f"{entry}.lock", timeout=FILLING_TIMEOUT_SECONDS)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        reporter.notice(f"Another phase17 process is fetching {what}; waiting for it to finish.")
        try:
            lock.acquire()
        except Timeout:
            raise FetchError(
                f"another phase17 process has been fetching {what} for {FILLING_TIMEOUT_SECONDS // 60} minutes; "
                "try again when it ends."
            ) from None
    try:
        yield
    finally:
        lock.release()


def file_sha256(path: Path) -> str:
    """The sha256 of a file read in blocks: an archive of gigabytes never sits in memory."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
