"""The user cache folder: what phase17 keeps between runs and can always rebuild (sdists, schema verdicts), and
the digest of phase17's own code that every kept answer is stamped with."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path


def cache_root() -> Path:
    """Where phase17 keeps what it can rebuild; PHASE17_CACHE_DIR overrides the user cache folder."""
    return Path(cache_folder())


def cache_folder() -> str:
    """cache_root as a plain path (for `phase17 --help`'s kept text, read before pathlib is imported)."""
    override = os.environ.get("PHASE17_CACHE_DIR")
    if override:
        return os.path.expanduser(override)
    import platformdirs

    return platformdirs.user_cache_dir("phase17")


@cache
def code_digest() -> str:
    """One digest of phase17's own code, every .py, .scm and .yaml file of the installed package, read once a
    process: an answer kept in a cache and stamped with it is never read by code other than the code that computed
    it, whichever module changed (no hand-kept list of the modules an answer depends on can miss one)."""
    import hashlib

    package = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*")):
        if path.suffix in (".py", ".scm", ".yaml") and "__pycache__" not in path.parts and path.is_file():
            digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def prune(folder: Path, keep: int = 2000) -> None:
    """Beyond `keep` entries in `folder` (kept answers, one file each), drop the oldest half."""
    entries = list(os.scandir(folder))
    if len(entries) <= keep:
        return
    entries.sort(key=lambda entry: entry.stat().st_mtime_ns)
    for entry in entries[: len(entries) // 2]:
        Path(entry.path).unlink(missing_ok=True)
