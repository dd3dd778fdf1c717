"""`phase17 plugins` and its subcommands, as a plugin author meets them: check (text and JSON, at the pin and
against a release fetched from a package index), new, matrix; each with its own help."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import FAKE_COMMIT, build_sdist, git, invoke, publish, serve, write_pin

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "pluginlab"
RELEASE_COMMIT = "fedcba9876543210fedcba9876543210fedcba98"


@pytest.fixture
def lab_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A project pinned to an sdist of the plugin lab's release A (9.9.9), with release B (9.9.10) on the same local
    package index: `--against 9.9.10` fetches it as it would a vLLM release."""
    root = tmp_path / "project"
    repository = "http://127.0.0.1:9/unreachable/vllm.git"
    write_pin(root, FAKE_COMMIT, repository=repository)
    monkeypatch.setenv("PHASE17_TRUSTED_REPOSITORY", repository)  # asked for in its own test below
    index = tmp_path / "index"
    publish(index, build_sdist(tmp_path / "dist", source=FIXTURES / "release_a"))
    later = build_sdist(
        tmp_path / "dist", version="9.9.10", commit_id=RELEASE_COMMIT[:9], source=FIXTURES / "release_b"
    )
    publish(index, later)
    with serve(index) as url:
        monkeypatch.setenv("PIP_INDEX_URL", url)
        monkeypatch.chdir(root)
        fetched = invoke("fetch", "--source", "pypi")
        assert fetched.exit_code == 0, fetched.output
        yield root


def _plugin(name: str) -> str:
    return str(FIXTURES / "plugins" / name)


def _flat(text: str) -> str:
    """Output with its line wrapping undone (the runner's terminal is 100 columns)."""
    return " ".join(text.split())


def test_each_subcommand_has_its_own_help_and_the_group_alone_prints_the_map(lab_project: Path):
    for command, option in (("check", "--against"), ("new", "--dir"), ("matrix", "--releases")):
        helped = invoke("plugins", command, "--help")
        assert helped.exit_code == 0 and option in helped.stdout and "Example: phase17 plugins" in helped.stdout
    listed = invoke("plugins", "--help")
    assert all(f"  {command} " in listed.stdout for command in ("check", "new", "matrix"))
    assert "\n  --against" not in listed.stdout and "\n  --dir" not in listed.stdout  # options of the subcommands
    shown = invoke("plugins")
    assert shown.exit_code == 0, shown.output
    assert invoke("plugins", "frobnicate", "x").exit_code == 2


def test_check_text_lists_what_is_left_to_do_and_exits_1(lab_project: Path):
    checked = invoke("plugins", "check", _plugin("stubs"))
    assert checked.exit_code == 1, checked.output
    out = checked.stdout
    assert out.startswith(f"Plugin stub-plugin 1.0 ({_plugin('stubs')}), read at v9.9.9\n")
    assert "To do (2): hooks the engine calls that the plugin leaves unimplemented" in out
    assert "  StubPlatform.get_device_name  stub_plugin/platform.py:12  [stub] raises NotImplementedError" in out
    assert "    called at vllm/engine.py:15" in out
    assert "    raises on the answer at vllm/engine.py:7" in out
    assert out.rstrip().endswith("stub-plugin: would fail at run time: 2 error(s) at v9.9.9 (2 of them to do).")
    clean = invoke("plugins", "check", _plugin("fstring"))
    assert clean.exit_code == 0 and "fstr-plugin: nothing found that would fail at run time (0 errors)." in clean.stdout


def test_check_json_is_one_object_even_when_the_class_cannot_be_read(lab_project: Path):
    checked = invoke("plugins", "check", _plugin("computed"), "--json")
    data = json.loads(checked.stdout)
    assert set(data) == {"plugin", "version", "source", "releases", "entry_points", "classes", "findings", "unread"}
    assert data["classes"] and data["unread"] and checked.exit_code == 0


def test_against_a_release_each_finding_says_which_release(lab_project: Path):
    checked = invoke("plugins", "check", _plugin("renames"), "--against", "9.9.10")
    assert checked.exit_code == 1, checked.output
    out = _flat(checked.stdout)
    assert "read at v9.9.9 and v9.9.10" in out
    assert "[v9.9.9 + v9.9.10]" in out and "[v9.9.10]" in out
    assert "called at vllm/engine.py:5 (v9.9.9); vllm/engine.py:12 (v9.9.10)" in out
    assert "becomes a hook at v9.9.10: now overrides Platform.register_specs" in out
    data = json.loads(invoke("plugins", "check", _plugin("renames"), "--against", "9.9.10", "--json").stdout)
    assert data["releases"] == ["v9.9.9", "v9.9.10"]
    assert all(finding["releases"] for finding in data["findings"])


def test_new_writes_the_todos_and_check_lists_them(lab_project: Path, tmp_path: Path):
    made = invoke("plugins", "new", "demo", "--dir", str(tmp_path / "demo"))
    assert made.exit_code == 0 and "3 hook(s) to fill in" in _flat(made.stdout), made.output
    checked = invoke("plugins", "check", str(tmp_path / "demo"))
    assert checked.exit_code == 1 and "To do (3)" in checked.stdout, checked.output
    assert invoke("plugins", "new", "demo", "--dir", str(tmp_path / "demo")).exit_code == 2  # it exists


def test_matrix_text_markdown_and_json(lab_project: Path):
    asked = ["plugins", "matrix", _plugin("cpu_based"), _plugin("renames"), "no-such-thing/", "--releases", "9.9.10"]
    shown = invoke(*asked)
    assert shown.exit_code == 1, shown.output
    assert "v9.9.9" in shown.stdout and "v9.9.10" in shown.stdout and "breaks (2)" in shown.stdout
    assert "RenPlatform.old_style_hook (ren_plugin/platform.py:15) [renamed] from v9.9.10: Platform.old_style_hook" in (
        _flat(shown.stdout)
    )
    markdown = invoke(*asked, "--markdown").stdout
    assert markdown.startswith("| plugin | `v9.9.9` | `v9.9.10` |")
    data = json.loads(invoke(*asked, "--json").stdout)
    assert [row["plugin"] for row in data["plugins"]] == ["cpu-plugin", "ren-plugin", "no-such-thing/"]
    assert data["plugins"][2]["cells"]["v9.9.9"]["status"] == "unreadable"


def test_a_planted_release_tree_or_record_is_never_trusted(lab_project: Path, tmp_path: Path):
    assert invoke("contract", "--against", "9.9.10", "--json").exit_code == 0
    cache = Path(os.environ["PHASE17_CACHE_DIR"])
    tree = cache / "releases" / "9.9.10" / "upstream"
    (tree / "vllm" / "_version.py").write_text("commit_id = 'g0000000000'\n")  # planted, then committed clean
    git(tree, "commit", "-q", "-am", f"planted\n\nPhase17-Upstream-Commit: {RELEASE_COMMIT[:9]}")
    record = cache / "releases" / "9.9.10.pin.json"
    planted = {**json.loads(record.read_text()), "repository": "https://evil.invalid/vllm"}
    record.write_text(json.dumps(planted))
    again = invoke("contract", "--against", "9.9.10", "--json")
    assert again.exit_code == 0, again.output
    assert RELEASE_COMMIT[:9] in (tree / "vllm" / "_version.py").read_text()  # fetched again, verified
    assert "evil.invalid" not in again.output + record.read_text()


@pytest.mark.slow
def test_three_processes_wanting_one_release_fetch_it_once(lab_project: Path):
    environment = {**os.environ, "NO_COLOR": "1"}
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "phase17", "contract", "--against", "9.9.10", "--json"],
            cwd=lab_project,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(3)
    ]
    outcomes = [child.communicate(timeout=120) for child in children]
    assert [child.returncode for child in children] == [0, 0, 0], [err.decode()[-500:] for _, err in outcomes]
    assert len({out for out, _ in outcomes}) == 1


def test_a_release_from_a_repository_that_is_not_vllms_is_asked_for_first(
    lab_project: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("PHASE17_TRUSTED_REPOSITORY", "")
    refused = invoke("plugins", "check", _plugin("renames"), "--against", "9.9.10", input="n\n")
    assert refused.exit_code == 2 and "not fetching from http://127.0.0.1:9/unreachable/vllm.git" in refused.stderr
