"""Archives (an sdist, a wheel) unpacked so that nothing can land outside their folder, on any Python.

No path is ever resolved: each member's name is checked as text (plain parts, no `..`, nothing absolute), each
folder on the way is opened relative to its parent's descriptor without following a link, and each file is created
new (O_EXCL | O_NOFOLLOW). So no link, planted or unpacked, is followed while writing, however long a chain of them
resolves to (CVE-2025-4517: `os.path.realpath` gives up past PATH_MAX, the kernel does not). A link is kept only when
it names a regular file beside it; hard links, devices, FIFOs and links anywhere else are refused before a byte is
written, as are archives past their bounds (members, unpacked bytes).
"""

from __future__ import annotations

import errno
import os
import re
import stat
import tarfile
import zipfile
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import IO, Literal

from phase17.errors import ArchiveError
from phase17.safety.text import clipped

MemberKind = Literal["file", "folder", "link"]

_FOLDER_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0)
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
_DRIVE = re.compile(r"^[A-Za-z]:")
_OPEN_FOLDERS = 32  # descriptors kept open for the folders written into most recently


@dataclass(frozen=True)
class Bounds:
    """What one archive may hold: members, and bytes once unpacked (declared sizes, checked before writing)."""

    members: int
    unpacked_bytes: int


@dataclass(frozen=True)
class Member:
    """One entry of an archive as phase17 writes it: its parts below the folder, its kind, its size."""

    name: str  # as the archive spells it (for messages)
    parts: tuple[str, ...]
    kind: MemberKind
    size: int = 0
    link: str = ""  # a link's target: one plain name, a file beside it
    mode: int = 0o644


def quoted_name(name: str) -> str:
    """A member's name as a message shows it: quoted, one line, and clipped (a name may be thousands long)."""
    return repr(clipped(name, 100))


def refused(shown: str, name: str, why: str) -> ArchiveError:
    """The one-line refusal of a member: the archive, the member's name (quoted, clipped), why."""
    return ArchiveError(f"{shown}: member {quoted_name(name)} {why}; refused.")


def member_parts(name: str, shown: str) -> tuple[str, ...]:
    """The plain parts of a member's name ("." parts dropped); anything that could name a place outside, in one
    line: an empty name, an absolute path, a drive, a backslash, a `..`, a NUL or a line break."""
    if not name or not name.strip("/"):
        raise ArchiveError(f"{shown}: a member with an empty name; refused.")
    if "\0" in name or "\n" in name or "\r" in name:
        raise refused(shown, name, "has a control character in its name")
    if name.startswith(("/", "\\")) or _DRIVE.match(name) or "\\" in name:
        raise refused(shown, name, "is an absolute or Windows path")
    parts = tuple(part for part in name.split("/") if part not in ("", "."))
    if ".." in parts:
        raise refused(shown, name, "has '..' and would leave its folder")
    return parts


def link_target(member: str, target: str, shown: str) -> str:
    """A link's target when it is one plain name (a file beside the link); else a one-line refusal."""
    if not target or "/" in target or "\\" in target or target in (".", "..") or "\0" in target:
        why = f"is a link to {quoted_name(target)}; an archive phase17 unpacks may link only to a file beside the link"
        raise refused(shown, member, why)
    return target


class FolderWriter:
    """Writes members below one folder through descriptors, never through a path that a link could redirect."""

    def __init__(self, root: Path, shown: str) -> None:
        if os.open not in os.supports_dir_fd or not getattr(os, "O_NOFOLLOW", 0):
            raise ArchiveError(f"{shown}: this system cannot open files relative to a folder; nothing unpacked.")
        self._shown = shown
        self._root = os.open(root, _FOLDER_FLAGS)
        self._folders: OrderedDict[tuple[str, ...], int] = OrderedDict()
        self._links: list[Member] = []

    def __enter__(self) -> FolderWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        for descriptor in self._folders.values():
            os.close(descriptor)
        self._folders.clear()
        os.close(self._root)

    def write(self, member: Member, source: Callable[[], IO[bytes] | None]) -> None:
        if member.kind == "folder":
            self._folder(member.parts, member.name)
        elif member.kind == "link":
            self._links.append(member)  # made last, once the file it names is there
        else:
            parent = self._folder(member.parts[:-1], member.name)
            try:
                mode = 0o755 if member.mode & 0o100 else 0o644
                descriptor = os.open(member.parts[-1], _FILE_FLAGS, mode, dir_fd=parent)
            except FileExistsError:
                raise refused(self._shown, member.name, "is there twice") from None
            except OSError as error:
                raise self._blocked(member.name, error) from None
            with os.fdopen(descriptor, "wb") as sink:
                stream = source()
                if stream is not None:
                    with stream:
                        _copy_at_most(stream, sink, member.size, member.name, self._shown)

    def finish(self) -> None:
        """Make the links, each only if the name it gives is a regular file beside it."""
        for member in self._links:
            parent = self._folder(member.parts[:-1], member.name)
            try:
                target = os.stat(member.link, dir_fd=parent, follow_symlinks=False)
            except OSError:
                target = None
            if target is None or not stat.S_ISREG(target.st_mode):
                raise refused(
                    self._shown, member.name, f"links to {quoted_name(member.link)}, which is no file beside it"
                )
            try:
                os.symlink(member.link, member.parts[-1], dir_fd=parent)
            except FileExistsError:
                raise refused(self._shown, member.name, "is there twice") from None

    def _folder(self, parts: tuple[str, ...], name: str) -> int:
        if not parts:
            return self._root
        known = self._folders.get(parts)
        if known is not None:
            self._folders.move_to_end(parts)
            return known
        parent = self._folder(parts[:-1], name)
        try:
            os.mkdir(parts[-1], 0o755, dir_fd=parent)
        except FileExistsError:
            pass
        except OSError as error:
            raise self._blocked(name, error) from None
        try:
            descriptor = os.open(parts[-1], _FOLDER_FLAGS, dir_fd=parent)
        except OSError as error:
            raise self._blocked(name, error) from None
        self._folders[parts] = descriptor
        if len(self._folders) > _OPEN_FOLDERS:
            os.close(self._folders.popitem(last=False)[1])
        return descriptor

    def _blocked(self, name: str, error: OSError) -> Exception:
        if error.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
            return refused(self._shown, name, "would be written through a link")
        if error.errno == errno.EEXIST:
            return refused(self._shown, name, "is there twice")
        return error  # the disk is full, or the folder read-only: an OSError the command reports as such


def _copy_at_most(stream: IO[bytes], sink: IO[bytes], size: int, name: str, shown: str) -> None:
    copied = 0
    while block := stream.read(1 << 20):
        copied += len(block)
        if copied > size:
            raise refused(shown, name, f"holds more than the {size} bytes it declares")
        sink.write(block)


# ---------------------------------------------------------------- the two kinds of archive


def tar_members(tar: tarfile.TarFile, shown: str) -> Iterator[tuple[Member, tarfile.TarInfo]]:
    """A tar's members as they stream by, each checked: plain files, folders, and links to a file beside them."""
    for info in tar:
        parts = member_parts(info.name, shown)
        if info.isdir():
            yield Member(info.name, parts, "folder"), info
        elif info.isreg():
            yield Member(info.name, parts, "file", max(info.size, 0), mode=info.mode), info
        elif info.issym():
            yield Member(info.name, parts, "link", link=link_target(info.name, info.linkname, shown)), info
        elif info.islnk():
            raise refused(shown, info.name, "is a hard link")
        else:
            raise refused(shown, info.name, "is a device, FIFO or other special file")


def zip_members(bundle: zipfile.ZipFile, shown: str) -> list[tuple[Member, zipfile.ZipInfo]]:
    """A zip's (a wheel's) members, each checked: plain files and folders only (a wheel holds no links)."""
    members = []
    for info in bundle.infolist():
        parts = member_parts(info.filename, shown)
        kind = stat.S_IFMT(info.external_attr >> 16)
        if kind not in (0, stat.S_IFREG, stat.S_IFDIR):  # (0: a zip that records no type)
            raise refused(shown, info.filename, "is a link or device")
        folder = info.filename.endswith("/") or kind == stat.S_IFDIR
        mode = (info.external_attr >> 16) & 0o777
        members.append((Member(info.filename, parts, "folder" if folder else "file", info.file_size, mode=mode), info))
    return members


def unpack_zip(archive: Path, target: Path, bounds: Bounds) -> None:
    """A wheel or zip into the existing folder `target`, every member checked before any is written."""
    shown = archive.name
    try:
        with zipfile.ZipFile(archive) as bundle:
            members = zip_members(bundle, shown)
            _check_bounds(len(members), sum(member.size for member, _ in members), bounds, shown)
            with FolderWriter(target, shown) as writer:
                for member, info in members:
                    writer.write(member, partial(bundle.open, info))
                writer.finish()
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as error:
        raise ArchiveError(f"{shown}: not a readable zip ({error}); refused.") from None


def _check_bounds(count: int, total: int, bounds: Bounds, shown: str) -> None:
    if count > bounds.members:
        raise ArchiveError(f"{shown}: {count} members, more than {bounds.members}; refused.")
    if total > bounds.unpacked_bytes:
        raise ArchiveError(f"{shown}: unpacks to more than {bounds.unpacked_bytes >> 20} MiB; refused.")
