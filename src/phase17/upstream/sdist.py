"""The PyPI source distribution as a second, verifiable source of the pinned tree: listed and downloaded with its
sha256 checked (pypi-simple), extracted safely, and its recorded commit read with `ast`, never by text search.
"""

from __future__ import annotations

import ast
import re
import tarfile
import zlib
from dataclasses import replace
from functools import partial
from pathlib import Path, PurePosixPath
from typing import TypeVar

from phase17.errors import ArchiveError, FetchError
from phase17.progress import ProgressReporter, SilentReporter
from phase17.safety.archives import FolderWriter, Member, refused, tar_members
from phase17.safety.files import file_sha256, safe_folder
from phase17.safety.locks import filling
from phase17.upstream.checkout import same_commit
from phase17.upstream.download import download_release
from phase17.upstream.pin import Pin

T = TypeVar("T")

MAX_VERSION_FILE_BYTES = 64 * 1024


def sdist_cache_dir(cache_root: Path) -> Path:
    return cache_root / "sdists"


# Where a bad version or name came from, said in the error: the pin file, or `phase17 pin VERSION`'s argument.
PIN_FILE_HINTS = ("check pypi.distribution in UPSTREAM_PIN.md", "check pypi.version in UPSTREAM_PIN.md")
COMMAND_LINE_HINTS = (
    "check pypi.distribution in UPSTREAM_PIN.md",
    "check the version given to `phase17 pin` (the package index has no such release)",
)


def cached_or_downloaded_sdist(
    pin: Pin,
    cache_dir: Path,
    reporter: ProgressReporter,
    index_url: str | None,
    verify: bool = True,
    hints: tuple[str, str] = PIN_FILE_HINTS,
) -> tuple[Path, str, bool]:
    """(archive, sha256, downloaded): the cached sdist while its recorded sha256 still matches, else a download."""
    folder = safe_folder(sdist_cache_dir(cache_dir), cache_dir)
    names = _sdist_names(pin)
    with filling(cache_dir, folder / names[0], names[0], reporter):  # another process downloading it: wait, then use it
        for candidate in names:
            for stale in folder.glob(f".{candidate}.part-*"):
                stale.unlink(missing_ok=True)  # left by a killed download (a live one holds the lock)
            cached = folder / candidate
            recorded = folder / f"{candidate}.sha256"
            if cached.is_file() and recorded.is_file():
                expected = recorded.read_text(encoding="ascii").strip()
                if file_sha256(cached) == expected:
                    return cached, expected, False
                cached.unlink()  # corrupted since it was verified: fetch it again
        path, digest = _download(pin, folder, reporter, index_url, verify, hints)
    return path, digest, True


def forget_cached(archive: Path) -> None:
    """Drop a cached archive and its recorded digest."""
    archive.unlink(missing_ok=True)
    archive.with_name(f"{archive.name}.sha256").unlink(missing_ok=True)


def _sdist_names(pin: Pin) -> list[str]:
    stem = re.sub(r"[-_.]+", "_", pin.pypi_distribution).lower()
    return [f"{stem}-{pin.pypi_version}.tar.gz", f"{pin.pypi_distribution}-{pin.pypi_version}.tar.gz"]


def _download(
    pin: Pin, folder: Path, reporter: ProgressReporter, index_url: str | None, verify: bool, hints: tuple[str, str]
) -> tuple[Path, str]:
    return download_release(
        pin.pypi_distribution,
        pin.pypi_version,
        folder,
        reporter,
        index_url,
        verify=verify,
        project_hint=hints[0],
        version_hint=hints[1],
    )


# ---------------------------------------------------------------- extraction


MAX_EXTRACTED_BYTES = 1024**3  # the pinned sdist unpacks to 98 MB: ten times that is still no sdist
MAX_MEMBERS = 100_000  # it holds 5,312 files
MAX_RATIO = 50  # extracted bytes per archive byte; it is 2.7 (a gzip bomb is in the thousands)


def extract_safely(archive: Path, target: Path, reporter: ProgressReporter) -> None:
    """Extract the sdist's single top folder into `target` (safety.archives: nothing written can land outside it),
    stopping as soon as the entries read so far pass the size, count or compression-ratio limits (before the entry
    that passes them is written: a gzip bomb is refused at its header, not after filling the disk)."""
    limit = min(MAX_EXTRACTED_BYTES, max(archive.stat().st_size, 1) * MAX_RATIO)
    total = count = 0
    top: str | None = None
    shown = archive.name
    try:
        with tarfile.open(archive, "r:gz") as tar, FolderWriter(target, shown) as writer:
            reporter.start(f"extract {shown}", None)
            try:
                for member, info in tar_members(tar, shown):
                    count, total = count + 1, total + member.size
                    _within_limits(count, total, limit, shown)
                    top = top or member.parts[0]
                    below = _below_top(member, top, shown)
                    if below.parts:
                        writer.write(below, partial(tar.extractfile, info))
                    reporter.advance(1)
                writer.finish()
            finally:
                reporter.finish()
    except (tarfile.TarError, EOFError, zlib.error) as error:
        raise ArchiveError(f"{shown}: cannot read the archive ({error}).") from None
    if top is None:
        raise ArchiveError(f"{shown}: the archive is empty; not an sdist phase17 can use.")


def _within_limits(count: int, total: int, limit: int, shown: str) -> None:
    if count > MAX_MEMBERS:
        raise ArchiveError(f"{shown}: more than {MAX_MEMBERS} entries; not an sdist, refused.")
    if total > limit:
        raise ArchiveError(
            f"{shown}: unpacks to more than {limit // 1024 // 1024} MiB ({MAX_RATIO}x its size at most, "
            f"{MAX_EXTRACTED_BYTES // 1024**3} GiB in all); refused as an archive bomb."
        )


def _below_top(member: Member, top: str, shown: str) -> Member:
    """The member with the sdist's one top folder (name-version/) taken off its parts."""
    if member.parts[0] != top:
        raise ArchiveError(
            f"{shown}: expected one top folder, found {top} and {member.parts[0]}; not an sdist phase17 can use."
        )
    if ".git" in member.parts[1:]:
        raise refused(shown, member.name, "is git metadata, which a download never brings")
    if len(member.parts) == 1 and member.kind != "folder":
        raise refused(shown, member.name, "is a file where the sdist's one top folder should be")
    return replace(member, parts=member.parts[1:])


# ---------------------------------------------------------------- the recorded commit


def recorded_commit_id(source: str) -> str | None:
    """The one module-level `commit_id = '<g>sha'` of a _version.py, read with ast; None unless exactly one."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    values = []
    for statement in tree.body:
        targets = statement.targets if isinstance(statement, ast.Assign) else []
        if isinstance(statement, ast.AnnAssign) and statement.value is not None:
            targets = [statement.target]
        if any(isinstance(target, ast.Name) and target.id == "commit_id" for target in targets):
            value = statement.value  # type: ignore[attr-defined]
            values.append(value.value if isinstance(value, ast.Constant) and isinstance(value.value, str) else None)
    if len(values) != 1 or values[0] is None:
        return None
    match = re.fullmatch(r"g?([0-9a-f]{7,40})", values[0])
    return match.group(1) if match else None


def verify_version_commit(tree: Path, pin: Pin) -> str:
    """The extracted sdist's _version.py must record a commit_id that is a prefix of the pinned commit."""
    package = re.sub(r"[-.]+", "_", pin.pypi_distribution)
    shown = f"{package}/_version.py"
    path = tree / package / "_version.py"
    try:
        if path.is_symlink() or path.stat().st_size > MAX_VERSION_FILE_BYTES:
            raise OSError
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        raise FetchError(f"the sdist has no readable {shown}, so its commit cannot be verified; refused.") from None
    recorded = recorded_commit_id(text)
    if recorded is None:
        raise FetchError(f"the sdist's {shown} records no single commit_id, so its commit cannot be verified; refused.")
    if not same_commit(pin.commit, recorded):
        raise FetchError(
            f"the sdist's {shown} records commit g{recorded}, but UPSTREAM_PIN.md pins {pin.commit[:12]}; refused."
        )
    _verify_package(tree, package, pin)
    return f"g{recorded}"


def claimed_commit_id(tree: Path, pin: Pin) -> str:
    """The commit an unverified tree's _version.py names ("unknown" when it names none): never the pin's own
    word, so an unverified tree at another commit never shows as matching the pin."""
    package = re.sub(r"[-.]+", "_", pin.pypi_distribution)
    try:
        text = (tree / package / "_version.py").read_bytes()[:MAX_VERSION_FILE_BYTES].decode("utf-8", "replace")
    except OSError:
        return "unknown"
    return recorded_commit_id(text) or "unknown"


def _verify_package(tree: Path, package: str, pin: Pin) -> None:
    """The tree is the pinned release's package: PKG-INFO names its version, and the package folder is there
    (an archive of a _version.py alone, however well it names the commit, is not the tree)."""
    try:
        metadata = (tree / "PKG-INFO").read_bytes()[:65536].decode("utf-8", errors="replace")
    except OSError:
        raise FetchError("the sdist has no PKG-INFO, so its version cannot be verified; refused.") from None
    found = re.search(r"^Version: *(\S+) *$", metadata, re.MULTILINE)
    if found is None or found.group(1) != pin.pypi_version:
        shown = found.group(1) if found else "no version"
        raise FetchError(f"the sdist's PKG-INFO says {shown}, but UPSTREAM_PIN.md pins {pin.pypi_version}; refused.")
    if not (tree / package / "__init__.py").is_file():
        raise FetchError(f"the sdist has no {package}/__init__.py: it is not the {package} package's tree; refused.")


def sdist_commit_id(
    pin: Pin, cache_dir: Path, reporter: ProgressReporter | None = None, index_url: str | None = None
) -> str:
    """The commit prefix (without the 'g') that a version's sdist records, downloading it to the cache if needed.

    For re-pinning when git cannot be reached: the sdist is the only source of the version's commit.
    """
    archive, _, _ = cached_or_downloaded_sdist(
        pin, cache_dir, reporter or SilentReporter(), index_url, hints=COMMAND_LINE_HINTS
    )
    package = re.sub(r"[-.]+", "_", pin.pypi_distribution)
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                parts = PurePosixPath(member.name).parts
                if parts[1:] == (package, "_version.py") and member.isfile() and member.size <= MAX_VERSION_FILE_BYTES:
                    handle = tar.extractfile(member)
                    found = recorded_commit_id(handle.read().decode("utf-8", "replace")) if handle else None
                    if found:
                        return found
    except (tarfile.TarError, OSError, EOFError) as error:
        raise FetchError(f"{archive.name}: cannot read the archive ({error}).") from None
    raise FetchError(f"{archive.name} records no commit_id in {package}/_version.py; cannot pin it.")
