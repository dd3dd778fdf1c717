"""The one place that opens the files phase17 reads and writes in annotations/, notebooks/ and upstream/.

A cloned notes repository or a downloaded tree can hold anything under a file's name: a symlink to a file
outside the project, a FIFO that blocks every reader, /dev/zero that never ends. So every read here refuses
symlinks that leave their folder's root, anything that is not a regular file, and files over the limit, all
checked on the opened descriptor before a byte is read, and then reads at most the limit. Every write of a
side file (a backup, a cache, a draft) goes through a temporary file renamed over the name, which replaces
a planted symlink instead of writing through it.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from phase17.errors import UnreadableSourceError, WriteError


def read_limited(path: Path, limit: int, *, root: Path | None = None) -> bytes:
    """The bytes of a regular file of at most `limit` bytes, under `root` once symlinks are followed.

    Raises UnreadableSourceError(path, reason) for a link out of `root`, a FIFO or device, a file too large,
    or one that cannot be opened (FileNotFoundError is raised as is, for callers that treat it apart).
    """
    shown = str(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    # With a root, a symlink is refused by the open itself (one system call less than asking first, for every
    # file of a tree), then followed only if it stays inside the root.
    no_follow = getattr(os, "O_NOFOLLOW", 0) if root is not None else 0
    if root is not None and not no_follow and path.is_symlink():  # no O_NOFOLLOW on this system: ask first
        path = _link_inside(path, root)
    try:
        try:
            descriptor = os.open(path, flags | no_follow)
        except OSError:
            if not (no_follow and root is not None and os.path.islink(path)):
                raise
            descriptor = os.open(_link_inside(path, root), flags)
    except FileNotFoundError:
        raise
    except OSError as error:
        raise UnreadableSourceError(shown, f"cannot read ({error.strerror})") from None
    try:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            raise UnreadableSourceError(shown, "not a regular file (a FIFO, device or folder), not read")
        if status.st_size > limit:
            raise UnreadableSourceError(shown, f"larger than {_size(limit)}, not read")
        chunks, total = [], 0
        # The first read asks for the whole file and one byte more (a 1 MiB buffer for a 2 KiB file costs more than
        # the read); a file that grew is read on, up to the limit.
        want = min(status.st_size + 1, limit + 1)
        while chunk := os.read(descriptor, want):
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:  # it grew while being read
                raise UnreadableSourceError(shown, f"larger than {_size(limit)}, not read")
            if total == status.st_size and len(chunk) < want:
                break  # all of it, and the read stopped short of the extra byte: the end (one read less per file)
            want = min(1 << 20, limit + 1 - total)
    except OSError as error:
        raise UnreadableSourceError(shown, f"cannot read ({error.strerror})") from None
    finally:
        os.close(descriptor)
    return b"".join(chunks)


def file_sha256(path: Path) -> str:
    """The sha256 of a file read in blocks: an archive of gigabytes never sits in memory."""
    import hashlib

    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def inside(target: Path, root: Path) -> bool:
    """Does `target`, a resolved path (links and `..` followed), lie in `root` or is it `root`? The one test of
    "inside the tree" every reader and writer of upstream/ and the project's folders uses."""
    top = root.resolve()
    return target == top or target.is_relative_to(top)


def _link_inside(link: Path, root: Path) -> Path:
    """Where the symlink `link` leads, when that is inside `root`; else UnreadableSourceError."""
    try:
        target = link.resolve(strict=True)
    except FileNotFoundError:
        raise
    except (OSError, RuntimeError):
        raise UnreadableSourceError(str(link), "a symlink loop, not followed") from None
    if not inside(target, root):
        raise UnreadableSourceError(str(link), f"a symlink out of {root.name}/, not followed")
    return target


def _size(limit: int) -> str:
    return f"{limit // 1024 // 1024} MiB" if limit >= 1024 * 1024 else f"{limit} bytes"


def safe_folder(folder: Path, root: Path) -> Path:
    """`folder`, made if missing, once checked that no part of it below `root` is a symlink leading out of
    `root` (a planted `.git/phase17 -> /elsewhere` would have every write land there).

    Raises WriteError for such a link, OSError when the folder cannot be made (callers that can do without it,
    a cache, go on). `root` itself may be a link (a cache folder the reader moved): only what is below is checked.
    """
    try:
        relative = folder.relative_to(root)
    except ValueError:
        raise WriteError(f"{folder} is not inside {root}; phase17 writes nothing there.") from None
    root.mkdir(parents=True, exist_ok=True)  # (the root is trusted as it is: the project, a checkout, the cache)
    real_root = os.path.realpath(root)
    current = root
    for part in relative.parts:
        current = current / part
        try:
            os.mkdir(current)
            continue
        except FileExistsError:
            status = os.lstat(current)
        if stat.S_ISLNK(status.st_mode):
            target = os.path.realpath(current)
            if os.path.commonpath([real_root, target]) != real_root:
                raise WriteError(
                    f"{current} is a symlink to {target}, outside {root}; phase17 writes nothing through it. "
                    "Remove the link (it is made again as a folder)."
                )
        elif not stat.S_ISDIR(status.st_mode):
            raise NotADirectoryError(errno.ENOTDIR, "not a folder", str(current))
    return folder


def replace_with_copy(source: Path, destination: Path, limit: int) -> None:
    """Copy `source` to `destination` through a temporary file renamed over it (a symlink there is replaced)."""
    write_bytes_atomically(destination, read_limited(source, limit, root=source.parent))


def refuse_odd_file(path: Path, what: str) -> None:
    """Raise OSError-like UnreadableSourceError when `path` exists as a symlink or anything but a regular file."""
    try:
        status = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(status.st_mode):
        raise UnreadableSourceError(str(path), f"{what} is a symlink; remove it (phase17 never follows it)")
    if not stat.S_ISREG(status.st_mode):
        raise UnreadableSourceError(str(path), f"{what} is not a regular file; remove it")


def write_text_atomically(path: Path, text: str) -> None:
    """Write through a temp file in the same folder, fsync, then rename: a reader sees old or new, never half.

    Raises OSError (disk full, read-only, permission) with the old file untouched. A symlink at `path` is
    replaced by the new file, never written through.
    """
    write_bytes_atomically(path, text.encode("utf-8"))


def write_bytes_atomically(path: Path, data: bytes) -> None:
    """write_text_atomically for bytes."""
    import tempfile  # (here: it loads shutil and random, which no read needs)

    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        mode = path.lstat().st_mode & 0o777 if path.exists() and not path.is_symlink() else 0o644
        os.chmod(temp_name, mode)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)


def _fsync_folder(folder: Path) -> None:
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass  # Some filesystems refuse fsync on folders; the rename is still atomic.
    finally:
        os.close(descriptor)
