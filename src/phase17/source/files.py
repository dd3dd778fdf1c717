"""The Python files of an upstream tree as the symbol index meets them: walked with their stat keys, read with
phase17's guards, and named by content (git's blob id), so that a file is parsed once per content."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

from phase17.errors import UnreadableSourceError
from phase17.safety.files import inside, read_limited

MAX_SOURCE_BYTES = 8 * 1024 * 1024  # larger "Python" files are generated data, not reading material
# A million short lines fit in 6 MiB and cost a parse 13 s and 1.9 GB (a million definitions); the pinned tree's
# longest file has 9,174 lines, the standard library's 22,000.
MAX_SOURCE_LINES = 100_000
SKIPPED_DIRECTORIES = {".git", "__pycache__", ".mypy_cache", ".pytest_cache", "node_modules", ".tours"}


def read_source(path: Path, root: Path | None = None) -> bytes:
    """The bytes of a Python file, or an UnreadableSourceError saying why it cannot be read as one (with `root`,
    a symlink leading out of it is refused too)."""
    try:
        data = read_limited(path, MAX_SOURCE_BYTES, root=root)  # a FIFO or a device is refused before any read
    except FileNotFoundError as error:
        raise UnreadableSourceError(str(path), f"cannot read ({error.strerror})") from None
    if b"\0" in data:
        raise UnreadableSourceError(str(path), "binary content (NUL bytes), not Python source")
    if data.count(b"\n") > MAX_SOURCE_LINES:
        raise UnreadableSourceError(str(path), f"more than {MAX_SOURCE_LINES:,} lines: generated data, not read")
    return data


class SeenFile(NamedTuple):
    """A file met on the walk, with its stat key (a tuple: thousands are made on every whole-tree lookup)."""

    path: str
    size: int
    mtime_ns: int
    inode: int
    problem: str | None = None  # set for what is not a regular file inside upstream/
    digest: str | None = None  # the content's blob id, when git vouches for it (no stat key then)
    # Any change to the file's content moves its ctime, even when the size stays and the mtime is set back (`cp -p`,
    # an edit that restores the mtime): so it is in the key, as git's index keeps it.
    ctime_ns: int = 0


def walk(upstream: Path, under: str) -> Iterator[SeenFile]:
    """Every .py path below upstream/under with its stat key; symlinks out, FIFOs and devices are reported.

    Plain strings, the directory entries' own stat calls and no object per regular file: this runs on every
    whole-tree lookup, so it is kept to the system calls (a regular file is yielded as a bare stat key tuple).
    """
    top = str(upstream)
    start = os.path.join(top, under) if under else top
    if not os.path.isdir(start) or os.path.islink(start):
        if os.path.lexists(start):
            yield seen_file(upstream, under, os.stat(start, follow_symlinks=False), start)
        return
    skip = len(top) + 1
    regular = stat.S_ISREG
    native = os.sep == "/"
    stack = [start]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as listing:
                entries = list(listing)
        except OSError:
            continue
        for entry in entries:
            name = entry.name
            if name.endswith(".py"):
                try:
                    status = entry.stat(follow_symlinks=False)
                except OSError as error:
                    yield SeenFile(entry.path[skip:], 0, 0, 0, f"cannot read ({error.strerror})")
                    continue
                if regular(status.st_mode) and status.st_size <= MAX_SOURCE_BYTES and native:
                    yield SeenFile(
                        entry.path[skip:],
                        status.st_size,
                        status.st_mtime_ns,
                        status.st_ino,
                        ctime_ns=status.st_ctime_ns,
                    )
                elif stat.S_ISDIR(status.st_mode):  # a folder named like a module
                    stack.append(entry.path)
                else:
                    yield seen_file(upstream, entry.path[skip:], status, entry.path)
            elif name not in SKIPPED_DIRECTORIES and entry.is_dir(follow_symlinks=False):
                stack.append(entry.path)


def seen_file(upstream: Path, relative: str, status: os.stat_result, full: str) -> SeenFile:
    """An entry the walk does not take at face value (a link, a FIFO, a file too big, a path named directly): a
    link is followed while it stays inside upstream/, and what is not read says why."""
    relative = relative.replace(os.sep, "/")
    if stat.S_ISLNK(status.st_mode):
        try:
            target = Path(full).resolve(strict=True)
            if not inside(target, upstream) or target == upstream.resolve():
                return SeenFile(relative, 0, 0, 0, "symlink out of upstream/, not followed")
            status = target.stat()
        except (OSError, RuntimeError) as error:  # a dangling link, or a loop (RuntimeError before 3.13)
            return SeenFile(relative, 0, 0, 0, f"cannot read ({getattr(error, 'strerror', None) or error})")
    if not stat.S_ISREG(status.st_mode):
        return SeenFile(relative, 0, 0, 0, "not a regular file (a FIFO, device or folder), not read")
    if status.st_size > MAX_SOURCE_BYTES:
        return SeenFile(relative, status.st_size, 0, 0, f"larger than {MAX_SOURCE_BYTES // 1024 // 1024} MiB, not read")
    return SeenFile(relative, status.st_size, status.st_mtime_ns, status.st_ino, ctime_ns=status.st_ctime_ns)


def with_stat_key(upstream: Path, item: SeenFile) -> SeenFile:
    """A file git vouches for, with its stat key now (left without one when it cannot be stat'ed: then a walk
    reads it again, which is only slower)."""
    try:
        status = os.stat(os.path.join(upstream, item.path), follow_symlinks=False)
    except OSError:
        return item
    if not stat.S_ISREG(status.st_mode):
        return item
    return item._replace(
        size=status.st_size, mtime_ns=status.st_mtime_ns, inode=status.st_ino, ctime_ns=status.st_ctime_ns
    )


def read_or_reason(upstream: Path, relative: str) -> bytes | str:
    """The bytes of upstream/`relative`, or why it cannot be read as Python (never blocks on a FIFO swapped in
    meanwhile)."""
    try:
        return read_source(upstream / relative, root=upstream)
    except UnreadableSourceError as error:
        return error.reason


def blob_digest(data: bytes) -> str:
    """git's blob id of `data`: the same key for a file in the tree and the same content in upstream/'s history."""
    digest = hashlib.sha1(b"blob %d\0" % len(data), usedforsecurity=False)
    digest.update(data)  # (not header + data: that copies every file once more)
    return digest.hexdigest()


def in_skipped_folder(path: str) -> bool:
    """Is the file `path` (or the folder `path/`) inside a folder the walk skips (SKIPPED_DIRECTORIES)?"""
    return any(part in SKIPPED_DIRECTORIES for part in path.split("/")[:-1])


def below(path: str, under: Sequence[str]) -> bool:
    """Is `path` one of the places in `under`, or inside one ("" is the whole tree)?"""
    return any(place == "" or path == place or path.startswith(place.rstrip("/") + "/") for place in under)
