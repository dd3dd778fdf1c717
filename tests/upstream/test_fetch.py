"""fetch.py: the git path, the choice of source, refusals, and atomic replacement under SIGKILL."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import (
    FAKE_COMMIT,
    RecordingReporter,
    build_sdist,
    git,
    publish,
    serve,
    write_pin,
)
from phase17.errors import FetchError, NetworkError, UpstreamError
from phase17.upstream.fetch import fetch_upstream
from phase17.upstream.pin import load_pin


def _fetch(project: Path, **options):
    pin = load_pin(project / "UPSTREAM_PIN.md")
    return fetch_upstream(pin, project / "upstream", cache_dir=project / "cache", **options)


def test_fetch_by_path_is_shallow_and_detached_at_the_pin(project: Path, git_source):
    source, first, _ = git_source
    result = _fetch(project, source=str(source))
    upstream = project / "upstream"
    assert result.state.status == "matches"
    assert git(upstream, "rev-parse", "HEAD") == first
    assert git(upstream, "rev-parse", "--is-shallow-repository") == "true"
    assert git(upstream, "rev-list", "--count", "HEAD") == "1"
    assert "EXTRA" not in (upstream / "vllm" / "platforms" / "cpu.py").read_text()
    assert "source: git" in (upstream / ".git" / "phase17-provenance.yaml").read_text()


def test_head_is_detached(project: Path, git_source):
    _fetch(project, source=str(git_source[0]))
    with pytest.raises(subprocess.CalledProcessError):
        git(project / "upstream", "symbolic-ref", "HEAD")


def test_fetch_by_file_url(project: Path, git_source):
    result = _fetch(project, source=git_source[0].as_uri())
    assert result.state.status == "matches"
    assert result.origin == git_source[0].as_uri()


def test_auto_uses_the_pinned_repository(project: Path):
    result = _fetch(project)  # the test pin's repository is the fixture repo's file:// URL
    assert (result.source, result.state.status) == ("git", "matches")


def test_a_commit_the_source_does_not_have_is_refused(tmp_path: Path, git_source):
    root = tmp_path / "wrong"
    write_pin(root, "0a" * 20, repository=git_source[0].as_uri(), tag="v0.0.0")
    with pytest.raises(FetchError, match="has neither commit 0a0a0a0a0a0a nor tag v0.0.0"):
        _fetch(root, source=str(git_source[0]))
    assert not (root / "upstream").exists()
    assert not list(root.glob(".upstream.*"))


def test_a_tag_at_another_commit_is_refused(tmp_path: Path, git_source):
    # The pin names the second commit but tag v9.9.9 marks the first; a server that will not serve a bare sha
    # makes phase17 fall back to the tag, which must then be refused. Simulated with a bare sha it lacks.
    source, first, second = git_source
    git(source, "tag", "-f", "v-other", first)
    root = tmp_path / "tagged"
    write_pin(root, "1b" * 20, repository=source.as_uri(), tag="v-other")
    with pytest.raises(FetchError, match=f"tag v-other is commit {first[:12]}, but UPSTREAM_PIN.md pins 1b1b1b1b1b1b"):
        _fetch(root, source=str(source))


def test_not_a_repository_is_a_clear_error(project: Path, tmp_path: Path):
    empty = tmp_path / "empty-folder"
    empty.mkdir()
    with pytest.raises(FetchError, match="is not a git repository"):
        _fetch(project, source=str(empty))


def test_missing_source_folder(project: Path):
    with pytest.raises(FetchError, match="--source /no/such/place: no such folder"):
        _fetch(project, source="/no/such/place")


def test_unreachable_remote_is_a_network_error(tmp_path: Path):
    root = tmp_path / "offline"
    write_pin(root, "2c" * 20, repository="http://127.0.0.1:9/vllm.git")
    with pytest.raises(NetworkError) as caught:
        _fetch(root, source="git")
    assert str(caught.value) == "Cannot reach http://127.0.0.1:9/vllm.git."  # one line, no raw git output


def test_second_fetch_is_up_to_date(fetched_project: Path, git_source):
    result = _fetch(fetched_project, source=str(git_source[0]))
    assert result.up_to_date


def test_modified_upstream_is_refused_then_replaced_with_force(fetched_project: Path, git_source):
    edited = fetched_project / "upstream" / "vllm" / "platforms" / "interface.py"
    edited.write_text("# my local edit\n", encoding="utf-8")
    with pytest.raises(
        UpstreamError,
        match=r"1 modified or untracked file\(s\): vllm/platforms/interface.py; run phase17 fetch --force",
    ):
        _fetch(fetched_project, source=str(git_source[0]))
    assert edited.read_text() == "# my local edit\n"
    result = _fetch(fetched_project, source=str(git_source[0]), force=True)
    assert result.state.status == "matches"
    assert "class Platform" in edited.read_text()
    assert not list(fetched_project.glob(".upstream.*"))


def test_upstream_at_another_commit_is_refused(fetched_project: Path, git_source):
    upstream = fetched_project / "upstream"
    git(upstream, "fetch", "-q", str(git_source[0]), git_source[2])
    git(upstream, "checkout", "-q", "--detach", git_source[2])
    with pytest.raises(UpstreamError, match=f"is at {git_source[2][:7]}, not the pinned v9.9.9"):
        _fetch(fetched_project, source=str(git_source[0]))


def test_a_readers_own_clone_is_never_replaced(fetched_project: Path, git_source):
    (fetched_project / "upstream" / "stray.py").write_text("", encoding="utf-8")
    beside = fetched_project / ".upstream.old-the-readers-own"  # named like phase17's leftovers, but theirs
    beside.mkdir()
    (beside / "work.txt").write_text("mine\n")
    with pytest.raises(UpstreamError, match="it is your own checkout, so phase17 will not replace it"):
        _fetch(fetched_project, source=str(git_source[0]), force=True, replaceable=False)
    assert (fetched_project / "upstream" / "stray.py").exists()
    assert (beside / "work.txt").read_text() == "mine\n"  # nothing beside a reader's checkout is swept


def test_a_failed_fetch_leaves_the_old_upstream(fetched_project: Path, git_source, tmp_path: Path):
    upstream = fetched_project / "upstream"
    (upstream / "vllm" / "mine.py").write_text("x = 1\n", encoding="utf-8")
    before = sorted(p.relative_to(upstream).as_posix() for p in upstream.rglob("*") if ".git" not in p.parts)
    reporter = RecordingReporter()
    empty = tmp_path / "not-a-repo"
    empty.mkdir()
    with pytest.raises(FetchError):
        _fetch(fetched_project, source=str(empty), force=True, reporter=reporter)
    after = sorted(p.relative_to(upstream).as_posix() for p in upstream.rglob("*") if ".git" not in p.parts)
    assert before == after
    assert not list(fetched_project.glob(".upstream.*"))


def test_a_swap_killed_midway_is_undone_on_the_next_fetch(fetched_project: Path, git_source):
    # Simulate a kill between "move old aside" and "move new in": upstream/ gone, old tree aside.
    upstream = fetched_project / "upstream"
    aside = fetched_project / ".upstream.old-killed"
    shutil.move(upstream, aside)
    result = _fetch(fetched_project, source=str(git_source[0]))
    assert upstream.exists() and not aside.exists()
    assert result.up_to_date and result.state.status == "matches"


@pytest.mark.slow
def test_sigkill_during_fetch_leaves_old_or_new_tree(tmp_path: Path, report_figure):
    root = tmp_path / "p"
    write_pin(root, FAKE_COMMIT)
    index = tmp_path / "index"
    publish(index, build_sdist(tmp_path / "dist"))
    pin = load_pin(root / "UPSTREAM_PIN.md")
    upstream = root / "upstream"
    kill_points = 0
    outcomes = {"old tree": 0, "new tree": 0}
    with serve(index) as url:
        fetch_upstream(pin, upstream, source="pypi", cache_dir=root / "cache", index_url=url)
        pristine = _listing(upstream)
        environment = {**os.environ, "PIP_INDEX_URL": url, "PHASE17_CACHE_DIR": str(root / "cache"), "NO_COLOR": "1"}
        command = [sys.executable, "-m", "phase17", "fetch", "--force", "--source", "pypi"]
        (upstream / "OLD_TREE_MARKER").write_text("old\n", encoding="utf-8")
        started = time.monotonic()
        subprocess.run(command, cwd=root, env=environment, check=True, capture_output=True)
        whole = time.monotonic() - started  # one whole fetch on this machine: the kill schedule scales with it
        for round_number in range(14):
            (upstream / "OLD_TREE_MARKER").write_text("old\n", encoding="utf-8")
            old = _listing(upstream)
            process = subprocess.Popen(
                command, cwd=root, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            time.sleep(whole * (0.02 + round_number * 0.09))  # from start-up to past the end of a whole fetch
            process.send_signal(signal.SIGKILL)
            process.wait()
            kill_points += 1
            assert upstream.is_dir(), f"round {round_number}: upstream/ vanished"
            now = _listing(upstream)
            assert now in (old, pristine), f"round {round_number}: a mixed tree"
            cached = root / "cache" / "sdists" / "vllm-9.9.9.tar.gz"
            assert not cached.exists() or cached.read_bytes() == (index / "files" / "vllm-9.9.9.tar.gz").read_bytes()
            outcomes["old tree" if now == old else "new tree"] += 1
            if now == old:
                (upstream / "OLD_TREE_MARKER").unlink()
    assert outcomes["old tree"] and outcomes["new tree"]  # kills landed both before and after the swap
    report_figure(
        f"[fault injection] fetches killed with SIGKILL at {kill_points} points: upstream/ was the "
        f"old or the new tree every time ({outcomes})"
    )


def _listing(folder: Path) -> list[tuple[str, bytes]]:
    return sorted(
        (p.relative_to(folder).as_posix(), p.read_bytes())
        for p in folder.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(folder).parts
    )


def test_a_lock_a_killed_git_left_in_the_old_tree_does_not_stop_a_repin(fetched_project: Path, git_source):
    source, _, second = git_source
    upstream = fetched_project / "upstream"
    (upstream / ".git" / "index.lock").touch()  # what a git process killed midway leaves behind
    write_pin(fetched_project, second, repository=source.as_uri())
    result = _fetch(fetched_project, source=str(source), force=True, keep_history_as="v9.9.9")
    assert result.state.status == "matches"
    assert git(upstream, "rev-parse", "HEAD") == second
    assert not (upstream / ".git" / "index.lock").exists()
