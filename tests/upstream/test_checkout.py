"""checkout.py: what upstream/ holds against the pin, and the old versions its history keeps."""

from __future__ import annotations

from pathlib import Path

from helpers import FAKE_COMMIT, PROJECT_ROOT, git
from phase17.upstream.checkout import (
    file_history,
    inspect_upstream,
    keep_as_history,
    recorded_upstream_commits,
    same_commit,
)
from phase17.upstream.fetch import fetch_upstream
from phase17.upstream.pin import load_pin

REAL_PIN = PROJECT_ROOT / "UPSTREAM_PIN.md"


def test_upstream_states(fetched_project: Path, git_source):
    pin = load_pin(fetched_project / "UPSTREAM_PIN.md")
    upstream = fetched_project / "upstream"
    assert inspect_upstream(fetched_project / "nothing", pin).status == "missing"
    state = inspect_upstream(upstream, pin)
    assert (state.status, state.head, state.source) == ("matches", pin.commit, "git")

    (upstream / "vllm" / "platforms" / "cpu.py").write_text("# edited\n", encoding="utf-8")
    (upstream / "new_file.py").write_text("x = 1\n", encoding="utf-8")
    state = inspect_upstream(upstream, pin)
    assert state.status == "modified"
    assert sorted(state.modified) == ["new_file.py", "vllm/platforms/cpu.py"]

    git(upstream, "checkout", "-q", "--", ".")
    (upstream / "new_file.py").unlink()
    git(upstream, "fetch", "-q", str(git_source[0]), git_source[2])
    git(upstream, "checkout", "-q", "--detach", git_source[2])
    state = inspect_upstream(upstream, pin)
    assert (state.status, state.carries) == ("other-commit", git_source[2])


def test_a_plain_folder_is_not_a_checkout(plain_upstream: Path):
    assert inspect_upstream(plain_upstream, load_pin(REAL_PIN)).status == "not-a-checkout"


def test_without_git_a_present_tree_is_unverifiable(fetched_project: Path, monkeypatch):
    monkeypatch.setenv("PATH", str(fetched_project / "no-git-here"))
    state = inspect_upstream(fetched_project / "upstream", load_pin(fetched_project / "UPSTREAM_PIN.md"))
    assert state.status == "unverifiable" and state.has_tree and not state.is_verified
    assert file_history(fetched_project / "upstream", "vllm/platforms/cpu.py") == []


def test_same_commit_needs_seven_characters():
    assert same_commit("0decac0d96c42b49572498019f0a0e3600f50398", "0decac0d9")
    assert not same_commit("0decac0d96c42b49572498019f0a0e3600f50398", "0decac")
    assert not same_commit("0decac0d9", "0decac1d9")


def test_file_history_reaches_kept_trees(fetched_project: Path, git_source):
    upstream = fetched_project / "upstream"
    keep_as_history(upstream, "v9.9.9 (first)")
    assert git(upstream, "rev-parse", "refs/phase17/v9.9.9__first_") == git_source[1]
    versions = file_history(upstream, "vllm/platforms/cpu.py")
    assert len(versions) == 1 and b"class CpuPlatform" in versions[0].content
    assert file_history(upstream, "vllm/no/such.py") == []


def test_edits_committed_or_amended_on_a_fetched_sdist_tree_never_match_the_pin(tmp_path: Path):
    from helpers import build_sdist, publish, serve, write_pin

    root = tmp_path / "p"
    write_pin(root, FAKE_COMMIT)
    publish(tmp_path / "index", build_sdist(tmp_path / "dist"))
    with serve(tmp_path / "index") as url:
        fetch_upstream(load_pin(root / "UPSTREAM_PIN.md"), root / "upstream", cache_dir=tmp_path / "c", index_url=url)
    upstream = root / "upstream"
    pin = load_pin(root / "UPSTREAM_PIN.md")
    assert inspect_upstream(upstream, pin).status == "matches"
    assert FAKE_COMMIT in recorded_upstream_commits(upstream)  # what `pin REF` back uses to restore 40 digits
    cpu = upstream / "vllm" / "platforms" / "cpu.py"
    cpu.write_text(cpu.read_text() + "\nEDITED = True\n")
    git(upstream, "commit", "-q", "-a", "--amend", "--no-edit")  # same message, same trailers
    state = inspect_upstream(upstream, pin)
    assert state.status == "modified" and state.modified == ("vllm/platforms/cpu.py",)
