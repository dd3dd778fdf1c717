"""project.py: finding the project, getting upstream/ ready (or saying why not), and re-pinning."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import write_pin
from phase17.errors import ProjectNotFoundError, UpstreamError
from phase17.upstream.checkout import inspect_upstream
from phase17.upstream.pin import load_pin
from phase17.upstream.project import ensure_upstream, locate_project


def test_project_is_found_from_a_subfolder(tmp_path: Path):
    write_pin(tmp_path / "p", "b" * 40)
    deep = tmp_path / "p" / "notebooks" / "deeper"
    deep.mkdir(parents=True)
    found = locate_project(deep)
    assert found.root == (tmp_path / "p").resolve()
    assert found.upstream == (tmp_path / "p" / "upstream").resolve() and found.upstream_is_own
    other = locate_project(deep, tmp_path / "elsewhere")
    assert other.upstream == (tmp_path / "elsewhere").resolve() and not other.upstream_is_own


def test_no_project_above_is_a_clear_error(tmp_path: Path):
    with pytest.raises(ProjectNotFoundError, match="no UPSTREAM_PIN.md in .* or any folder above it"):
        locate_project(tmp_path)


def test_a_missing_upstream_is_fetched_only_when_asked(project: Path):
    paths = locate_project(project)
    pin = load_pin(paths.pin_file)
    with pytest.raises(UpstreamError, match="upstream is missing; run phase17 fetch first"):
        ensure_upstream(paths, pin)
    fetched = []
    ready = ensure_upstream(paths, pin, lambda: fetched.append(1) or "the fetch result")  # type: ignore[arg-type,func-returns-value]
    assert fetched == [1] and ready.fetched == "the fetch result" and ready.warnings == ()


def test_a_verified_upstream_has_no_warning(fetched_project: Path):
    paths = locate_project(fetched_project)
    ready = ensure_upstream(paths, load_pin(paths.pin_file))
    assert (ready.path, ready.warnings, ready.fetched) == (paths.upstream, (), None)


def test_a_modified_upstream_is_read_with_a_warning(fetched_project: Path):
    paths = locate_project(fetched_project)
    (paths.upstream / "vllm" / "platforms" / "cpu.py").write_text("x = 1\n", encoding="utf-8")
    ready = ensure_upstream(paths, load_pin(paths.pin_file))
    assert ready.warnings == (
        "upstream/ is modified (1 files), not exactly v9.9.9 @ "
        + load_pin(paths.pin_file).short
        + "; lines are of what is there.",
    )


def test_without_git_the_tree_is_read_with_one_warning(fetched_project: Path, monkeypatch):
    paths = locate_project(fetched_project)
    monkeypatch.setenv("PATH", "/nonexistent")
    ready = ensure_upstream(paths, load_pin(paths.pin_file))
    assert len(ready.warnings) == 1 and ready.warnings[0].startswith("git is not on PATH")


def test_a_plain_tree_is_an_error_as_upstream_but_a_warning_as_the_readers_own(project: Path, plain_upstream: Path):
    (project / "upstream").mkdir()
    (project / "upstream" / "stray.py").write_text("x = 1\n", encoding="utf-8")
    pin = load_pin(project / "UPSTREAM_PIN.md")
    with pytest.raises(UpstreamError, match="is not a checkout phase17 can verify; run phase17 fetch --force"):
        ensure_upstream(locate_project(project), pin)
    ready = ensure_upstream(locate_project(project, plain_upstream), pin)
    assert ready.path == plain_upstream.resolve()
    assert ready.warnings == (
        f"{plain_upstream.resolve()} is not a git checkout, so it cannot be verified against the pin; "
        "lines are of what is there.",
    )


def test_a_repin_stopped_after_the_swap_is_finished_by_running_it_again(drifted, monkeypatch):
    from dataclasses import replace

    import phase17.drift.repin as project_module
    from phase17.progress import SilentReporter
    from phase17.upstream.pin import write_pin

    project, v2 = drifted
    paths = locate_project(project)
    before = load_pin(paths.pin_file)
    new = replace(before, tag="v9.9.10", commit=v2)

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # as if SIGKILL struck between the swap and the pin

    monkeypatch.setattr(project_module, "write_pin", killed)
    with pytest.raises(KeyboardInterrupt):
        project_module.repin(paths, before, new, cache_dir=project / "cache", reporter=SilentReporter())
    assert load_pin(paths.pin_file).commit == before.commit  # the pin still says the old version...
    assert inspect_upstream(paths.upstream, new).is_verified  # ...while upstream/ holds the new one
    monkeypatch.setattr(project_module, "write_pin", write_pin)
    findings = project_module.repin(paths, before, new, cache_dir=project / "cache", reporter=SilentReporter())
    assert load_pin(paths.pin_file).commit == v2
    assert {finding.status for finding in findings} >= {"moved", "changed", "missing"}
    assert [finding for finding in findings if finding.status == "changed" and finding.diff]  # the old tree is kept
