"""gitrepo.py: the one place git runs: loaded lazily, hardened against repository config, failures made clear."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from helpers import git
from phase17.errors import FetchError, ToolError
from phase17.upstream import gitrepo


def test_without_git_every_operation_is_one_clear_error(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert not gitrepo.git_available()
    with pytest.raises(ToolError, match=r"^git is not installed or not on PATH; install git"):
        gitrepo.require_git()
    with pytest.raises(ToolError, match="git is not installed"):
        gitrepo.head_commit(tmp_path)
    assert gitrepo.file_versions(tmp_path, "a.py") == []  # no git, no history: never an error


def test_a_repositorys_own_config_never_runs_a_program(tmp_path: Path, git_source):
    repo = tmp_path / "hostile"
    subprocess.run(["git", "clone", "-q", str(git_source[0]), str(repo)], check=True)
    marker = tmp_path / "pwned"
    git(repo, "config", "core.fsmonitor", f"touch {marker}; false")
    hooks = repo / ".git" / "hooks"
    for hook in ("post-checkout", "reference-transaction", "pre-commit"):
        (hooks / hook).write_text(f"#!/bin/sh\ntouch {marker}\n")
        (hooks / hook).chmod(0o755)
    (repo / "new.py").write_text("x = 1\n")
    assert gitrepo.worktree_status(repo).changed == ["new.py"]
    assert gitrepo.head_commit(repo).sha == git_source[2]
    gitrepo.keep_ref(repo, "kept")
    assert not marker.exists()


def test_a_location_that_looks_like_an_option_is_refused(tmp_path: Path):
    with pytest.raises(FetchError, match="is not a repository location"):
        gitrepo.remote_tags("--upload-pack=touch /tmp/x")
    with pytest.raises(FetchError, match="is not a repository location"):
        gitrepo.fetch_commit(tmp_path / "new", "-oProxyCommand=x", "a" * 40, "v1")


def test_not_a_repository_is_told_apart(plain_upstream: Path):
    with pytest.raises(gitrepo.NotARepositoryError):
        gitrepo.head_commit(plain_upstream)


def test_a_commit_records_every_file_with_a_fixed_date(tmp_path: Path):
    folder = tmp_path / "tree"
    folder.mkdir()
    (folder / "a.py").write_text("a = 1\n")
    (folder / ".gitignore").write_text("*.py\n")  # the tree's own ignore rules never drop a file of the tree
    gitrepo.commit_all(folder, "subject\n\nTrailer: yes\n", "2000-01-01T00:00:00+0000")
    assert git(folder, "ls-files").split() == [".gitignore", "a.py"]
    assert git(folder, "log", "-1", "--format=%ad %s", "--date=iso-strict") == "2000-01-01T00:00:00+00:00 subject"


def test_the_worktree_status_names_renames_both_ways_and_ignored_files_apart(tmp_path: Path, git_source):
    repo = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(git_source[0]), str(repo)], check=True)
    tracked = sorted(path for _, _, path in gitrepo.tree_files(repo, "HEAD"))
    assert tracked and all(len(digest) == 40 for _, digest, _ in gitrepo.tree_files(repo, "HEAD"))
    moved = next(path for path in tracked if path.endswith(".py"))
    git(repo, "mv", moved, "renamed.py")
    (repo / ".git" / "info" / "exclude").write_text("build/\n")
    (repo / "build").mkdir()
    (repo / "build" / "made.py").write_text("x = 1\n")
    (repo / "odd name\twith tab.py").write_text("y = 2\n")
    status = gitrepo.worktree_status(repo)
    assert sorted(status.changed) == sorted(["renamed.py", "odd name\twith tab.py"])
    assert sorted(status.differing) == sorted([moved, "renamed.py", "odd name\twith tab.py", "build/"])


def test_verification_started_early_is_read_once_and_what_is_never_read_is_stopped(tmp_path: Path, git_source):
    repo = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(git_source[0]), str(repo)], check=True)
    assert gitrepo.prefetch_verification(tmp_path) is None  # no checkout there: nothing started
    prefetched = gitrepo.prefetch_verification(repo)
    assert prefetched is not None and len(prefetched.started) == 3
    for started in prefetched.started.values():
        started.wait()  # (small outputs: nothing blocks on the pipes)
    (repo / "late.py").write_text("x = 1\n")  # the status ran before this file existed...
    assert prefetched.take(tmp_path, next(iter(prefetched.started))) is None  # another tree's question takes none
    assert len(prefetched.started) == 3
    assert gitrepo.head_commit(repo, prefetched).sha == git_source[2]
    assert gitrepo.worktree_status(repo, prefetched).changed == []  # ...and is what the first question after it gets
    assert prefetched.started == {}
    assert gitrepo.worktree_status(repo, prefetched).changed == ["late.py"]  # used once: then git runs again

    again = gitrepo.prefetch_verification(repo)
    assert again is not None
    started = list(again.started.values())
    again.stop_unread()
    assert again.started == {} and all(process.returncode is not None for process in started)


def _sign_head(repo: Path) -> None:
    """Rewrite HEAD as a commit carrying a (fake) signature, so `log.showSignature` would start gpg."""
    body = git(repo, "cat-file", "commit", "HEAD")
    header, _, message = body.partition("\n\n")
    signature = "gpgsig -----BEGIN PGP SIGNATURE-----\n \n iQEzBAABCAAdFiEE\n -----END PGP SIGNATURE-----"
    signed = f"{header}\n{signature}\n\n{message}"
    sha = (
        subprocess.run(
            ["git", "hash-object", "-t", "commit", "-w", "--stdin"],
            cwd=repo,
            input=signed.encode(),
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .strip()
    )
    git(repo, "update-ref", "HEAD", sha)


def test_no_program_named_in_a_checkouts_config_or_attributes_runs(tmp_path: Path, git_source):
    repo = tmp_path / "hostile"
    subprocess.run(["git", "clone", "-q", str(git_source[0]), str(repo)], check=True)
    _sign_head(repo)
    marker = tmp_path / "ran"
    script = tmp_path / "evil.sh"
    script.write_text(f'#!/bin/sh\necho "$0 $*" >> {marker}\ncat\n')
    script.chmod(0o755)
    for key, value in {
        "filter.evil.clean": str(script),
        "filter.evil.smudge": str(script),
        "filter.evil.required": "true",
        "filter.multi.process": str(script),
        "diff.evil.textconv": str(script),
        "diff.evil.command": str(script),
        "diff.external": str(script),
        "log.showSignature": "true",
        "gpg.program": str(script),
        "gpg.openpgp.program": str(script),
        "core.sshCommand": str(script),
        "core.pager": str(script),
        "credential.helper": f"!{script}",
    }.items():
        git(repo, "config", key, value)
    (repo / ".gitattributes").write_text("*.py filter=evil diff=evil\n")
    (repo / ".git" / "info" / "attributes").write_text("* filter=multi\n")
    tracked = next(path for _, _, path in gitrepo.tree_files(repo, "HEAD") if path.endswith(".py"))
    (repo / tracked).write_text((repo / tracked).read_text())  # same content, new stat: git must hash it again
    head = gitrepo.head_commit(repo)
    assert head.sha == git(repo, "rev-parse", "HEAD")
    assert ".gitattributes" in gitrepo.worktree_status(repo).changed
    gitrepo.history_messages(repo)
    assert gitrepo.paths_changed_since(repo, head.tree) == []
    assert gitrepo.file_versions(repo, tracked)
    gitrepo.keep_ref(repo, "kept")
    assert not marker.exists(), marker.read_text()


def test_entries_hidden_from_status_count_as_modified(tmp_path: Path, git_source):
    repo = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(git_source[0]), str(repo)], check=True)
    first, second = [path for _, _, path in gitrepo.tree_files(repo, "HEAD") if path.endswith(".py")][:2]
    for path, flag in ((first, "--skip-worktree"), (second, "--assume-unchanged")):
        (repo / path).write_text((repo / path).read_text() + "planted = True\n")
        git(repo, "update-index", flag, path)
    assert git(repo, "status", "--porcelain") == ""  # git itself no longer sees them
    assert sorted(gitrepo.worktree_status(repo).changed) == sorted([first, second])
