"""Put exactly the pinned tree in upstream/: a depth-1 git fetch, or the verified PyPI sdist made into a git repo.

A new tree is always built in a temporary folder beside upstream/ and swapped into place (swap.py), so an
interrupted fetch leaves the old upstream/ as it was. Progress goes through a ProgressReporter; nothing prints.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from phase17.errors import FetchError, NetworkError, ToolError, UnreadableSourceError, UpstreamError
from phase17.progress import ProgressReporter, SilentReporter
from phase17.safety.files import read_limited, safe_folder, write_text_atomically
from phase17.safety.locks import filling
from phase17.upstream import gitrepo, sdist
from phase17.upstream.checkout import (
    COMMIT_TRAILER,
    PROVENANCE_FILE,
    TREE_TRAILER,
    UNVERIFIED_MARK,
    UpstreamState,
    inspect_upstream,
    keep_as_history,
    same_commit,
)
from phase17.upstream.pin import Pin
from phase17.upstream.swap import building_beside, move_into_place, sweep_stale_temporaries

SourceKind = Literal["git", "pypi"]
_FIXED_DATE = "2000-01-01T00:00:00+0000"  # the same sdist always gives the same commit
_VERSION = re.compile(r"^v?(\d+(?:\.\d+)*(?:(?:a|b|rc|\.post|\.dev)\d+)*)$")
_HEX = re.compile(r"^[0-9a-f]{7,40}$")


@dataclass(frozen=True)
class FetchResult:
    """What a fetch did and what upstream/ now holds."""

    state: UpstreamState
    source: SourceKind
    origin: str  # the URL, path or sdist file name the tree came from
    up_to_date: bool = False  # nothing was fetched: upstream/ already matched
    downloaded: bool = False  # the sdist came over the network rather than from the cache
    sha256: str | None = None


def needs_consent(pin: Pin, source: str, trusted: Sequence[str]) -> bool:
    """A pin naming a repository other than the `trusted` ones (the reading guide's, and one the reader named)
    is fetched from only with the reader's yes."""
    if source not in ("auto", "git"):
        return False
    return _same_repository(pin.repository) not in {_same_repository(repository) for repository in trusted}


def _same_repository(repository: str) -> str:
    return repository.strip().removesuffix("/").removesuffix(".git")


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
    of a git repository holding the pinned commit. A verified upstream/ is left alone unless `force`; one with
    local edits or at another commit is only replaced with `force`, and never when it is not `replaceable` (a
    reader's own clone named with --upstream). With `keep_history_as`, the tree being replaced stays in the new
    upstream/'s git history, so drift can be diffed after a re-pin. `verify=False` (--insecure-skip-verify)
    skips the sdist's sha256 and commit checks, says so through the reporter, and records it.
    """
    reporter = reporter or SilentReporter()
    gitrepo.require_git()  # both sources end in a git checkout; say so before any download
    if replaceable:
        sweep_stale_temporaries(upstream.parent, upstream.name)
    state = inspect_upstream(upstream, pin)
    if state.is_verified and not force:
        return FetchResult(
            state=state, source="pypi" if state.source == "pypi" else "git", origin="upstream/", up_to_date=True
        )
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
            reporter.detail(error.detail)
            return _fetch_pypi(pin, upstream, cache_dir, reporter, index_url, history, verify)
    return _fetch_git(pin, upstream, _git_location(source), reporter, history)


def _refuse_to_replace(state: UpstreamState, pin: Pin, *, force: bool, replaceable: bool) -> None:
    descriptions = {
        "matches": "holds the pinned tree",
        "not-a-checkout": "is not a git checkout phase17 can verify",
        "unverifiable": "cannot be verified without git",
        "other-commit": f"is at {(state.carries or '')[:7]}, not the pinned {pin.describe()}",
    }
    listed = ", ".join(state.modified[:5]) + (" ..." if len(state.modified) > 5 else "")
    what = descriptions.get(state.status, f"has {len(state.modified)} modified or untracked file(s): {listed}")
    if not replaceable:
        raise UpstreamError(
            f"{state.path} {what}; it is your own checkout, so phase17 will not replace it: "
            f"run git -C {state.path} checkout --detach {pin.commit[:12]} there, or drop --upstream."
        )
    if not force:
        raise UpstreamError(
            f"{state.path} {what}; run phase17 fetch --force to replace it (anything changed there is lost)."
        )


def _git_location(source: str) -> str:
    if "://" in source or source.startswith("git@"):
        return source
    path = Path(source).expanduser()
    if not path.exists():
        raise FetchError(f"--source {source}: no such folder; give auto, git, pypi, a path to a clone or a URL.")
    return str(path.resolve())


def _fetch_git(
    pin: Pin, upstream: Path, location: str, reporter: ProgressReporter, history: Path | None
) -> FetchResult:
    with building_beside(upstream) as building:
        if history is not None:
            _carry_history(history, building)
        reporter.start(f"git fetch --depth 1 {pin.short} from {location}", None)
        try:
            head = gitrepo.fetch_commit(building, location, pin.commit, pin.tag)
        finally:
            reporter.finish()
        if not same_commit(head, pin.commit):
            raise FetchError(f"{location}: HEAD is {head[:12]} after checkout, not the pinned {pin.commit[:12]}.")
        _write_provenance(building, {"source": "git", "location": location, "tag": pin.tag, "commit": pin.commit})
        move_into_place(building, upstream)
    return FetchResult(state=inspect_upstream(upstream, pin), source="git", origin=location)


def _fetch_pypi(
    pin: Pin,
    upstream: Path,
    cache_dir: Path,
    reporter: ProgressReporter,
    index_url: str | None,
    history: Path | None,
    verify: bool,
) -> FetchResult:
    archive, sha256, downloaded = sdist.cached_or_downloaded_sdist(pin, cache_dir, reporter, index_url, verify)
    with building_beside(upstream) as building:
        try:
            sdist.extract_safely(archive, building, reporter)
        except FetchError as error:  # an archive the cache must not offer again: the next fetch downloads anew
            sdist.forget_cached(archive)
            raise FetchError(f"{error} It was removed from the cache.") from None
        claimed = pin.commit  # verified below; with --insecure-skip-verify, what the tree itself says
        try:
            commit_id = sdist.verify_version_commit(building, pin)
        except FetchError as error:
            if verify:
                raise
            reporter.notice(f"INSECURE: not refused, as asked: {error}")
            commit_id = "unverified"
            claimed = sdist.claimed_commit_id(building, pin)
        if history is not None:
            _carry_history(history, building)  # the old tree becomes the parent commit
        message = (
            f"{pin.pypi_distribution} {pin.pypi_version} ({pin.tag}) from the PyPI sdist {archive.name}\n\n"
            f"Source: {archive.name}\nSha256: {sha256}\nVersion-Commit-Id: {commit_id}\n"
            + ("" if verify else f"{UNVERIFIED_MARK}\n")
            + f"{COMMIT_TRAILER}: {claimed}\n"
        )
        reporter.start("record the tree as a git commit", None)
        try:
            gitrepo.commit_all(building, message, _FIXED_DATE, tree_trailer=TREE_TRAILER)
        finally:
            reporter.finish()
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
        move_into_place(building, upstream)
    return FetchResult(
        state=inspect_upstream(upstream, pin), source="pypi", origin=archive.name, downloaded=downloaded, sha256=sha256
    )


def _carry_history(history: Path, building: Path) -> None:
    """The old checkout's .git, under the tree being built, without the lock files a git process killed midway
    leaves behind (each would stop every later git command there: "index.lock: File exists")."""
    shutil.copytree(history, building / ".git", symlinks=True, ignore=shutil.ignore_patterns("*.lock"))


def _write_provenance(tree: Path, fields: dict[str, str]) -> None:
    lines = [f"{key}: {value}" for key, value in fields.items()]
    (tree / ".git" / PROVENANCE_FILE).write_text("\n".join(lines) + "\n", encoding="utf-8")


# ---------------------------------------------------------------- re-pinning


def plan_repin(
    current: Pin,
    ref: str,
    *,
    cache_dir: Path,
    reporter: ProgressReporter | None = None,
    index_url: str | None = None,
    known_commits: Sequence[str] = (),
) -> Pin:
    """The pin that REF names: a tag (v0.23.0), a version (0.23.0) or a commit that a release tag points at.

    The commit comes from the git remote when it can be reached (a full sha), else from the version's sdist
    (the 9-character prefix its _version.py records), made whole when a full commit that starts with it is
    known (the current pin, or the upstream commits upstream/'s history records: `known_commits`).
    """
    reporter = reporter or SilentReporter()
    ref = ref.strip()
    version_match = _VERSION.match(ref)
    if version_match and not (_HEX.match(ref) and not ref.startswith("v") and "." not in ref):
        version = version_match.group(1)
        tag = f"v{version}"
        try:
            commit = _remote_tag_commit(current.repository, tag)
        except (NetworkError, ToolError) as error:  # no remote, or no git: the sdist still says
            reporter.notice(f"{error} Reading the commit of {current.pypi_distribution} {version} from its PyPI sdist.")
            provisional = replace(current, tag=tag, pypi_version=version, commit="0" * 40)
            commit = sdist.sdist_commit_id(provisional, cache_dir, reporter, index_url)
            whole = [
                known for known in (current.commit, *known_commits) if len(known) == 40 and known.startswith(commit)
            ]
            commit = whole[0] if whole else commit
        return replace(current, tag=tag, commit=commit, pypi_version=version)
    if _HEX.match(ref):
        tags = gitrepo.remote_tags(current.repository)  # a bare commit needs git: PyPI cannot say which release
        for tag, commit in tags.items():
            version_of_tag = _VERSION.match(tag)
            if commit.startswith(ref) and version_of_tag:
                return replace(current, tag=tag, commit=commit, pypi_version=version_of_tag.group(1))
        raise FetchError(
            f"no release tag of {current.repository} points at {ref}; phase17 pins releases (a tag or a version)."
        )
    raise FetchError(f"{ref!r} is not a tag (v0.23.0), a version (0.23.0) or a commit sha.")


def _remote_tag_commit(repository: str, tag: str) -> str:
    tags = gitrepo.remote_tags(repository)
    if tag not in tags:
        raise FetchError(f"{repository} has no tag {tag}.")
    return tags[tag]


def release_tree(
    current: Pin,
    ref: str,
    *,
    cache_dir: Path,
    reporter: ProgressReporter | None = None,
    index_url: str | None = None,
) -> tuple[Pin, Path]:
    """Another release's tree, fetched and verified into the user cache, the pin left as it is: what the contract
    and a plugin are compared against (`contract --against`, `plugins check --against`, `plugins matrix`).

    The release comes from the pin's own repository and package, never from anything the cache holds. Its tree is
    trusted as the pin's is, on every use: a clean checkout whose commit is the release's, whose `_version.py`
    records that commit and whose PKG-INFO names that version; anything else is fetched again. A second phase17
    process asking for the same release waits for the first and uses its tree."""
    reporter = reporter or SilentReporter()
    releases = safe_folder(cache_dir / "releases", cache_dir)
    planned = releases / (_file_name(ref) + ".pin.json")  # what REF named last time: reading a commit is slow
    other = _planned_release(current, ref, planned) or plan_repin(
        current, ref, cache_dir=cache_dir, reporter=reporter, index_url=index_url
    )
    tree = releases / _file_name(other.pypi_version) / "upstream"
    with filling(cache_dir, tree.parent, f"{other.pypi_distribution} {other.pypi_version}", reporter):
        if not trusted_release(tree, other):
            safe_folder(tree.parent, releases)
            source = "auto" if len(other.commit) == 40 else "pypi"
            fetch_upstream(
                other, tree, source=source, force=True, cache_dir=cache_dir, reporter=reporter, index_url=index_url
            )
            if not trusted_release(tree, other):
                raise FetchError(f"the tree fetched for {other.describe()} does not verify; nothing of it is used.")
        fields = {"tag": other.tag, "commit": other.commit, "pypi_version": other.pypi_version}
        write_text_atomically(planned, json.dumps(fields))  # only for a tree just verified against it
    return other, tree


def trusted_release(tree: Path, release: Pin) -> bool:
    """A release tree is used only as the pin's is: a clean, verified checkout of the release's commit, whose
    `_version.py` (for a tree made from the sdist) records that commit and whose PKG-INFO names that version."""
    from phase17.upstream.checkout import inspect_upstream

    state = inspect_upstream(tree, release)
    if not state.is_verified:
        return False
    if state.source == "git":
        return True  # git's own commit id is a digest of the tree it names
    try:
        sdist.verify_version_commit(tree, release)
    except FetchError:
        return False
    return True


_PLANNED_FIELDS = frozenset({"tag", "commit", "pypi_version"})


def _planned_release(current: Pin, ref: str, planned: Path) -> Pin | None:
    """The release REF named last time, from the cache, when the record says nothing but a tag, a commit and a
    version that agree with REF (it can never name another repository or package); else None (planned again)."""
    try:
        data = json.loads(read_limited(planned, 4096, root=planned.parent))
    except (OSError, ValueError, UnreadableSourceError):
        return None
    if not isinstance(data, dict) or set(data) != _PLANNED_FIELDS or not all(isinstance(v, str) for v in data.values()):
        return None
    version = data["pypi_version"]
    asked = _VERSION.match(ref.strip())
    if (
        not _VERSION.match(version)
        or data["tag"] != f"v{version}"
        or not _HEX.match(data["commit"])
        or (asked is not None and asked.group(1) != version)
    ):
        return None
    return replace(current, tag=data["tag"], commit=data["commit"], pypi_version=version)


def _file_name(text: str) -> str:
    return re.sub(r"[^\w.+-]", "_", text)
