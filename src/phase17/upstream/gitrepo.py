"""GitPython's one home: loaded only when a command needs git, run with a hardened configuration, and every
failure turned into one clear Phase17Error (a missing git must never be a traceback).

Every process runs with `gitenv.safe_environment`: see there why and how.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from phase17.errors import FetchError, NetworkError, ToolError
from phase17.upstream.gitenv import TIMEOUT_SECONDS, environment_changes, executable, safe_environment

HISTORY_REF_PREFIX = "refs/phase17/"
_HEAD_ARGUMENTS = ("log", "-1", "--no-show-signature", "--format=%H%n%T%n%B", "HEAD")
_STATUS_ARGUMENTS = (
    "status",
    "--porcelain=v1",
    "-z",
    "--untracked-files=all",
    "--ignored=matching",
    "--ignore-submodules=all",
)
# Entries git's status no longer looks at (`update-index --skip-worktree` / `--assume-unchanged`): tag S or a
# lower-case letter in `ls-files -v`.
_FLAGS_ARGUMENTS = ("ls-files", "-v", "-z")
_IDENTITY = {"user.name": "phase17", "user.email": "phase17@localhost"}
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


class NotARepositoryError(Exception):
    """Internal: the folder is not the top of a git checkout with a commit (callers turn it into a state)."""


def git_available() -> bool:
    return shutil.which(executable()) is not None


def require_git() -> None:
    """Fail early, with the one clear message, when a command that must run git cannot."""
    _module()


def require_gitexecutable() -> None:
    if not git_available():
        raise ToolError("git is not installed or not on PATH; install git (e.g. apt-get install git) and try again.")


def _module() -> Any:
    """The git module, imported on first use; a missing git is one ToolError, not GitPython's ImportError."""
    require_gitexecutable()
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")  # GitPython raises at import without git; we checked
    try:
        import git
    except ImportError as error:
        raise ToolError(f"GitPython cannot start git ({error}); check that git runs from this shell.") from None
    return git


def _repo(path: Path) -> Any:
    git = _module()
    try:
        repo = git.Repo(path)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise NotARepositoryError(str(path)) from None
    if repo.working_tree_dir is None or Path(repo.working_tree_dir).resolve() != path.resolve():
        raise NotARepositoryError(str(path))
    return repo


@contextmanager
def _hardened(repo: Any, extra: dict[str, str] | None = None) -> Iterator[Any]:
    """repo.git with the safe environment; git's own errors become a ToolError naming the command."""
    git = _module()
    command = repo.git
    command.update_environment(**environment_changes(Path(repo.working_dir), extra))
    try:
        yield command
    except git.GitCommandError as error:
        message = str(error.stderr or "").strip().removeprefix("stderr: ").strip("' \n") or f"exit {error.status}"
        raise ToolError(
            f"git {error.command[1] if len(error.command) > 1 else ''} failed in {repo.working_dir}: {message}"
        ) from None
    finally:
        repo.close()


# ---------------------------------------------------------------- reading a checkout


@dataclass(frozen=True)
class HeadCommit:
    sha: str
    message: str
    tree: str = ""


def head_commit(path: Path, prefetched: Prefetched | None = None) -> HeadCommit:
    """The checkout's HEAD; NotARepositoryError when `path` is not the top of a checkout with a commit.

    Run as plain git processes (no GitPython): every read command asks this, and importing GitPython costs more
    than the one process.
    """
    require_gitexecutable()
    if not (path / ".git").exists():  # the top of a checkout holds its .git (a folder, or a file for a worktree)
        raise NotARepositoryError(str(path))
    logged = _run_git(path, *_HEAD_ARGUMENTS, missing_repository_ok=True, prefetched=prefetched)
    if logged is None:  # a repository with no commit yet
        raise NotARepositoryError(str(path))
    sha, tree, message = (logged.split("\n", 2) + ["", ""])[:3]
    return HeadCommit(sha=sha.strip(), message=message, tree=tree.strip())


def history_messages(path: Path) -> str:
    """`git log --all` of a checkout (commit lines and messages), "" when it has none."""
    return (
        _run_git(path, "log", "--all", "--no-show-signature", "--format=commit %H%n%B", missing_repository_ok=True)
        or ""
    )


def paths_changed_since(path: Path, tree: str) -> list[str]:
    """Files that differ between the tree `tree` and HEAD's (edits committed on top of a fetched tree)."""
    output = (
        _run_git(
            path,
            "diff",
            "--no-ext-diff",
            "--no-textconv",
            "--name-only",
            "-z",
            tree,
            "HEAD",
            missing_repository_ok=True,
        )
        or ""
    )
    return [name for name in output.split("\0") if name]


@dataclass(frozen=True)
class WorktreeStatus:
    """`git status` of a checkout: what makes it differ from HEAD, and everything that is not HEAD's content."""

    # modified, staged, deleted or untracked (the tree must be exactly upstream's); a rename: its new name
    changed: list[str]
    differing: list[str]  # all of those, renames' old names, and ignored files and folders ("dir/")


def worktree_status(path: Path, prefetched: Prefetched | None = None) -> WorktreeStatus:
    output = _run_git(path, *_STATUS_ARGUMENTS, prefetched=prefetched) or ""
    changed: list[str] = []
    differing: list[str] = []
    entries = output.split("\0")  # -z keeps unusual file names intact
    index = 0
    while index < len(entries):
        entry = entries[index]
        index += 1
        if len(entry) < 4:
            continue
        code, name = entry[:2], entry[3:]
        if "R" in code or "C" in code:
            if index < len(entries):
                differing.append(entries[index])  # the rename's source path follows
            index += 1
        differing.append(name)
        if code != "!!":
            changed.append(name)
    for hidden in _hidden_from_status(path, prefetched):
        if hidden not in changed:
            changed.append(hidden)
            differing.append(hidden)
    return WorktreeStatus(changed=changed, differing=differing)


def _hidden_from_status(path: Path, prefetched: Prefetched | None) -> list[str]:
    """Tracked files git's status skips (`--skip-worktree`, `--assume-unchanged`): they may differ from HEAD
    unseen, so they count as changed."""
    output = _run_git(path, *_FLAGS_ARGUMENTS, prefetched=prefetched) or ""
    return [entry[2:] for entry in output.split("\0") if len(entry) > 2 and (entry[0] == "S" or entry[0].islower())]


def tree_files(path: Path, tree: str) -> list[tuple[str, str, str]]:
    """(mode, object id, path) of every file in the tree `tree` of the checkout at `path`."""
    output = _run_git(path, "ls-tree", "-r", "-z", "--full-tree", tree) or ""
    files = []
    for line in output.split("\0"):
        header, tab, name = line.partition("\t")
        parts = header.split(" ")
        if tab and len(parts) == 3:
            files.append((parts[0], parts[2], name))
    return files


def _run_git(
    path: Path,
    *arguments: str,
    missing_repository_ok: bool = False,
    input_bytes: bytes | None = None,
    prefetched: Prefetched | None = None,
) -> str | None:
    """Run git in `path` with the hardened options and environment; its output as text (the output of the same
    command started earlier, when `prefetched` holds one).

    A failure is a ToolError naming the command, or None when `path` is not a repository (or has no commit)
    and `missing_repository_ok`.
    """
    require_gitexecutable()
    started = prefetched.take(path, arguments) if prefetched is not None else None
    try:
        if started is None:
            started = _start_git(path, arguments, subprocess.DEVNULL if input_bytes is None else subprocess.PIPE)
        stdout, stderr = started.communicate(input_bytes, timeout=TIMEOUT_SECONDS)
    except (OSError, subprocess.TimeoutExpired) as error:
        if started is not None:
            started.kill()
        raise ToolError(f"git {arguments[0]} could not run in {path}: {error}") from None
    if started.returncode == 0:
        return stdout.decode("utf-8", errors="surrogateescape")
    message = stderr.decode("utf-8", errors="replace").strip()
    if missing_repository_ok and (
        "not a git repository" in message
        or "does not have any commits" in message
        or "unknown revision" in message
        or "bad default revision" in message
        or "must be run in a work tree" in message
    ):
        return None
    raise ToolError(f"git {arguments[0]} failed in {path}: {message or f'exit {started.returncode}'}")


def _start_git(path: Path, arguments: tuple[str, ...], stdin: int = subprocess.DEVNULL) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [executable(), *arguments],
        cwd=path,
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=safe_environment(path),
    )


class Prefetched:
    """The git commands that verifying one checkout runs (HEAD, then the status), started before the command line
    loads (prefetch_verification), so they work on another core meanwhile: the status alone is a sixth of a warm
    command. Each answer is read once, by the first question that asks exactly the same thing of the same
    checkout; what is never read is stopped when the program ends."""

    def __init__(self, path: Path) -> None:
        self.path = os.path.realpath(path)
        self.started: dict[tuple[str, ...], subprocess.Popen[bytes]] = {}

    def take(self, path: Path, arguments: tuple[str, ...]) -> subprocess.Popen[bytes] | None:
        if os.path.realpath(path) != self.path:
            return None
        return self.started.pop(arguments, None)

    def stop_unread(self) -> None:
        """Stop what no question read (the command failed first, or it did not verify)."""
        while self.started:
            _, started = self.started.popitem()
            started.kill()
            started.communicate()


def prefetch_verification(path: Path) -> Prefetched | None:
    """Start the git commands that verifying the checkout at `path` runs; None when `path` is no checkout."""
    if not (path / ".git").exists() or not git_available():
        return None
    prefetched = Prefetched(path)
    atexit.register(prefetched.stop_unread)
    for arguments in (_HEAD_ARGUMENTS, _STATUS_ARGUMENTS, _FLAGS_ARGUMENTS):
        try:
            prefetched.started[arguments] = _start_git(path, arguments)
        except OSError:
            break
    return prefetched


def file_versions(path: Path, relative: str, limit: int = 20) -> list[tuple[str, bytes, str]]:
    """(commit message, bytes, commit sha) of `relative` in HEAD, its parents, then the trees kept under
    refs/phase17/."""
    if not git_available() or not (path / ".git").exists():
        return []
    try:
        logged = (
            _run_git(
                path,
                "log",
                "--no-show-signature",
                f"--max-count={limit}",
                "--format=%H%x00%B%x00",
                "HEAD",
                missing_repository_ok=True,
            )
            or ""
        )
        kept = _run_git(path, "for-each-ref", "--format=%(objectname)%00%(contents)%00", HISTORY_REF_PREFIX) or ""
    except ToolError:
        return []

    commits: dict[str, str] = {}
    for listing in (logged, kept):  # each record: sha NUL message NUL (and a newline before the next)
        fields = listing.split("\0")
        for sha, message in zip(fields[0::2], fields[1::2], strict=False):  # (the last field is a lone newline)
            commits.setdefault(sha.strip(), message)
    commits.pop("", None)
    if not commits:
        return []
    requests = "".join(f"{sha}:{relative}\n" for sha in commits).encode("utf-8", errors="surrogateescape")
    started = _start_git(path, ("cat-file", "--batch"), subprocess.PIPE)
    try:
        output, _ = started.communicate(requests, timeout=TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        started.kill()
        return []
    versions = []
    position = 0
    for sha, message in commits.items():
        header_end = output.index(b"\n", position)
        header = output[position:header_end].split()
        position = header_end + 1
        if len(header) != 3 or header[1] != b"blob":
            continue  # "<request> missing": the file is not in that commit
        size = int(header[2])
        versions.append((message, output[position : position + size], sha))
        position += size + 1
    return versions


def keep_ref(path: Path, label: str) -> None:
    """Point refs/phase17/<label> at HEAD, so the tree stays reachable after HEAD moves on."""
    safe = "".join(char if char.isalnum() or char in "._-" else "_" for char in label)
    with _hardened(_repo(path)) as command:
        command.update_ref(f"{HISTORY_REF_PREFIX}{safe}", "HEAD")


# ---------------------------------------------------------------- making a checkout


def fetch_commit(folder: Path, location: str, commit: str, tag: str) -> str:
    """In a new repository at `folder`, fetch only `commit` (depth 1; the tag if the server refuses a bare sha),
    check it out detached and return HEAD. Unreachable remotes raise NetworkError."""
    if location.startswith("-"):
        raise FetchError(f"{location!r} is not a repository location.")
    git = _module()
    repo = git.Repo.init(folder)
    with _hardened(repo) as command:
        try:
            command.fetch("--depth=1", "--no-tags", "--", location, commit, kill_after_timeout=TIMEOUT_SECONDS)
        except git.GitCommandError as error:
            _raise_if_unreachable(error, location)
            try:
                command.fetch(
                    "--depth=1", "--no-tags", "--", location, f"refs/tags/{tag}", kill_after_timeout=TIMEOUT_SECONDS
                )
            except git.GitCommandError as second:
                _raise_if_unreachable(second, location)
                raise FetchError(
                    f"{location} has neither commit {commit[:12]} nor tag {tag}; check the "
                    "repository, or use --source pypi."
                ) from None
            tagged = str(command.rev_parse("FETCH_HEAD^{commit}"))
            if not tagged.startswith(commit[:40]) and not commit.startswith(tagged):
                raise FetchError(
                    f"{location}: tag {tag} is commit {tagged[:12]}, but UPSTREAM_PIN.md pins {commit[:12]}."
                ) from None
        command.checkout("--force", "--detach", "--quiet", "FETCH_HEAD")
        return str(command.rev_parse("HEAD"))


def commit_all(folder: Path, message: str, date: str, tree_trailer: str | None = None) -> None:
    """Make `folder` a repository whose one commit holds every file in it (a fixed identity and date); with
    `tree_trailer`, the message ends with `<tree_trailer>: <tree id>`, so a later amend of the files shows."""
    git = _module()
    repo = git.Repo.init(folder)
    info = folder / ".git" / "info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "exclude").write_text("__pycache__/\n*.pyc\n", encoding="utf-8")
    with _hardened(repo, _IDENTITY) as command:
        command.update_environment(GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
        command.add("--all", "--force")
        if tree_trailer:
            message = f"{message.rstrip()}\n{tree_trailer}: {command.write_tree()}\n"
        command.commit("--quiet", "--no-verify", "-m", message)


def remote_tags(repository: str) -> dict[str, str]:
    """Tag name -> peeled commit sha, from `git ls-remote --tags`."""
    git = _module()
    if repository.startswith("-"):
        raise FetchError(f"{repository!r} is not a repository location.")
    try:
        command = git.Git()
        command.update_environment(**environment_changes(None))
        output = command.ls_remote("--tags", "--", repository, kill_after_timeout=TIMEOUT_SECONDS)
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


def _raise_if_unreachable(error: Any, location: str) -> None:
    message = str(error.stderr or error).strip()
    lowered = message.lower()
    if "does not appear to be a git repository" in lowered or "not a git repository" in lowered:
        raise FetchError(
            f"{location} is not a git repository; give a clone of {location} or use --source pypi."
        ) from None
    if any(sign in lowered for sign in _UNREACHABLE) or error.status in (-9, 137):
        detail = next((line.strip() for line in message.splitlines() if "fatal" in line.lower()), message[:300])
        raise NetworkError(f"Cannot reach {location}.", detail=detail.removeprefix("stderr: ").strip("' ")) from None
