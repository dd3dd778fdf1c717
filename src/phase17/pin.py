"""The pin (UPSTREAM_PIN.md) and the proof that a checkout in upstream/ is the pinned tree (gitpython's home)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import git

from phase17.errors import PinFileError, ProjectNotFoundError, YamlFileError
from phase17.yamlfile import LineDict, parse_yaml

PIN_FILE_NAME = "UPSTREAM_PIN.md"
# A pypi-sourced upstream/ is a fresh git repository whose one commit names the upstream commit it carries.
COMMIT_TRAILER = "Phase17-Upstream-Commit"
PROVENANCE_FILE = "phase17-provenance.yaml"  # kept in upstream/.git/, so the tree stays exactly upstream's

_FENCE = re.compile(r"^```ya?ml\s*$")
# A full sha when git could be reached; the sdist's _version.py records only a 9-character prefix.
_SHA = re.compile(r"^[0-9a-f]{7,40}$")
HISTORY_REF_PREFIX = "refs/phase17/"
UNVERIFIED_MARK = "Verification: skipped (--insecure-skip-verify)"
# The repositories phase17 fetches from without asking; any other in the pin needs the reader's yes.
KNOWN_REPOSITORIES = ("https://github.com/vllm-project/vllm", "https://github.com/vllm-project/vllm.git")  # each tree phase17 replaced stays reachable here, for drift diffs


@dataclass(frozen=True)
class Pin:
    """What upstream/ must hold: one commit of one repository, and the sdist that carries the same tree."""

    repository: str
    tag: str
    commit: str
    pypi_distribution: str
    pypi_version: str

    @property
    def short(self) -> str:
        return self.commit[:7]

    def describe(self) -> str:
        return f"{self.tag} @ {self.short}"


@dataclass(frozen=True)
class ProjectPaths:
    """Where a phase17 project keeps its pin, upstream tree, notes and rendered notebook."""

    root: Path
    upstream: Path

    @property
    def pin_file(self) -> Path:
        return self.root / PIN_FILE_NAME

    @property
    def annotations(self) -> Path:
        return self.root / "annotations"

    @property
    def notebooks(self) -> Path:
        return self.root / "notebooks"


UpstreamStatus = Literal["missing", "not-a-checkout", "matches", "other-commit", "modified"]


@dataclass(frozen=True)
class UpstreamState:
    """What upstream/ holds compared with the pin."""

    status: UpstreamStatus
    path: Path
    head: str | None = None  # the checkout's own HEAD
    carries: str | None = None  # the upstream commit its tree is (HEAD itself, or a pypi tree's trailer)
    source: str | None = None  # "git" or "pypi"
    modified: tuple[str, ...] = ()
    verified: bool = True  # False when fetched with --insecure-skip-verify

    @property
    def is_verified(self) -> bool:
        return self.status == "matches" and self.verified


def pin_data(pin: Pin, state: UpstreamState) -> dict[str, object]:
    """The JSON form of `phase17 pin`: the pin and what upstream/ holds."""
    return {
        "repository": pin.repository,
        "tag": pin.tag,
        "commit": pin.commit,
        "pypi": {"distribution": pin.pypi_distribution, "version": pin.pypi_version},
        "upstream": {
            "path": str(state.path),
            "status": state.status,
            "head": state.head,
            "carries": state.carries,
            "source": state.source,
            "verified": state.verified,
            "modified": list(state.modified),
        },
    }


def locate_project(start: Path, upstream_override: Path | None = None) -> ProjectPaths:
    """Walk up from `start` to the folder holding UPSTREAM_PIN.md, so every command works from any subfolder."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / PIN_FILE_NAME).is_file():
            upstream = upstream_override.expanduser().resolve() if upstream_override else folder / "upstream"
            return ProjectPaths(root=folder, upstream=upstream)
    raise ProjectNotFoundError(
        f"no {PIN_FILE_NAME} in {start} or any folder above it; run phase17 inside a phase17 project checkout."
    )


def load_pin(pin_file: Path) -> Pin:
    """Read the one fenced YAML block of UPSTREAM_PIN.md, strictly: known keys, right types, a full sha."""
    try:
        text = pin_file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PinFileError(f"{pin_file}: file not found; restore it from git (git checkout -- {pin_file.name}).") from None
    except (OSError, UnicodeDecodeError) as error:
        raise PinFileError(f"{pin_file}:1: cannot read it as UTF-8 text ({error})") from None
    block, first_line = _fenced_yaml_block(text, str(pin_file))
    try:
        data = parse_yaml(block, str(pin_file), line_offset=first_line - 1)
    except YamlFileError as error:
        raise PinFileError(str(error)) from None
    return _pin_from_data(data, str(pin_file), first_line)


def _fenced_yaml_block(text: str, shown: str) -> tuple[str, int]:
    lines = text.splitlines()
    openings = [number for number, line in enumerate(lines) if _FENCE.match(line.strip())]
    if len(openings) != 1:
        found = "no" if not openings else f"{len(openings)}"
        raise PinFileError(f"{shown}:1: expected exactly one ```yaml fenced block, found {found}")
    start = openings[0] + 1
    for end in range(start, len(lines)):
        if lines[end].strip() == "```":
            return "\n".join(lines[start:end]) + "\n", start + 1
    raise PinFileError(f"{shown}:{start}: the ```yaml block is never closed with ```")


def _pin_from_data(data: object, shown: str, first_line: int) -> Pin:
    if not isinstance(data, LineDict):
        raise PinFileError(f"{shown}:{first_line}: the yaml block must be a mapping of repository, tag, commit, pypi")
    expected = {"repository", "tag", "commit", "pypi"}
    _check_keys(data, expected, shown, "the pin")
    pypi = data["pypi"]
    if not isinstance(pypi, LineDict):
        raise PinFileError(f"{shown}:{data.key_lines['pypi']}: pypi must be a mapping with distribution and version")
    _check_keys(pypi, {"distribution", "version"}, shown, "pypi")
    values: dict[str, str] = {}
    for mapping, key in ((data, "repository"), (data, "tag"), (data, "commit"), (pypi, "distribution"), (pypi, "version")):
        value = mapping[key]
        if isinstance(value, (int, float)) and key == "version":
            value = str(value)  # an unquoted 0.22 is still a version
        if isinstance(value, int) and key == "commit":
            raise PinFileError(f"{shown}:{mapping.key_lines[key]}: YAML reads this commit as a number; quote it: commit: '{value}'")
        if not isinstance(value, str) or not value.strip():
            raise PinFileError(f"{shown}:{mapping.key_lines[key]}: {key} must be a non-empty string")
        values[key] = value.strip()
    if not _SHA.match(values["commit"]):
        raise PinFileError(
            f"{shown}:{data.key_lines['commit']}: commit must be a lowercase hex sha (7 to 40 characters, full preferred), "
            f"not {values['commit']!r}"
        )
    return Pin(
        repository=values["repository"],
        tag=values["tag"],
        commit=values["commit"],
        pypi_distribution=values["distribution"],
        pypi_version=values["version"],
    )


def _check_keys(mapping: LineDict, expected: set[str], shown: str, where: str) -> None:
    unknown = [key for key in mapping if key not in expected]
    if unknown:
        key = unknown[0]
        raise PinFileError(f"{shown}:{mapping.key_lines[key]}: unknown key {key!r} in {where} (expected {', '.join(sorted(expected))})")
    missing = sorted(expected - set(mapping))
    if missing:
        raise PinFileError(f"{shown}:{mapping.line}: {where} is missing {', '.join(missing)}")


def inspect_upstream(upstream: Path, pin: Pin) -> UpstreamState:
    """Say whether `upstream` holds exactly the pinned tree: missing, matches, other commit, or modified (listed)."""
    if not upstream.exists() or (upstream.is_dir() and not any(upstream.iterdir())):
        return UpstreamState(status="missing", path=upstream)
    try:
        repo = git.Repo(upstream)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return UpstreamState(status="not-a-checkout", path=upstream)
    if repo.working_tree_dir is None or Path(repo.working_tree_dir).resolve() != upstream.resolve():
        return UpstreamState(status="not-a-checkout", path=upstream)
    try:
        head = repo.head.commit
    except ValueError:  # a repository with no commit yet
        return UpstreamState(status="not-a-checkout", path=upstream)
    carries, source = head.hexsha, "git"
    trailer = _trailer(str(head.message))
    if trailer and not same_commit(head.hexsha, pin.commit):
        carries, source = trailer, "pypi"
    modified = tuple(_changed_paths(repo))
    if not same_commit(carries, pin.commit):
        status: UpstreamStatus = "other-commit"
    elif modified:
        status = "modified"
    else:
        status = "matches"
    verified = UNVERIFIED_MARK not in str(head.message)
    return UpstreamState(status=status, path=upstream, head=head.hexsha, carries=carries, source=source, modified=modified, verified=verified)


def same_commit(first: str, second: str) -> bool:
    """Two shas name the same commit when one is a prefix (of at least 7 characters) of the other."""
    shorter, longer = sorted((first, second), key=len)
    return len(shorter) >= 7 and longer.startswith(shorter)


def _trailer(message: str) -> str | None:
    found = re.search(rf"^{COMMIT_TRAILER}: ([0-9a-f]{{7,40}})$", message, re.MULTILINE)
    return found.group(1) if found else None


@dataclass(frozen=True)
class HistoricFile:
    """One version of a file in upstream/'s history: the upstream commit its tree carries, and its bytes."""

    carries: str
    content: bytes


def file_history(upstream: Path, path: str, limit: int = 20) -> list[HistoricFile]:
    """The versions of `path` in upstream/'s commits, newest first: HEAD, its parents, then kept refs.

    `pin REF` keeps each replaced tree as a parent commit (pypi) or under refs/phase17/ (git), so `check`
    can show what a changed anchor looked like when the note was written.
    """
    try:
        repo = git.Repo(upstream)
        commits = list(repo.iter_commits("HEAD", max_count=limit))
        seen = {commit.hexsha for commit in commits}
        for ref in repo.refs:
            if ref.path.startswith(HISTORY_REF_PREFIX) and ref.commit.hexsha not in seen:
                commits.append(ref.commit)
                seen.add(ref.commit.hexsha)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError, ValueError, git.GitCommandError):
        return []
    versions = []
    for commit in commits:
        try:
            blob = commit.tree / path
        except KeyError:
            continue
        versions.append(HistoricFile(carries=_trailer(str(commit.message)) or commit.hexsha, content=blob.data_stream.read()))
    return versions


def keep_as_history(upstream: Path, label: str) -> None:
    """Point refs/phase17/<label> at upstream/'s HEAD so the tree stays reachable after HEAD moves on."""
    repo = git.Repo(upstream)
    repo.git.update_ref(f"{HISTORY_REF_PREFIX}{re.sub(r'[^A-Za-z0-9._-]', '_', label)}", "HEAD")


def write_pin(pin_file: Path, pin: Pin) -> None:
    """Rewrite only the fenced YAML block of UPSTREAM_PIN.md; the prose around it is kept."""
    from phase17.yamlfile import write_text_atomically

    text = pin_file.read_text(encoding="utf-8")
    _, first_line = _fenced_yaml_block(text, str(pin_file))
    lines = text.splitlines(keepends=True)
    end = next(index for index in range(first_line - 1, len(lines)) if lines[index].strip() == "```")
    block = (
        f"repository: {pin.repository}\ntag: {pin.tag}\ncommit: '{pin.commit}'\n"
        f"pypi:\n  distribution: {pin.pypi_distribution}\n  version: '{pin.pypi_version}'\n"
    )
    write_text_atomically(pin_file, "".join(lines[: first_line - 1]) + block + "".join(lines[end:]))


def _changed_paths(repo: git.Repo) -> list[str]:
    # -z keeps unusual file names intact; untracked files count, since the tree must be exactly upstream's.
    output = repo.git.status("--porcelain=v1", "-z", "--untracked-files=all")
    paths = []
    entries = output.split("\0")
    index = 0
    while index < len(entries):
        entry = entries[index]
        index += 1
        if len(entry) < 4:
            continue
        code, name = entry[:2], entry[3:]
        if "R" in code or "C" in code:
            index += 1  # the rename's source path follows
        paths.append(name)
    return paths
