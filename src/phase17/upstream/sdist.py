"""The PyPI source distribution as a second, verifiable source of the pinned tree: listed and downloaded with its
sha256 checked (pypi-simple), extracted safely, and its recorded commit read with `ast`, never by text search.
"""

from __future__ import annotations

import ast
import hashlib
import os
import re
import tarfile
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import Any, TypeVar

from phase17.errors import FetchError, NetworkError
from phase17.progress import ProgressReporter, SilentReporter
from phase17.safety.files import safe_folder
from phase17.upstream.checkout import same_commit
from phase17.upstream.pin import Pin

T = TypeVar("T")

MAX_VERSION_FILE_BYTES = 64 * 1024


def sdist_cache_dir(cache_root: Path) -> Path:
    return cache_root / "sdists"


def cached_or_downloaded_sdist(
    pin: Pin, cache_dir: Path, reporter: ProgressReporter, index_url: str | None, verify: bool = True
) -> tuple[Path, str, bool]:
    """(archive, sha256, downloaded): the cached sdist while its recorded sha256 still matches, else a download."""
    folder = safe_folder(sdist_cache_dir(cache_dir), cache_dir)
    for stale in folder.glob(".*.part-*") if folder.is_dir() else ():
        stale.unlink(missing_ok=True)  # left by a killed download
    for candidate in _sdist_names(pin):
        cached = folder / candidate
        recorded = folder / f"{candidate}.sha256"
        if cached.is_file() and recorded.is_file():
            expected = recorded.read_text(encoding="ascii").strip()
            if _sha256_of(cached) == expected:
                return cached, expected, False
            cached.unlink()  # corrupted since it was verified: fetch it again
    path, digest = _download(pin, folder, reporter, index_url, verify)
    return path, digest, True


def forget_cached(archive: Path) -> None:
    """Drop a cached archive and its recorded digest."""
    archive.unlink(missing_ok=True)
    archive.with_name(f"{archive.name}.sha256").unlink(missing_ok=True)


def _sdist_names(pin: Pin) -> list[str]:
    stem = re.sub(r"[-_.]+", "_", pin.pypi_distribution).lower()
    return [f"{stem}-{pin.pypi_version}.tar.gz", f"{pin.pypi_distribution}-{pin.pypi_version}.tar.gz"]


def _download(
    pin: Pin, folder: Path, reporter: ProgressReporter, index_url: str | None, verify: bool
) -> tuple[Path, str]:
    return download_release(
        pin.pypi_distribution,
        pin.pypi_version,
        folder,
        reporter,
        index_url,
        verify=verify,
        project_hint="check pypi.distribution in UPSTREAM_PIN.md",
        version_hint="check pypi.version in UPSTREAM_PIN.md",
    )


def download_release(
    distribution: str,
    version: str,
    folder: Path,
    reporter: ProgressReporter,
    index_url: str | None = None,
    *,
    verify: bool = True,
    package_types: tuple[str, ...] = ("sdist",),
    project_hint: str = "check the name",
    version_hint: str = "check the version",
) -> tuple[Path, str]:
    """Download `distribution`'s `version` from the package index (PIP_INDEX_URL, else the library's default) into
    `folder`, its sha256 checked: the first of `package_types` the index lists (a wheel before an sdist, say)."""
    # pypi-simple and requests are imported here only: most commands never touch the network.
    import requests
    from pypi_simple import DigestMismatchError, NoDigestsError, NoSuchProjectError, PyPISimple

    endpoint = index_url or os.environ.get("PIP_INDEX_URL")
    where = endpoint or "the package index"
    session = _bounded_session(where)
    client = PyPISimple(endpoint=endpoint, session=session) if endpoint else PyPISimple(session=session)
    with client:
        deadline = time.monotonic() + download_time_limit()
        try:
            page = _before(deadline, lambda: client.get_project_page(distribution, timeout=60), where)
        except NoSuchProjectError:
            raise FetchError(f"{where} has no project {distribution!r}; {project_hint}.") from None
        except requests.RequestException as error:
            raise NetworkError(
                f"Cannot reach {where} ({type(error).__name__}); check your connection or PIP_INDEX_URL.",
                detail=str(error)[:300],
            ) from None
        offered = [p for p in page.packages if p.version == version and p.package_type in package_types]
        offered.sort(key=lambda p: (package_types.index(p.package_type), "none-any" not in p.filename, p.filename))
        if not offered:
            kinds = " or ".join(package_types)
            raise FetchError(f"{where} lists no {kinds} of {distribution} {version}; {version_hint}.")
        package = offered[0]
        digest = package.digests.get("sha256") or ("unchecked" if not verify else "")
        if not digest:
            raise FetchError(
                f"{where} gives no sha256 for {package.filename}; phase17 will not use an unverified download."
            )
        folder.mkdir(parents=True, exist_ok=True)
        final = folder / package.filename
        partial = folder / f".{package.filename}.part-{os.getpid()}"
        try:
            progress = _progress_factory(reporter, f"download {package.filename}")
            _before(
                deadline,
                lambda: client.download_package(package, partial, verify=verify, progress=progress, timeout=120),
                where,
            )
            os.replace(partial, final)
            if verify:  # only a checked file is trusted from the cache later
                (folder / f"{package.filename}.sha256").write_text(digest + "\n", encoding="ascii")
        except DigestMismatchError as error:
            raise FetchError(
                f"{package.filename}: sha256 is {error.actual_digest}, but the index says "
                f"{error.expected_digest}; refused."
            ) from None
        except NoDigestsError:
            raise FetchError(f"{package.filename}: the index gives no digest phase17 can check; refused.") from None
        except requests.RequestException as error:
            raise NetworkError(
                f"Download of {package.filename} failed ({type(error).__name__}); nothing was kept, try again.",
                detail=str(error)[:300],
            ) from None
        finally:
            partial.unlink(missing_ok=True)  # also on Ctrl-C: no partial file stays in the cache
    return final, digest


# What one response may hold once decoded: a project page is a few MB (vllm's, every release listed: ~1 MB);
# vllm-0.22.1.tar.gz is 36 MB. A gzip-compressed page or file past these is stopped as it is read, not after.
MAX_PAGE_BYTES = 64 * 1024**2
MAX_ARCHIVE_BYTES = 512 * 1024**2


def _bounded_session(where: str) -> Any:
    """A requests session whose every response stops being read past its bound (a page or an archive), counted
    after decompression: a small gzip bomb from an index must not take gigabytes of memory or disk."""
    import requests

    session = requests.Session()

    def bound(response: Any, *args: Any, **kwargs: Any) -> Any:
        is_page = "pypi.simple" in str(response.request.headers.get("Accept", ""))
        limit, what = (MAX_PAGE_BYTES, "project page") if is_page else (MAX_ARCHIVE_BYTES, "download")
        refusal = FetchError(
            f"{where}: the {what} at {response.url} is larger than {limit // 1024**2} MiB once decoded; "
            "stopped, nothing kept."
        )
        if int(response.headers.get("Content-Length") or 0) > limit:
            raise refusal
        read = response.raw.stream

        def stream(*args: Any, **kwargs: Any) -> Any:
            total = 0
            for chunk in read(*args, **kwargs):
                total += len(chunk)
                if total > limit:
                    raise refusal
                yield chunk

        response.raw.stream = stream
        return response

    session.hooks["response"].append(bound)
    return session


def download_time_limit() -> float:
    """Seconds a whole fetch from the index may take (PHASE17_DOWNLOAD_TIMEOUT): per-read timeouts alone let a
    server that drips a byte now and then keep a fetch running forever."""
    try:
        return max(1.0, float(os.environ.get("PHASE17_DOWNLOAD_TIMEOUT", "1200")))
    except ValueError:
        return 1200.0


def _before(deadline: float, work: Callable[[], T], where: str) -> T:
    """Run `work` in a helper thread and give up at `deadline` (the thread is abandoned: it ends with the process)."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = work()
        except BaseException as error:  # handed to the caller's thread as is
            outcome["error"] = error

    helper = threading.Thread(target=run, name="phase17-download", daemon=True)
    helper.start()
    helper.join(max(0.0, deadline - time.monotonic()))
    if helper.is_alive():
        raise NetworkError(
            f"{where} is too slow: the fetch took longer than {download_time_limit():.0f} s and was stopped; "
            "try again later, or raise PHASE17_DOWNLOAD_TIMEOUT.",
            detail="whole-download time limit reached",
        )
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]  # type: ignore[no-any-return]


class _ReporterTracker:
    """Adapts a ProgressReporter to pypi-simple's ProgressTracker protocol."""

    def __init__(self, reporter: ProgressReporter, description: str, total: int | None) -> None:
        self._reporter = reporter
        self._reporter.start(description, total)

    def __enter__(self) -> _ReporterTracker:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._reporter.finish()

    def update(self, increment: int) -> None:
        self._reporter.advance(increment)


def _progress_factory(reporter: ProgressReporter, description: str) -> Callable[[int | None], _ReporterTracker]:
    return lambda total: _ReporterTracker(reporter, description, total)


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------- extraction


MAX_EXTRACTED_BYTES = 1024**3  # vllm-0.22.1 unpacks to 98 MB: ten times that is still no sdist
MAX_MEMBERS = 100_000  # it holds 5,312 files
MAX_RATIO = 50  # extracted bytes per archive byte; it is 2.7 (a gzip bomb is in the thousands)


def extract_safely(archive: Path, target: Path, reporter: ProgressReporter) -> None:
    """Extract the sdist's single top folder into `target`, refusing anything that could land outside it, and
    stopping as soon as the entries read so far pass the size, count or compression-ratio limits (before the
    entry that passes them is written: a gzip bomb is refused at its header, not after filling the disk)."""
    if not hasattr(tarfile, "data_filter"):
        raise FetchError("this Python's tarfile has no extraction filters; use Python 3.10.12 or newer.")
    limit = min(MAX_EXTRACTED_BYTES, max(archive.stat().st_size, 1) * MAX_RATIO)
    total = count = 0
    top: PurePosixPath | None = None
    try:
        with tarfile.open(archive, "r:gz") as tar:
            reporter.start(f"extract {archive.name}", None)
            try:
                for member in tar:
                    count += 1
                    total += max(member.size, 0)
                    if count > MAX_MEMBERS:
                        raise FetchError(f"{archive.name}: more than {MAX_MEMBERS} entries; not an sdist, refused.")
                    if total > limit:
                        raise FetchError(
                            f"{archive.name}: unpacks to more than {limit // 1024 // 1024} MiB ({MAX_RATIO}x its size "
                            f"at most, {MAX_EXTRACTED_BYTES // 1024**3} GiB in all); refused as an archive bomb."
                        )
                    member_top = _check_members([member], archive.name)
                    if top is None:
                        top = member_top
                    elif member_top != top:
                        raise FetchError(
                            f"{archive.name}: expected one top folder, found {top} and {member_top}; not an sdist "
                            "phase17 can use."
                        )
                    relative = PurePosixPath(member.name).relative_to(top)
                    if str(relative) != ".":
                        tar.extract(member.replace(name=str(relative), deep=False), target, filter="data")
                    reporter.advance(1)
            finally:
                reporter.finish()
    except tarfile.FilterError as error:
        raise FetchError(f"{archive.name}: refused entry {error.tarinfo.name!r} ({error}).") from None
    except (tarfile.TarError, EOFError, OSError, zlib.error) as error:
        raise FetchError(f"{archive.name}: cannot read the archive ({error}).") from None
    if top is None:
        raise FetchError(f"{archive.name}: the archive is empty; not an sdist phase17 can use.")


def _check_members(members: list[tarfile.TarInfo], shown: str) -> PurePosixPath:
    """Refuse absolute paths, `..`, git metadata, devices and links that leave the tree; return the top folder."""
    tops = set()
    for member in members:
        path = PurePosixPath(member.name)
        if member.name.startswith(("/", "\\")) or path.is_absolute() or re.match(r"^[A-Za-z]:", member.name):
            raise FetchError(f"{shown}: refused entry {member.name!r}: absolute path.")
        if ".." in path.parts:
            raise FetchError(f"{shown}: refused entry {member.name!r}: '..' would leave the tree.")
        if ".git" in path.parts[1:]:
            raise FetchError(f"{shown}: refused entry {member.name!r}: a download never brings git metadata.")
        if member.ischr() or member.isblk() or member.isfifo() or member.isdev():
            raise FetchError(f"{shown}: refused entry {member.name!r}: device or fifo.")
        if member.issym() or member.islnk():
            link = PurePosixPath(member.linkname)
            base = path.parent if member.issym() else PurePosixPath()
            if link.is_absolute() or _escapes(base / link):
                raise FetchError(
                    f"{shown}: refused entry {member.name!r}: link to {member.linkname!r} leaves the tree."
                )
        tops.add(path.parts[0] if path.parts else "")
    if len(tops) != 1:
        raise FetchError(f"{shown}: expected one top folder, found {len(tops)}; not an sdist phase17 can use.")
    return PurePosixPath(tops.pop())


def _escapes(path: PurePosixPath) -> bool:
    depth = 0
    for part in path.parts:
        depth += -1 if part == ".." else (0 if part in (".", "") else 1)
        if depth < 0:
            return True
    return depth < 1  # a link may not point at or above the archive's top folder


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
    archive, _, _ = cached_or_downloaded_sdist(pin, cache_dir, reporter or SilentReporter(), index_url)
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
