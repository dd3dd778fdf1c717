"""The package index: one release's file listed and downloaded with its sha256 checked (pypi-simple), under a
whole-fetch time limit and bounds on what each response may hold once decoded. The index is PIP_INDEX_URL, else
the library's default endpoint; no host is named here."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from phase17.errors import FetchError, NetworkError
from phase17.progress import ProgressReporter
from phase17.safety.text import clipped

if TYPE_CHECKING:
    from packaging.version import Version

T = TypeVar("T")


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
    from pypi_simple import DigestMismatchError, NoDigestsError

    with _index(index_url) as (client, where, deadline):
        page = _project_page(client, distribution, where, deadline, project_hint)
        offered = [p for p in page.packages if p.version == version and p.package_type in package_types]
        offered.sort(key=lambda p: (package_types.index(p.package_type), "none-any" not in p.filename, p.filename))
        if not offered:
            kinds = " or ".join(package_types)
            raise FetchError(f"{where} lists no {kinds} of {distribution} {version}; {version_hint}.")
        package = offered[0]
        final = folder / _plain_file_name(package.filename, distribution, version, where)
        digest = package.digests.get("sha256") or ("unchecked" if not verify else "")
        if not digest:
            raise FetchError(
                f"{where} gives no sha256 for {package.filename}; phase17 will not use an unverified download."
            )
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / f".{final.name}.part-{os.getpid()}"
        try:
            progress = _progress_factory(reporter, f"download {package.filename}")
            _before(
                deadline,
                lambda: client.download_package(package, partial, verify=verify, progress=progress, timeout=120),
                where,
            )
            os.replace(partial, final)
            if verify:  # only a checked file is trusted from the cache later
                (folder / f"{final.name}.sha256").write_text(digest + "\n", encoding="ascii")
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


def newest_version(distribution: str, index_url: str | None = None, *, project_hint: str = "check the name") -> str:
    """The newest release of `distribution` on the package index with a wheel or an sdist, as pip would take it:
    the newest final release, else (when there is none) the newest pre-release."""
    versions = release_versions(distribution, index_url, project_hint=project_hint)
    final = [version for version in versions if not version.is_prerelease]
    if not versions:
        raise FetchError(f"{_where(index_url)} lists no wheel or sdist of {distribution}; {project_hint}.")
    return str((final or versions)[-1])


def release_versions(
    distribution: str, index_url: str | None = None, *, project_hint: str = "check the name"
) -> list[Version]:
    """Every version of `distribution` the package index offers a wheel or sdist of (not yanked), oldest first."""
    from packaging.version import InvalidVersion, Version

    with _index(index_url) as (client, where, deadline):
        page = _project_page(client, distribution, where, deadline, project_hint)
    versions: set[Version] = set()
    for package in page.packages:
        if package.version and not package.is_yanked and package.package_type in ("wheel", "sdist"):
            try:
                versions.add(Version(package.version))
            except InvalidVersion:
                continue
    return sorted(versions)


def _where(index_url: str | None) -> str:
    return index_url or os.environ.get("PIP_INDEX_URL") or "the package index"


@contextmanager
def _index(index_url: str | None) -> Iterator[tuple[Any, str, float]]:
    """A client of the package index (PIP_INDEX_URL, else the library's default), its name for messages, and the
    moment the whole fetch must be done by."""
    from pypi_simple import PyPISimple

    endpoint = index_url or os.environ.get("PIP_INDEX_URL")
    where = _where(index_url)
    session = _bounded_session(where)
    with PyPISimple(endpoint=endpoint, session=session) if endpoint else PyPISimple(session=session) as client:
        yield client, where, time.monotonic() + download_time_limit()


def _project_page(client: Any, distribution: str, where: str, deadline: float, project_hint: str) -> Any:
    import requests
    from pypi_simple import NoSuchProjectError

    try:
        return _before(deadline, lambda: client.get_project_page(distribution, timeout=60), where)
    except NoSuchProjectError:
        raise FetchError(f"{where} has no project {distribution!r}; {project_hint}.") from None
    except requests.RequestException as error:
        raise NetworkError(
            f"Cannot reach {where} ({type(error).__name__}); check your connection or PIP_INDEX_URL.",
            detail=str(error)[:300],
        ) from None


def _plain_file_name(filename: str, distribution: str, version: str, where: str) -> str:
    """The index's name for a file, once checked to be one plain name of a wheel or sdist of exactly `distribution`
    `version`: a client takes the link's text for the name, and text like `x-1.0-py3-none-any/../../pwn.whl` would
    otherwise save the download wherever it leads."""
    from packaging.utils import (
        InvalidSdistFilename,
        InvalidWheelFilename,
        canonicalize_name,
        parse_sdist_filename,
        parse_wheel_filename,
    )
    from packaging.version import InvalidVersion, Version

    refusal = FetchError(
        f"{where} offers {clipped(filename)!r} for {distribution} {version}: not one plain file name of it; refused."
    )
    if not filename or filename.startswith(".") or any(mark in filename for mark in ("/", "\\", "\0", ":")):
        raise refusal
    try:
        if filename.endswith(".whl"):
            name, found, *_ = parse_wheel_filename(filename)
        else:
            name, found = parse_sdist_filename(filename)
        same = canonicalize_name(name) == canonicalize_name(distribution) and found == Version(version)
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        same = False
    if not same:
        raise refusal
    return filename


# What one response may hold once decoded: a project page is a few MB (the pinned project's, every release
# listed: ~1 MB); its sdist is 36 MB. A gzip-compressed page or file past these is stopped as it is read, not after.
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
