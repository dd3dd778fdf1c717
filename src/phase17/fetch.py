"""Put exactly the pinned tree in upstream/: a depth-1 git fetch, or the verified PyPI sdist made into a git repo.

A new tree is always built in a temporary folder beside upstream/ and renamed into place, so an interrupted
fetch leaves the old upstream/ as it was. Progress goes through a ProgressReporter; this module never prints.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import re
import shutil
import sys
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import Literal, Protocol

import git

from phase17.errors import FetchError, NetworkError, PinMismatchError, UnsafeArchiveError
from phase17.pin import (
    COMMIT_TRAILER,
    PROVENANCE_FILE,
    UNVERIFIED_MARK,
    Pin,
    UpstreamState,
    inspect_upstream,
    keep_as_history,
    same_commit,
)

SourceKind = Literal["git", "pypi"]
GIT_TIMEOUT_SECONDS = 600
_IDENTITY = ["-c", "user.name=phase17", "-c", "user.email=phase17@localhost", "-c", "commit.gpgsign=false"]
# Signs in git's stderr that the remote could not be reached at all (as opposed to refusing the request).
_UNREACHABLE = (
    "could not resolve host",
    "unable to access",
    "failed to connect",
    "connection refused",
    "connection timed out",
    "network is unreachable",
    "could not read from remote repository",
    "operation timed out",
    "temporary failure in name resolution",
)


class ProgressReporter(Protocol):
    """What a fetch tells its caller as it goes; the CLI draws it with rich, tests record it."""

    def start(self, description: str, total: int | None) -> None: ...

    def advance(self, amount: int) -> None: ...

    def finish(self) -> None: ...

    def notice(self, message: str) -> None: ...


class SilentReporter:
    """A ProgressReporter that shows nothing."""

    def start(self, description: str, total: int | None) -> None:
        pass

    def advance(self, amount: int) -> None:
        pass

    def finish(self) -> None:
        pass

    def notice(self, message: str) -> None:
        pass


@dataclass(frozen=True)
class FetchResult:
    """What a fetch did and what upstream/ now holds."""

    state: UpstreamState
    source: SourceKind
    origin: str  # the URL, path or sdist file name the tree came from
    up_to_date: bool = False  # nothing was fetched: upstream/ already matched
    downloaded: bool = False  # the sdist came over the network rather than from the cache
    sha256: str | None = None


def fetch_upstream(
    pin: Pin,
    upstream: Path,
    *,
    source: str = "auto",
    force: bool = False,
    cache_dir: Path,
    reporter: ProgressReporter | None = None,
    index_url: str | None = None,
    replaceable: bool = True,
    keep_history_as: str | None = None,
    verify: bool = True,
) -> FetchResult:
    """Make `upstream` hold exactly the pinned tree, verified, or raise a Phase17Error saying why not.

    `source` is "auto" (git, then PyPI when the remote cannot be reached), "git", "pypi", or a path or URL
    of a git repository holding the pinned commit. A verified upstream/ is left alone unless `force`;
    one with local edits or at another commit is only replaced with `force`, and never when it is
    not `replaceable` (a reader's own clone named with --upstream). With `keep_history_as`, the tree being
    replaced stays in the new upstream/'s git history (a parent commit, and refs/phase17/<label>), so drift
    can be diffed after a re-pin. `verify=False` (--insecure-skip-verify) skips the sdist's sha256 and commit
    checks, says so loudly through the reporter, and records it in the commit and the provenance.
    """
    reporter = reporter or SilentReporter()
    _sweep_stale_temporaries(upstream.parent, upstream.name)
    state = inspect_upstream(upstream, pin)
    if state.is_verified and not force:
        return FetchResult(state=state, source="pypi" if state.source == "pypi" else "git", origin="upstream/", up_to_date=True)
    if state.status != "missing" and not (state.status == "matches" and not state.verified and replaceable):
        _refuse_to_replace(state, pin, force=force, replaceable=replaceable)
    if not verify:
        reporter.notice("INSECURE: --insecure-skip-verify: the sdist's sha256 and its recorded commit are NOT checked.")
    history = upstream / ".git" if keep_history_as and state.head else None
    if history is not None and keep_history_as:
        keep_as_history(upstream, keep_history_as)
    if source == "pypi":
        return _fetch_pypi(pin, upstream, cache_dir, reporter, index_url, history, verify)
    if source in ("auto", "git"):
        try:
            return _fetch_git(pin, upstream, pin.repository, reporter, history)
        except NetworkError as error:
            if source == "git":
                raise
            reporter.notice(f"{error} Fetching the PyPI sdist {pin.pypi_distribution}=={pin.pypi_version} instead.")
            return _fetch_pypi(pin, upstream, cache_dir, reporter, index_url, history, verify)
    return _fetch_git(pin, upstream, _git_location(source), reporter, history)


def _refuse_to_replace(state: UpstreamState, pin: Pin, *, force: bool, replaceable: bool) -> None:
    if state.status == "matches":
        what = "holds the pinned tree"
    elif state.status == "not-a-checkout":
        what = "is not a git checkout phase17 can verify"
    elif state.status == "other-commit":
        what = f"is at {(state.carries or '')[:7]}, not the pinned {pin.describe()}"
    else:
        listed = ", ".join(state.modified[:5]) + (" ..." if len(state.modified) > 5 else "")
        what = f"has {len(state.modified)} modified or untracked file(s): {listed}"
    if not replaceable:
        raise PinMismatchError(
            f"{state.path} {what}; it is your own checkout, so phase17 will not replace it: "
            f"run git -C {state.path} checkout --detach {pin.commit[:12]} there, or drop --upstream."
        )
    if not force:
        raise PinMismatchError(
            f"{state.path} {what}; run phase17 fetch --force to replace it (anything changed there is lost)."
        )


def _git_location(source: str) -> str:
    if "://" in source or source.startswith("git@"):
        return source
    path = Path(source).expanduser()
    if not path.exists():
        raise FetchError(f"--source {source}: no such folder; give auto, git, pypi, a path to a clone or a URL.")
    return str(path.resolve())


# ---------------------------------------------------------------- git


def _fetch_git(pin: Pin, upstream: Path, location: str, reporter: ProgressReporter, history: Path | None = None) -> FetchResult:
    with _building_beside(upstream) as building:
        if history is not None:
            shutil.copytree(history, building / ".git", symlinks=True)
        repo = git.Repo.init(building)
        reporter.start(f"git fetch --depth 1 {pin.short} from {location}", None)
        try:
            _git_fetch_commit(repo, location, pin)
            repo.git.checkout("--force", "--detach", "--quiet", "FETCH_HEAD")
        finally:
            reporter.finish()
        head = repo.head.commit.hexsha
        if not same_commit(head, pin.commit):
            raise FetchError(f"{location}: HEAD is {head[:12]} after checkout, not the pinned {pin.commit[:12]}.")
        _write_provenance(building, {"source": "git", "location": location, "tag": pin.tag, "commit": pin.commit})
        repo.close()
        _move_into_place(building, upstream)
    return FetchResult(state=inspect_upstream(upstream, pin), source="git", origin=location)


def _git_fetch_commit(repo: git.Repo, location: str, pin: Pin) -> None:
    """Fetch only the pinned commit (depth 1); if the server will not serve a bare sha, fetch the tag."""
    environment = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true"}
    try:
        repo.git.fetch("--depth=1", "--no-tags", location, pin.commit, env=environment, kill_after_timeout=GIT_TIMEOUT_SECONDS)
        return
    except git.GitCommandError as error:
        _raise_if_unreachable(error, location)
    try:
        repo.git.fetch(
            "--depth=1", "--no-tags", location, f"refs/tags/{pin.tag}", env=environment, kill_after_timeout=GIT_TIMEOUT_SECONDS
        )
    except git.GitCommandError as error:
        _raise_if_unreachable(error, location)
        raise FetchError(
            f"{location} has neither commit {pin.commit[:12]} nor tag {pin.tag}; "
            "check the repository, or use --source pypi."
        ) from None
    tagged = repo.git.rev_parse("FETCH_HEAD^{commit}")
    if not same_commit(tagged, pin.commit):
        raise FetchError(f"{location}: tag {pin.tag} is commit {tagged[:12]}, but UPSTREAM_PIN.md pins {pin.commit[:12]}.")


def _raise_if_unreachable(error: git.GitCommandError, location: str) -> None:
    message = str(error.stderr or error).strip()
    lowered = message.lower()
    if "does not appear to be a git repository" in lowered or "not a git repository" in lowered:
        raise FetchError(f"{location} is not a git repository; give a clone of {location} or use --source pypi.") from None
    if any(sign in lowered for sign in _UNREACHABLE) or error.status in (-9, 137):
        first = next((line.strip() for line in message.splitlines() if line.strip()), "no answer")
        first = first.removeprefix("stderr: ").strip("' ")
        raise NetworkError(f"Cannot reach {location} ({first}).") from None


# ---------------------------------------------------------------- re-pinning

_VERSION = re.compile(r"^v?(\d+(?:\.\d+)*(?:(?:a|b|rc|\.post|\.dev)\d+)*)$")
_HEX = re.compile(r"^[0-9a-f]{7,40}$")


def plan_repin(
    current: Pin, ref: str, *, cache_dir: Path, reporter: ProgressReporter | None = None, index_url: str | None = None
) -> Pin:
    """The pin that REF names: a tag (v0.23.0), a version (0.23.0) or a commit that a release tag points at.

    The commit comes from the git remote when it can be reached (a full sha), else from the version's sdist
    (the 9-character prefix its _version.py records).
    """
    reporter = reporter or SilentReporter()
    ref = ref.strip()
    version_match = _VERSION.match(ref)
    if version_match and not (_HEX.match(ref) and not ref.startswith("v") and "." not in ref):
        version = version_match.group(1)
        tag = f"v{version}"
        try:
            commit = _remote_tag_commit(current.repository, tag)
        except NetworkError as error:
            reporter.notice(f"{error} Reading the commit of {current.pypi_distribution} {version} from its PyPI sdist.")
            provisional = replace(current, tag=tag, pypi_version=version, commit="0" * 40)
            commit = sdist_commit_id(provisional, cache_dir, reporter, index_url)
        return replace(current, tag=tag, commit=commit, pypi_version=version)
    if _HEX.match(ref):
        tags = _remote_tags(current.repository)  # a bare commit needs git: PyPI cannot say which release it is
        for tag, commit in tags.items():
            if commit.startswith(ref) and _VERSION.match(tag):
                return replace(current, tag=tag, commit=commit, pypi_version=_VERSION.match(tag).group(1))  # type: ignore[union-attr]
        raise FetchError(f"no release tag of {current.repository} points at {ref}; phase17 pins releases (a tag or a version).")
    raise FetchError(f"{ref!r} is not a tag (v0.23.0), a version (0.23.0) or a commit sha.")


def _remote_tags(repository: str) -> dict[str, str]:
    """Tag name -> peeled commit sha, from `git ls-remote --tags`."""
    try:
        output = git.Git().ls_remote("--tags", repository, env={"GIT_TERMINAL_PROMPT": "0"}, kill_after_timeout=GIT_TIMEOUT_SECONDS)
    except git.GitCommandError as error:
        _raise_if_unreachable(error, repository)
        raise FetchError(f"git ls-remote {repository} failed: {str(error.stderr).strip()}") from None
    tags: dict[str, str] = {}
    for line in str(output).splitlines():
        sha, _, name = line.partition("\t")
        name = name.removeprefix("refs/tags/")
        if name.endswith("^{}"):
            tags[name[:-3]] = sha  # the peeled commit wins over an annotated tag object
        else:
            tags.setdefault(name, sha)
    return tags


def _remote_tag_commit(repository: str, tag: str) -> str:
    tags = _remote_tags(repository)
    if tag not in tags:
        raise FetchError(f"{repository} has no tag {tag}.")
    return tags[tag]


# ---------------------------------------------------------------- pypi


def _fetch_pypi(
    pin: Pin,
    upstream: Path,
    cache_dir: Path,
    reporter: ProgressReporter,
    index_url: str | None,
    history: Path | None = None,
    verify: bool = True,
) -> FetchResult:
    archive, sha256, downloaded = _cached_or_downloaded_sdist(pin, cache_dir, reporter, index_url, verify)
    with _building_beside(upstream) as building:
        _extract_safely(archive, building, reporter)
        try:
            commit_id = _verify_version_commit(building, pin)
        except FetchError as error:
            if verify:
                raise
            reporter.notice(f"INSECURE: not refused, as asked: {error}")
            commit_id = "unverified"
        if history is not None:
            shutil.copytree(history, building / ".git", symlinks=True)  # the old tree becomes the parent commit
        _commit_tree(building, pin, archive.name, sha256, commit_id, reporter, verify)
        _write_provenance(
            building,
            {
                "source": "pypi",
                "file": archive.name,
                "sha256": sha256,
                "commit_id": commit_id,
                "verified_commit": pin.commit if verify else "none",
                "tag": pin.tag,
                "verification": "sha256 and commit_id checked" if verify else "skipped (--insecure-skip-verify)",
            },
        )
        _move_into_place(building, upstream)
    return FetchResult(
        state=inspect_upstream(upstream, pin), source="pypi", origin=archive.name, downloaded=downloaded, sha256=sha256
    )


def sdist_cache_dir(cache_root: Path) -> Path:
    return cache_root / "sdists"


def _cached_or_downloaded_sdist(
    pin: Pin, cache_dir: Path, reporter: ProgressReporter, index_url: str | None, verify: bool = True
) -> tuple[Path, str, bool]:
    """The sdist from the cache when its recorded sha256 still matches its bytes, else from the index."""
    folder = sdist_cache_dir(cache_dir)
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
    path, digest = _download_sdist(pin, folder, reporter, index_url, verify)
    return path, digest, True


def _sdist_names(pin: Pin) -> list[str]:
    stem = re.sub(r"[-_.]+", "_", pin.pypi_distribution).lower()
    return [f"{stem}-{pin.pypi_version}.tar.gz", f"{pin.pypi_distribution}-{pin.pypi_version}.tar.gz"]


def _download_sdist(pin: Pin, folder: Path, reporter: ProgressReporter, index_url: str | None, verify: bool = True) -> tuple[Path, str]:
    # pypi-simple and requests live only here, imported late: most commands never touch the network.
    import requests
    from pypi_simple import DigestMismatchError, NoDigestsError, NoSuchProjectError, PyPISimple

    endpoint = index_url or os.environ.get("PIP_INDEX_URL")
    client = PyPISimple(endpoint=endpoint) if endpoint else PyPISimple()
    where = "the package index" if not endpoint else endpoint
    with client:
        try:
            page = client.get_project_page(pin.pypi_distribution, timeout=60)
        except NoSuchProjectError:
            raise FetchError(f"{where} has no project {pin.pypi_distribution!r}; check pypi.distribution in UPSTREAM_PIN.md.") from None
        except requests.RequestException as error:
            raise NetworkError(f"Cannot reach {where} ({type(error).__name__}); check your connection or PIP_INDEX_URL.") from None
        sdists = [p for p in page.packages if p.package_type == "sdist" and p.version == pin.pypi_version]
        if not sdists:
            raise FetchError(f"{where} lists no sdist of {pin.pypi_distribution} {pin.pypi_version}; check pypi.version in UPSTREAM_PIN.md.")
        package = sdists[0]
        digest = package.digests.get("sha256") or ("unchecked" if not verify else "")
        if not digest:
            raise FetchError(f"{where} gives no sha256 for {package.filename}; phase17 will not use an unverified sdist.")
        folder.mkdir(parents=True, exist_ok=True)
        final = folder / package.filename
        partial = folder / f".{package.filename}.part-{os.getpid()}"
        try:
            client.download_package(
                package, partial, verify=verify, progress=_progress_factory(reporter, f"download {package.filename}"), timeout=120
            )
            os.replace(partial, final)
            if verify:  # only a checked file is trusted from the cache later
                (folder / f"{package.filename}.sha256").write_text(digest + "\n", encoding="ascii")
        except DigestMismatchError as error:
            raise FetchError(
                f"{package.filename}: sha256 is {error.actual_digest}, but the index says {error.expected_digest}; refused."
            ) from None
        except NoDigestsError:
            raise FetchError(f"{package.filename}: the index gives no digest phase17 can check; refused.") from None
        except requests.RequestException as error:
            raise NetworkError(f"Download of {package.filename} failed ({type(error).__name__}); nothing was kept, try again.") from None
        finally:
            partial.unlink(missing_ok=True)  # also on Ctrl-C: no partial file stays in the cache
    return final, digest


class _ReporterTracker:
    """Adapts a ProgressReporter to pypi-simple's ProgressTracker protocol."""

    def __init__(self, reporter: ProgressReporter, description: str, total: int | None) -> None:
        self._reporter = reporter
        self._reporter.start(description, total)

    def __enter__(self) -> _ReporterTracker:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, trace: TracebackType | None) -> None:
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


def _extract_safely(archive: Path, target: Path, reporter: ProgressReporter) -> None:
    """Extract the sdist's single top folder into `target`, refusing anything that could land outside it."""
    if not hasattr(tarfile, "data_filter"):
        raise FetchError("this Python's tarfile has no extraction filters; use Python 3.10.12 or newer.")
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = tar.getmembers()
            top = _check_members(members, archive.name)
            reporter.start(f"extract {archive.name}", len(members))
            try:
                for member in members:
                    relative = PurePosixPath(member.name).relative_to(top)
                    if str(relative) != ".":
                        tar.extract(member.replace(name=str(relative), deep=False), target, filter="data")
                    reporter.advance(1)
            finally:
                reporter.finish()
    except tarfile.FilterError as error:
        raise UnsafeArchiveError(f"{archive.name}: refused entry {error.tarinfo.name!r} ({error}).") from None
    except (tarfile.TarError, EOFError, OSError) as error:
        raise FetchError(f"{archive.name}: cannot read the archive ({error}); delete it from {archive.parent} and fetch again.") from None


def _check_members(members: list[tarfile.TarInfo], shown: str) -> PurePosixPath:
    """Refuse absolute paths, `..`, devices and links that leave the tree; return the one top folder."""
    tops = set()
    for member in members:
        path = PurePosixPath(member.name)
        if member.name.startswith(("/", "\\")) or path.is_absolute() or re.match(r"^[A-Za-z]:", member.name):
            raise UnsafeArchiveError(f"{shown}: refused entry {member.name!r}: absolute path.")
        if ".." in path.parts:
            raise UnsafeArchiveError(f"{shown}: refused entry {member.name!r}: '..' would leave the tree.")
        if member.ischr() or member.isblk() or member.isfifo() or member.isdev():
            raise UnsafeArchiveError(f"{shown}: refused entry {member.name!r}: device or fifo.")
        if member.issym() or member.islnk():
            link = PurePosixPath(member.linkname)
            base = path.parent if member.issym() else PurePosixPath()
            if link.is_absolute() or _escapes(base / link):
                raise UnsafeArchiveError(f"{shown}: refused entry {member.name!r}: link to {member.linkname!r} leaves the tree.")
        tops.add(path.parts[0] if path.parts else "")
    if len(tops) != 1:
        raise UnsafeArchiveError(f"{shown}: expected one top folder, found {len(tops)}; not an sdist phase17 can use.")
    return PurePosixPath(tops.pop())


def _escapes(path: PurePosixPath) -> bool:
    depth = 0
    for part in path.parts:
        depth += -1 if part == ".." else (0 if part in (".", "") else 1)
        if depth < 0:
            return True
    return depth < 1  # a link may not point at or above the archive's top folder


_COMMIT_ID = re.compile(r"""commit_id\s*=\s*['"]g?([0-9a-f]{7,40})['"]""")


def _verify_version_commit(tree: Path, pin: Pin) -> str:
    """The sdist's _version.py must record a commit_id that is a prefix of the pinned commit."""
    package = re.sub(r"[-.]+", "_", pin.pypi_distribution)
    version_file = tree / package / "_version.py"
    shown = f"{package}/_version.py"
    try:
        text = version_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        raise FetchError(f"the sdist has no readable {shown}, so its commit cannot be verified; refused.") from None
    match = _COMMIT_ID.search(text)
    if match is None:
        raise FetchError(f"the sdist's {shown} records no commit_id, so its commit cannot be verified; refused.")
    recorded = match.group(1)
    if not same_commit(pin.commit, recorded):
        raise FetchError(
            f"the sdist's {shown} records commit g{recorded}, but UPSTREAM_PIN.md pins {pin.commit[:12]}; refused."
        )
    return f"g{recorded}"


def sdist_commit_id(pin: Pin, cache_dir: Path, reporter: ProgressReporter | None = None, index_url: str | None = None) -> str:
    """The commit prefix (without the 'g') that a version's sdist records, downloading it to the cache if needed.

    For re-pinning when git cannot be reached: the sdist is the only source of the version's commit.
    """
    archive, _, _ = _cached_or_downloaded_sdist(pin, cache_dir, reporter or SilentReporter(), index_url)
    package = re.sub(r"[-.]+", "_", pin.pypi_distribution)
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                parts = PurePosixPath(member.name).parts
                if parts[1:] == (package, "_version.py") and member.isfile():
                    handle = tar.extractfile(member)
                    match = _COMMIT_ID.search(handle.read().decode("utf-8", "replace")) if handle else None
                    if match:
                        return match.group(1)
    except (tarfile.TarError, OSError, EOFError) as error:
        raise FetchError(f"{archive.name}: cannot read the archive ({error}).") from None
    raise FetchError(f"{archive.name} records no commit_id in {package}/_version.py; cannot pin it.")


def _commit_tree(
    tree: Path, pin: Pin, file_name: str, sha256: str, commit_id: str, reporter: ProgressReporter, verify: bool = True
) -> None:
    """Make the extracted tree a one-commit git repository whose message records where it came from."""
    repo = git.Repo.init(tree)
    (tree / ".git" / "info").mkdir(parents=True, exist_ok=True)
    (tree / ".git" / "info" / "exclude").write_text("__pycache__/\n*.pyc\n", encoding="utf-8")
    message = (
        f"{pin.pypi_distribution} {pin.pypi_version} ({pin.tag}) from the PyPI sdist {file_name}\n\n"
        f"Source: {file_name}\nSha256: {sha256}\nVersion-Commit-Id: {commit_id}\n"
        + ("" if verify else f"{UNVERIFIED_MARK}\n")
        + f"{COMMIT_TRAILER}: {pin.commit}\n"
    )
    # A fixed identity and date: the same sdist always gives the same commit, with or without a git config.
    stamp = "2000-01-01T00:00:00+0000"
    environment = {"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}
    reporter.start("record the tree as a git commit", None)
    try:
        repo.git.add("--all", "--force")
        repo.git.execute(["git", *_IDENTITY, "commit", "--quiet", "--no-verify", "-m", message], env=environment)
    except git.GitCommandError as error:
        raise FetchError(f"git could not record the extracted tree ({error.stderr.strip()}).") from None
    finally:
        reporter.finish()
        repo.close()


def _write_provenance(tree: Path, fields: dict[str, str]) -> None:
    lines = [f"{key}: {value}" for key, value in fields.items()]
    (tree / ".git" / PROVENANCE_FILE).write_text("\n".join(lines) + "\n", encoding="utf-8")


# ---------------------------------------------------------------- putting a tree in place


@contextmanager
def _building_beside(upstream: Path) -> Iterator[Path]:
    """A temporary folder on upstream/'s filesystem, removed unless it was moved into place."""
    upstream.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{upstream.name}.tmp-", dir=upstream.parent))
    try:
        yield building
    finally:
        if building.exists():
            shutil.rmtree(building, ignore_errors=True)


def _move_into_place(building: Path, upstream: Path) -> None:
    """Put the new tree in place in one atomic step where the OS allows it, so a kill leaves old or new.

    Linux's renameat2(RENAME_EXCHANGE) swaps the two folders atomically; elsewhere two renames are used and
    a kill between them is undone by the next fetch (_sweep_stale_temporaries puts the old tree back).
    """
    if not upstream.exists():
        os.replace(building, upstream)
        return
    if _exchange(building, upstream):
        shutil.rmtree(building, ignore_errors=True)  # now holds the old tree
        return
    retired = Path(tempfile.mkdtemp(prefix=f".{upstream.name}.old-", dir=upstream.parent))
    retired.rmdir()
    os.replace(upstream, retired)
    try:
        os.replace(building, upstream)
    except BaseException:
        os.replace(retired, upstream)
        raise
    shutil.rmtree(retired, ignore_errors=True)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(first: Path, second: Path) -> bool:
    """Atomically swap two paths with renameat2; False where that is not available."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    result = renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE)
    return bool(result == 0)


def _sweep_stale_temporaries(parent: Path, name: str) -> None:
    """Remove what an earlier, killed fetch left beside upstream/ (never upstream/ itself)."""
    if not parent.is_dir():
        return
    retired = sorted(parent.glob(f".{name}.old-*"))
    if retired and not (parent / name).exists():
        os.replace(retired[-1], parent / name)  # killed mid-swap: the old tree goes back first
    for leftover in parent.glob(f".{name}.tmp-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    for leftover in parent.glob(f".{name}.old-*"):
        if (parent / name).exists():
            shutil.rmtree(leftover, ignore_errors=True)
