"""An out-of-tree plugin as phase17 reads it, never installed, imported or run: a source folder, a wheel or sdist
file, NAME==VERSION or NAME (its newest release) from the package index, downloaded with its sha256 checked into
the cache; its text files read once, bounded; and the entry points its metadata declares.

An archive is hostile input: it is unpacked by safety.archives (nothing lands outside its folder), under a lock so
that two phase17 processes never use a half-unpacked plugin. A folder's links are followed only inside it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from phase17.errors import UnreadableSourceError, UsageError
from phase17.pluginlab.findings import EntryPoint
from phase17.progress import ProgressReporter, SilentReporter
from phase17.safety.archives import Bounds, unpack_zip
from phase17.safety.files import file_sha256, inside, read_limited, safe_folder, write_text_atomically
from phase17.safety.locks import filling
from phase17.safety.text import clipped
from phase17.source.metadata import declared_name, entry_point_rows, metadata_files

PLATFORM_GROUP = "vllm.platform_plugins"
MAX_ARCHIVE_MEMBERS = 20_000
MAX_ARCHIVE_BYTES = 512 * 1024 * 1024  # an archive, and what it unpacks to
MAX_FILE_BYTES = 8 * 1024 * 1024  # one source file; a larger one is skipped with a line saying so
MAX_FILES = 20_000
MAX_READ_BYTES = 256 * 1024 * 1024  # all the text files read of one plugin
READ_SUFFIXES = (".py", ".toml", ".cfg", ".txt")
_SKIPPED_FOLDERS = frozenset({".git", "__pycache__", "node_modules", ".tox", ".venv", "venv", ".mypy_cache"})
_LAYOUT = "files"  # how an unpacked plugin is laid out in the cache: its files below files/
_REQUIREMENT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:==([A-Za-z0-9.+!_-]+))?$")


class PluginError(UsageError):
    """A plugin that cannot be read as one: no entry point, nothing named where the entry point says."""


@dataclass
class PluginFiles:
    """The plugin's text files as read, once: what every later step reads, and what its kept answer is keyed on."""

    files: dict[str, bytes] = field(default_factory=dict)  # relative posix path -> bytes
    skipped: list[str] = field(default_factory=list)  # "path: why", for the report

    def digest(self) -> str:
        digest = hashlib.sha256()
        for path in sorted(self.files):
            digest.update(path.encode() + b"\0" + hashlib.sha256(self.files[path]).digest())
        return digest.hexdigest()

    def get(self, path: str) -> bytes | None:
        return self.files.get(path)

    def package_roots(self) -> list[str]:
        """Where top-level packages may sit: the folder, src/, and a wheel's NAME-VER.data/purelib and platlib."""
        roots = {""}
        for path in self.files:
            parts = path.split("/")
            if parts[0] == "src" and len(parts) > 2:
                roots.add("src/")
            if len(parts) > 3 and parts[0].endswith(".data") and parts[1] in ("purelib", "platlib"):
                roots.add(f"{parts[0]}/{parts[1]}/")
        return sorted(roots)

    def module_path(self, module: str) -> str | None:
        """The file of the plugin's module `a.b`: a/b.py or a/b/__init__.py below any package root."""
        if not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", module):
            return None
        relative = module.replace(".", "/")
        for root in self.package_roots():
            for candidate in (f"{root}{relative}.py", f"{root}{relative}/__init__.py"):
                if candidate in self.files:
                    return candidate
        return None

    def is_package(self, module: str) -> bool:
        """A folder of the plugin by that dotted name (a namespace package needs no __init__.py)."""
        prefix = module.replace(".", "/") + "/"
        return any(path.startswith(f"{root}{prefix}") for root in self.package_roots() for path in self.files)


@dataclass(frozen=True)
class PluginTree:
    root: Path  # the folder holding the plugin's code
    name: str
    version: str | None
    shown: str  # how the reader named it: errors name this, never a cache folder
    files: PluginFiles


def open_plugin(
    spec: str, cache: Path, reporter: ProgressReporter | None = None, index_url: str | None = None
) -> PluginTree:
    """The plugin `spec` names: a folder, a .whl / .zip / .tar.gz file, NAME==VERSION, or NAME (its newest
    release), read into memory once."""
    reporter = reporter or SilentReporter()
    path = Path(spec).expanduser()
    if path.is_dir():
        files = read_plugin_files(path)
        return PluginTree(path.resolve(), *declared_name(files.get("pyproject.toml"), path.resolve().name), spec, files)
    if path.is_file():
        root, name, version = _unpacked(path, cache, reporter)
        return PluginTree(root, name, version, spec, read_plugin_files(root))
    wanted = _REQUIREMENT.match(spec)
    if wanted is None or "/" in spec or spec.endswith((".whl", ".gz", ".zip")):
        raise PluginError(
            f"{clipped(spec)!r} is no plugin folder or archive here, nor NAME or NAME==VERSION; give a path, a .whl "
            "or .tar.gz file, or a release such as vllm-spyre==1.10.0."
        )
    name, version = wanted[1], wanted[2]
    archive, version = _downloaded(name, version, cache, reporter, index_url)
    root, _, _ = _unpacked(archive, cache, reporter)
    return PluginTree(root, name, version, f"{name}=={version}", read_plugin_files(root))


def _downloaded(
    name: str, version: str | None, cache: Path, reporter: ProgressReporter, index_url: str | None
) -> tuple[Path, str]:
    """The release's archive, from the cache when a download of it was verified before, else from the index."""
    from phase17.upstream.download import download_release, newest_version

    folder = safe_folder(cache / "plugins" / "downloads", cache)
    if version is None:
        version = newest_version(name, index_url, project_hint="check the plugin's name")
    record = folder / f"{re.sub(r'[^A-Za-z0-9._-]', '_', name)}=={version}.json"
    with filling(cache, record, f"{name}=={version}", reporter):
        try:
            kept = json.loads(read_limited(record, 4096, root=folder))
            archive = folder / Path(kept["file"]).name
            if file_sha256(archive) == kept["sha256"]:
                return archive, version
        except (OSError, ValueError, KeyError, TypeError, UnreadableSourceError):
            pass  # not downloaded yet, or changed since: download it
        archive, digest = download_release(
            name,
            version,
            folder,
            reporter,
            index_url,
            package_types=("wheel", "sdist"),
            project_hint="check the plugin's name",
            version_hint="check the version on the command line",
        )
        write_text_atomically(record, json.dumps({"file": archive.name, "sha256": digest}))
    return archive, version


def _unpacked(archive: Path, cache: Path, reporter: ProgressReporter) -> tuple[Path, str, str | None]:
    """The archive unpacked into the cache once (safety.archives), under a lock: a second phase17 process waits,
    then finds it whole; a half-unpacked folder is never used or left behind."""
    size = archive.stat().st_size
    if size > MAX_ARCHIVE_BYTES:
        raise PluginError(f"{archive}: {size >> 20} MiB, more than a plugin's {MAX_ARCHIVE_BYTES >> 20} MiB; refused.")
    digest = file_sha256(archive)[:20]
    name, version = _name_and_version(archive.name)
    folder = safe_folder(cache / "plugins", cache)
    target = folder / f"{digest}-{_LAYOUT}"
    with filling(cache, target, archive.name, reporter):
        if not (target / ".complete").is_file():
            building = Path(tempfile.mkdtemp(prefix=f".{digest}.", dir=folder))
            try:
                _unpack(archive, building, reporter)
                (building / ".complete").write_text("", encoding="ascii")  # written last: a whole folder
                shutil.rmtree(target, ignore_errors=True)
                building.rename(target)
            finally:
                shutil.rmtree(building, ignore_errors=True)
    return target / "files", name, version


def _unpack(archive: Path, building: Path, reporter: ProgressReporter) -> None:
    """Unpack into `building`/files: a wheel as it is, an sdist without its top folder (name-version/)."""
    (building / "files").mkdir()
    if archive.name.endswith((".whl", ".zip")):
        unpack_zip(archive, building / "files", Bounds(MAX_ARCHIVE_MEMBERS, MAX_ARCHIVE_BYTES))
    elif archive.name.endswith((".tar.gz", ".tgz")):
        from phase17.upstream.sdist import extract_safely

        extract_safely(archive, building / "files", reporter)
    else:
        raise PluginError(f"{archive.name}: not a wheel, zip or sdist (.whl, .zip, .tar.gz); give one.")


def _name_and_version(filename: str) -> tuple[str, str | None]:
    stem = re.sub(r"(\.tar\.gz|\.tgz|\.tar|\.whl|\.zip)$", "", filename)
    parts = stem.split("-")
    return (parts[0], parts[1]) if len(parts) >= 2 else (stem, None)


# ---------------------------------------------------------------- the plugin's files, read once


def read_plugin_files(root: Path) -> PluginFiles:
    """Every text file of the plugin (.py, .toml, .cfg, .txt) read once: links followed only while they stay in
    the folder, and each file, the count of files and their total bounded; what is left out is listed."""
    found = PluginFiles()
    total = 0
    real_root = Path(os.path.realpath(root))
    for relative, path in _walk(root, real_root, found.skipped):
        if len(found.files) >= MAX_FILES:
            found.skipped.append(f"{relative}: more than {MAX_FILES} files in the plugin; the rest not read")
            break
        try:
            data = read_limited(path, MAX_FILE_BYTES, root=root)
        except FileNotFoundError:
            continue
        except UnreadableSourceError as error:
            found.skipped.append(f"{relative}: {error.reason}")
            continue
        total += len(data)
        if total > MAX_READ_BYTES:
            found.skipped.append(f"{relative}: the plugin's files pass {MAX_READ_BYTES >> 20} MiB; the rest not read")
            break
        found.files[relative] = data
    return found


def _walk(root: Path, real_root: Path, skipped: list[str]) -> Iterator[tuple[str, Path]]:
    """(relative path, path) of each file to read, in a stable order; a folder linked from outside the plugin, or
    entered twice through links, is not walked."""
    stack: list[tuple[str, Path]] = [("", root)]
    seen: set[str] = set()
    while stack:
        prefix, folder = stack.pop()
        real = os.path.realpath(folder)
        if real in seen:
            continue
        seen.add(real)
        try:
            entries = sorted(os.scandir(folder), key=lambda entry: entry.name, reverse=True)
        except OSError as error:
            skipped.append(f"{prefix or '.'}: cannot be listed ({error.strerror})")
            continue
        for entry in entries:
            relative = f"{prefix}{entry.name}"
            try:
                mode = entry.stat(follow_symlinks=False).st_mode
            except OSError:
                continue
            if stat.S_ISLNK(mode):
                target = Path(os.path.realpath(entry.path))
                if not inside(target, real_root):
                    skipped.append(f"{relative}: a link out of the plugin's folder, not followed")
                    continue
                mode = target.stat().st_mode if target.exists() else 0
            if stat.S_ISDIR(mode) and entry.name not in _SKIPPED_FOLDERS:
                stack.append((f"{relative}/", Path(entry.path)))
            elif stat.S_ISREG(mode) and entry.name.endswith(READ_SUFFIXES):
                yield str(PurePosixPath(relative)), Path(entry.path)


def entry_points(files: PluginFiles) -> tuple[list[EntryPoint], list[str]]:
    """Every entry point the plugin declares, from whichever of its metadata files it has, and each file that could
    not be read ("path: why")."""
    found: list[EntryPoint] = []
    unread: list[str] = []
    for path in metadata_files(files.files):
        try:
            rows = entry_point_rows(path, files.files[path])
        except UnreadableSourceError as error:
            unread.append(f"{path}: {error.reason}")
            continue
        found += [EntryPoint(group, name, value, path, line) for group, name, value, line in rows]
    unique = {(item.group, item.name, item.value): item for item in reversed(found)}  # the first declaration wins
    return list(reversed(unique.values())), unread
