"""Drift between two versions of a fixture upstream: every status, the suggestions, and the mends."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers import git
from phase17 import annotations as store
from phase17.cli import app
from phase17.pin import load_pin

runner = CliRunner()


def invoke(*args: str, **kwargs):
    return runner.invoke(app, list(args), **kwargs)


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _line_of(path: Path, needle: str) -> int:
    return next(number for number, line in enumerate(path.read_text().splitlines(), start=1) if needle in line)


def make_v2(source: Path) -> str:
    """Commit a second version with one of each kind of drift; tag it v9.9.10 and return its sha."""
    platforms = source / "vllm" / "platforms"
    git(source, "checkout", "-q", "v9.9.9")
    git(source, "checkout", "-q", "-b", "v2")
    # lines shifted by an insertion above
    _edit(
        platforms / "cpu.py",
        "def get_max_threads(pid=0):",
        "def inserted_helper():\n    return 0\n\n\ndef get_max_threads(pid=0):",
    )
    # a method renamed in place
    _edit(platforms / "cpu.py", "def discover_numa_topology(cls)", "def numa_topology(cls)")
    # a body edit
    _edit(
        platforms / "cuda.py",
        "config.block_size = config.block_size or 16",
        "config.block_size = config.block_size or 32",
    )
    # a method hoisted from a subclass into its base class (same file)
    _edit(
        platforms / "cuda.py",
        "class NvmlCudaPlatform(CudaPlatformBase):\n    @classmethod\n    @with_nvml_context\n    def device_count(cls) -> int:\n        return 1\n",
        "class NvmlCudaPlatform(CudaPlatformBase):\n    pass\n",
    )
    _edit(
        platforms / "cuda.py",
        "    @classmethod\n    def supports_fp8(cls) -> bool:\n        return True\n",
        "    @classmethod\n    def supports_fp8(cls) -> bool:\n        return True\n\n    @classmethod\n    @with_nvml_context\n    def device_count(cls) -> int:\n        return 1\n",
    )
    # a function moved to another file
    decorator = "def with_nvml_context(fn):\n    def wrapper(*args, **kwargs):\n        return fn(*args, **kwargs)\n\n    return wrapper\n"
    _edit(platforms / "cuda.py", decorator + "\n\n", "")
    _edit(
        platforms / "cuda.py",
        "from .interface import Platform, PlatformEnum\n",
        "from .interface import Platform, PlatformEnum\nfrom .utils import with_nvml_context\n",
    )
    (platforms / "utils.py").write_text('"""Helpers moved out of cuda.py."""\n\n\n' + decorator, encoding="utf-8")
    # a deletion
    _edit(
        platforms / "cuda.py",
        'def _get_backend_priorities(use_mla: bool) -> list[str]:\n    """Backends in the order they are tried."""\n    if use_mla:\n        return ["mla_a", "mla_b"]\n    return ["flash", "flex"]\n\n\n',
        "",
    )
    _edit(platforms / "cuda.py", "return _get_backend_priorities(False)[0]", 'return "flash"')
    # a duplicate definition introduced
    _edit(
        platforms / "__init__.py",
        "builtin_platform_plugins = {",
        "if TYPE_CHECKING:\n\n    def cpu_platform_plugin() -> str | None:\n        return None\n\n\nbuiltin_platform_plugins = {",
    )
    # a reformat only: spacing and a comment, same lines
    _edit(
        platforms / "interface.py",
        "return self._enum == PlatformEnum.OOT",
        "return self._enum==PlatformEnum.OOT  # out of tree",
    )
    git(source, "add", "-A")
    git(source, "commit", "-q", "-m", "v2")
    git(source, "tag", "v9.9.10")
    return git(source, "rev-parse", "HEAD")


@pytest.fixture
def noted(fetched_project: Path) -> Path:
    """Notes written at v1: the templates plus citations of a hoisted method and a path:line inside a method."""
    upstream = fetched_project / "upstream"
    line = _line_of(upstream / "vllm/platforms/cpu.py", 'return "cpu_attn"')
    result = invoke(
        "notebook",
        "cuda",
        "--edge-case",
        f"`NvmlCudaPlatform.device_count` counts devices; cpu.py:{line} picks the backend.",
    )
    assert result.exit_code == 0, result.output
    assert invoke("check").exit_code == 0
    return fetched_project


@pytest.fixture
def drifted(noted: Path, git_source) -> tuple[Path, str]:
    v2 = make_v2(git_source[0])
    return noted, v2


def _by_anchor(findings: list[dict]) -> dict[str, dict]:
    return {f"{item['anchor']}|{item.get('cited') or ''}": item for item in findings}


def _statuses(findings: list[dict]) -> dict[str, str]:
    return {
        key.split("|")[0].split("::")[1] + (" (cited)" if key.split("|")[1] else ""): item["status"]
        for key, item in _by_anchor(findings).items()
    }


def test_the_shipped_style_notes_check_clean_at_the_pin(noted: Path):
    result = invoke("check", "--json")
    assert result.exit_code == 0, result.output
    findings = json.loads(result.stdout)
    assert findings and {item["status"] for item in findings} == {"ok"}
    assert "0 moved, 0 changed, 0 missing, 0 ambiguous" in invoke("check").stdout


def test_pin_dry_run_reports_without_changing_anything(drifted: tuple[Path, str]):
    project, v2 = drifted
    pin_before = (project / "UPSTREAM_PIN.md").read_text()
    head_before = git(project / "upstream", "rev-parse", "HEAD")
    result = invoke("pin", "v9.9.10", "--dry-run", "--json")
    assert result.exit_code == 1, result.output
    assert "Dry run: re-pinning v9.9.9" in result.stderr
    assert (project / "UPSTREAM_PIN.md").read_text() == pin_before
    assert git(project / "upstream", "rev-parse", "HEAD") == head_before
    assert not list(project.glob(".phase17-dry-run-*"))
    statuses = _statuses(json.loads(result.stdout))
    assert statuses["CpuPlatform.dist_backend"] == "moved" and statuses["_get_backend_priorities"] == "missing"


def test_every_kind_of_drift_is_classified(drifted: tuple[Path, str]):
    project, v2 = drifted
    result = invoke("pin", "v9.9.10", "--json")
    assert result.exit_code == 1, result.output
    pin = load_pin(project / "UPSTREAM_PIN.md")
    assert (pin.tag, pin.commit) == ("v9.9.10", v2)
    findings = json.loads(result.stdout)
    statuses = _statuses(findings)
    expected = {
        "CpuPlatform.dist_backend": "moved",  # an insertion above
        "get_max_threads": "moved",
        "CpuPlatform": "changed",  # a method in it was renamed
        "CpuPlatform.discover_numa_topology": "missing",  # renamed
        "CudaPlatformBase.check_and_update_config": "changed",  # a body edit
        "CudaPlatformBase": "changed",
        "NvmlCudaPlatform": "changed",  # lost the hoisted method
        "Platform.is_out_of_tree": "ok",  # a reformat only
        "with_nvml_context": "missing",  # moved to another file
        "_get_backend_priorities": "missing",  # deleted
        "NvmlCudaPlatform.device_count (cited)": "missing",  # hoisted into the base class
        "cpu_platform_plugin": "ambiguous",  # a duplicate introduced
        "CpuPlatform.get_attn_backend_cls (cited)": "moved",
    }
    assert {name: statuses[name] for name in expected} == expected
    by = {
        key.split("|")[0].split("::")[1] + ("|c" if key.split("|")[1] else ""): item
        for key, item in _by_anchor(findings).items()
    }

    renamed = by["CpuPlatform.discover_numa_topology"]["suggestions"][0]
    assert (renamed["ref"], renamed["reason"]) == (
        "vllm/platforms/cpu.py::CpuPlatform.numa_topology",
        "renamed in place",
    )
    assert renamed["score"] >= 0.7
    hoisted = by["NvmlCudaPlatform.device_count|c"]["suggestions"][0]
    assert (hoisted["ref"], hoisted["reason"]) == (
        "vllm/platforms/cuda.py::CudaPlatformBase.device_count",
        "moved to another class",
    )
    moved_file = by["with_nvml_context"]["suggestions"][0]
    assert (moved_file["ref"], moved_file["reason"], moved_file["score"]) == (
        "vllm/platforms/utils.py::with_nvml_context",
        "moved to another file",
        1.0,
    )
    assert all(s["score"] < 0.8 for s in by["_get_backend_priorities"]["suggestions"])

    changed = by["CudaPlatformBase.check_and_update_config"]
    assert changed["current"]["fingerprint"] != changed["recorded"]["fingerprint"]
    assert "-        config.block_size = config.block_size or 16" in changed["diff"]
    assert "+        config.block_size = config.block_size or 32" in changed["diff"]
    hunk = re.search(r"^@@ -(\d+)", changed["diff"], re.MULTILINE)
    assert hunk and int(hunk.group(1)) >= changed["recorded"]["start"]  # real file lines, not slice lines

    ambiguous = by["cpu_platform_plugin"]
    assert len(ambiguous["matches"]) == 2 and ambiguous["current"] is None

    cited_line = by["CpuPlatform.get_attn_backend_cls|c"]
    assert cited_line["line_inside"] is False
    assert set(findings[0]) >= {"target", "anchor", "kind", "status", "recorded", "current", "suggestions"}


def test_the_report_names_suggestions_and_counts(drifted: tuple[Path, str]):
    project, _ = drifted
    result = invoke("pin", "v9.9.10")
    assert result.exit_code == 1
    flat = " ".join(result.stdout.split())
    assert "-> vllm/platforms/utils.py::with_nvml_context lines 4-8 score 1.00 moved to another file" in flat
    assert "renamed in place" in flat and "moved to another class" in flat
    assert re.search(r"\d+ ok, \d+ moved, 5 changed, 4 missing, 1 ambiguous; 1 cited line\(s\) left their symbol", flat)


def test_fix_repairs_the_moved_then_only_changed_and_missing_remain(drifted: tuple[Path, str]):
    project, _ = drifted
    assert invoke("pin", "v9.9.10").exit_code == 1
    before = (project / "annotations" / "cpu.yaml").read_text()
    fixed = invoke("check", "--fix")
    assert fixed.exit_code == 1
    assert "Rewrote the lines of" in fixed.stderr and "cpu: vllm/platforms/cpu.py::CpuPlatform" in fixed.stderr
    assert (project / "annotations" / "cpu.yaml.bak").read_text() == before
    again = json.loads(invoke("check", "--json").stdout)
    remaining = {item["status"] for item in again if item["status"] != "ok"}
    assert remaining == {"changed", "missing", "ambiguous"}
    assert [item for item in again if item.get("line_inside") is False]  # prose citations are never rewritten
    notes = store.load_notes(project / "annotations", "cuda")
    assert "cpu.py:" in notes.notes["edge_case"]  # the prose is untouched


def test_accept_and_relink(drifted: tuple[Path, str]):
    project, _ = drifted
    invoke("pin", "v9.9.10")
    accepted = invoke("check", "--accept", "CudaPlatformBase.check_and_update_config", "--json")
    statuses = _statuses(json.loads(accepted.stdout))
    assert statuses["CudaPlatformBase.check_and_update_config"] == "ok"
    relinked = invoke("check", "--relink", "with_nvml_context", "vllm/platforms/utils.py::with_nvml_context", "--json")
    assert _statuses(json.loads(relinked.stdout)).get("with_nvml_context") == "ok"
    assert "vllm/platforms/utils.py::with_nvml_context" in (project / "annotations" / "cuda.yaml").read_text()
    wrong = invoke("check", "--accept", "NoSuchAnchor")
    assert wrong.exit_code == 2 and "no changed anchor named 'NoSuchAnchor'" in wrong.stderr
    ambiguous_target = invoke("check", "--relink", "_get_backend_priorities", "cpu_platform_plugin")
    assert ambiguous_target.exit_code == 2 and "names 2 definitions" in ambiguous_target.stderr


def test_old_text_survives_the_repin_in_upstream_history(drifted: tuple[Path, str], git_source):
    project, v2 = drifted
    invoke("pin", "v9.9.10")
    upstream = project / "upstream"
    assert git(upstream, "rev-parse", "HEAD") == v2
    assert git(upstream, "rev-parse", "refs/phase17/v9.9.9") == git_source[1]


def test_list_shows_anchor_health_from_the_last_check(drifted: tuple[Path, str]):
    project, _ = drifted
    invoke("pin", "v9.9.10")
    rows = {row["key"]: row["anchors"] for row in json.loads(invoke("list", "--json").stdout)}
    assert rows["interface"] == "ok" and rows["cpu"].endswith("to review")


def test_bad_repin_refs_are_clear_errors(noted: Path):
    result = invoke("pin", "not a version")
    assert result.exit_code == 2 and "is not a tag (v0.23.0), a version (0.23.0) or a commit sha" in result.stderr
    missing = invoke("pin", "v1.2.3")
    assert missing.exit_code == 2 and "has no tag v1.2.3" in missing.stderr


def test_repin_by_release_commit_finds_its_tag(drifted: tuple[Path, str]):
    project, v2 = drifted
    result = invoke("pin", v2[:10], "--dry-run", "--json")
    assert result.exit_code == 1, result.output
    assert f"-> v9.9.10 @ {v2[:7]}" in result.stderr
    unknown = invoke("pin", "abcdef1234")
    assert unknown.exit_code == 2 and "no release tag of" in unknown.stderr and "points at abcdef1234" in unknown.stderr
