"""Locks that keep two phase17 processes from making one cache entry at once (a release tree, an unpacked plugin, a
download): the second waits for the first, then finds the entry whole, never half-made. The lock files live apart,
in the cache's locks/ folder, so a folder of entries holds nothing else."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from phase17.errors import FetchError
from phase17.progress import ProgressReporter
from phase17.safety.files import safe_folder

FILLING_TIMEOUT_SECONDS = 1800  # a release fetched over a slow link: a download, an extraction and a commit


@contextmanager
def filling(cache: Path, entry: Path, what: str, reporter: ProgressReporter) -> Iterator[None]:
    """Hold the lock of `entry` (a path inside `cache`) while it is made or checked; say so when waiting."""
    from filelock import FileLock, Timeout

    name = entry.relative_to(cache).as_posix() if entry.is_relative_to(cache) else str(entry)
    locks = safe_folder(cache / "locks", cache)
    lock = FileLock(
        str(locks / f"{hashlib.sha256(name.encode()).hexdigest()[:24]}.lock"), timeout=FILLING_TIMEOUT_SECONDS
    )
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
