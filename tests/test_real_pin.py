"""Against the real vLLM v0.22.1, fetched from PyPI (the network marker; these run in CI)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers import ast_lines, git
from phase17.cli.app import app
from phase17.index.lookup import locate_key_symbols
from phase17.index.tree import Tree
from phase17.instruments.usages import find_calls
from phase17.notes.guide import load_reading_list
from phase17.upstream.checkout import inspect_upstream
from phase17.upstream.pin import load_pin

pytestmark = [pytest.mark.network, pytest.mark.slow]  # a real 36 MB tree: the full run only
runner = CliRunner()


@pytest.fixture
def in_real_project(real_project: Path) -> Path:
    os.chdir(real_project)
    return real_project


def test_pypi_fetch_of_the_real_pin(real_project: Path):
    pin = load_pin(real_project / "UPSTREAM_PIN.md")
    state = inspect_upstream(real_project / "upstream", pin)
    assert (state.status, state.source, state.carries) == (
        "matches",
        "pypi",
        "0decac0d96c42b49572498019f0a0e3600f50398",
    )
    assert "\nclass Platform:\n" in (real_project / "upstream" / "vllm" / "platforms" / "interface.py").read_text()
    assert "commit_id = 'g0decac0d9'" in (real_project / "upstream" / "vllm" / "_version.py").read_text()
    assert "Phase17-Upstream-Commit: 0decac0d96c42b49572498019f0a0e3600f50398" in git(
        real_project / "upstream", "log", "-1", "--format=%B"
    )


def test_every_key_symbol_resolves_exactly_once(real_project: Path):
    upstream = real_project / "upstream"
    for target in load_reading_list().targets:
        for key in locate_key_symbols(Tree(upstream), target):
            assert key.status == "found", f"{target.key}: {key.ref} is {key.status} ({[s.ref for s in key.matches]})"


def test_resolve_get_attn_backend_cls_gives_the_ast_lines(in_real_project: Path):
    result = runner.invoke(app, ["resolve", "Platform.get_attn_backend_cls", "--json"])
    assert result.exit_code == 0, result.output
    (match,) = json.loads(result.stdout)["matches"]
    assert match["path"] == "vllm/platforms/interface.py"
    expected = ast_lines(in_real_project / "upstream" / match["path"], "Platform.get_attn_backend_cls")
    assert (match["start_line"], match["def_line"], match["end_line"]) == expected


def test_outline_cuda_lists_the_platform_classes_and_alias(in_real_project: Path):
    result = runner.invoke(app, ["outline", "cuda", "--json"])
    assert result.exit_code == 0, result.output
    top = {(item["qualname"], item["kind"]) for item in json.loads(result.stdout)[0]["outline"]}
    assert {
        ("CudaPlatformBase", "class"),
        ("NvmlCudaPlatform", "class"),
        ("NonNvmlCudaPlatform", "class"),
        ("CudaPlatform", "assignment"),
    } <= top


def test_read_interface_shows_platform_and_its_questions(in_real_project: Path):
    result = runner.invoke(app, ["read", "interface", "--no-pager"])
    assert result.exit_code == 0, result.output
    first, _, last = ast_lines(in_real_project / "upstream" / "vllm/platforms/interface.py", "Platform")
    assert f"Platform  class  vllm/platforms/interface.py:{first}-{last}" in result.stdout
    assert any(line.split()[:3] == [str(first), "class", "Platform:"] for line in result.stdout.splitlines())
    flat = " ".join(result.stdout.split())
    for question in load_reading_list().questions_for("interface"):
        assert f"Q{question.number}. {question.text}" in flat


def test_read_4_json_gives_resolve_current_platform(in_real_project: Path):
    result = runner.invoke(app, ["read", "4", "--json"])
    assert result.exit_code == 0, result.output
    by_ref = {item["ref"]: item for item in json.loads(result.stdout)["symbols"]}
    (match,) = by_ref["resolve_current_platform_cls_qualname"]["matches"]
    first, _, last = ast_lines(
        in_real_project / "upstream" / "vllm/platforms/__init__.py", "resolve_current_platform_cls_qualname"
    )
    assert (match["start_line"], match["end_line"]) == (first, last)


def test_real_drift_from_v0_22_1_to_v0_23_0(real_project: Path, tmp_path: Path, report_figure):
    """The real drift to the next release: the report runs to the end and finds a move verified by reading both.

    Verified by hand: v0.23.0 moved the module function vllm/config/model.py::is_cumem_allocator_available
    into the Platform class (vllm/platforms/interface.py, Platform.is_cumem_allocator_available).
    """
    import shutil

    from phase17.drift.findings import STATUSES

    project = tmp_path / "copy"
    shutil.copytree(real_project, project, symlinks=True)
    shutil.rmtree(project / "annotations")
    shutil.copytree(
        Path(__file__).resolve().parent.parent / "annotations",
        project / "annotations",
        ignore=shutil.ignore_patterns(".*", "*.bak"),
    )
    os.chdir(project)
    noted = runner.invoke(
        app,
        [
            "notebook",
            "platforms",
            "--edge-case",
            "Sleep mode needs `vllm/config/model.py::is_cumem_allocator_available`.",
        ],
    )
    assert noted.exit_code == 0, noted.output
    assert runner.invoke(app, ["check"]).exit_code == 0

    result = runner.invoke(app, ["pin", "0.23.0", "--json"])
    assert result.exit_code == 1, result.output
    findings = json.loads(result.stdout)
    counts = {status: sum(1 for f in findings if f["status"] == status) for status in STATUSES}
    report_figure(f"[drift v0.22.1 -> v0.23.0] {len(findings)} anchors: {counts}")
    assert all(f["status"] in STATUSES for f in findings) and counts["moved"] > 0
    (moved,) = [f for f in findings if f["anchor"] == "vllm/config/model.py::is_cumem_allocator_available"]
    assert moved["status"] == "missing"
    best = moved["suggestions"][0]
    assert best["ref"] == "vllm/platforms/interface.py::Platform.is_cumem_allocator_available"
    assert best["reason"] == "moved to another file (into Platform)" and best["score"] >= 0.9
    assert load_pin(project / "UPSTREAM_PIN.md").pypi_version == "0.23.0"

    fixed = runner.invoke(app, ["check", "--fix", "--json"])
    assert fixed.exit_code == 1
    remaining = {f["status"] for f in json.loads(fixed.stdout)}
    assert "moved" not in remaining and remaining <= {"ok", "changed", "missing"}


@pytest.mark.network
def test_the_readme_examples_are_what_the_commands_print(real_project: Path):
    script = Path(__file__).resolve().parent.parent / "scripts" / "readme_examples.py"
    run = subprocess.run(
        [sys.executable, str(script), "--check", "--upstream", str(real_project / "upstream")],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_instruments_on_the_real_pin(in_real_project: Path):
    """Facts checked by reading v0.22.1's source: five platform classes define get_attn_backend_cls, and the
    engine asks current_platform is_rocm() and is_cuda() more than anything else."""
    resolved = json.loads(runner.invoke(app, ["resolve", "get_attn_backend_cls", "--json"]).stdout)
    classes = {match["qualname"].split(".")[0] for match in resolved["matches"]}
    assert resolved["status"] == "choices"
    assert {"Platform", "CpuPlatform", "CudaPlatformBase", "RocmPlatform", "XPUPlatform"} <= classes
    used = json.loads(runner.invoke(app, ["usages", "current_platform", "--json"]).stdout)
    top = [group["group"] for group in used["groups"][:5]]
    assert "is_cuda" in top and "is_rocm" in top
    assert used["count"] > 500 and used["files_searched"] > 1000


def test_contract_on_the_real_pin(in_real_project: Path):
    """Read from v0.22.1's cpu.py and cuda.py: device_type "cpu", dist_backend "gloo" and "nccl"; the CUDA
    alias chosen at import time; CPU overriding check_and_update_config."""
    result = runner.invoke(app, ["contract", "--platforms", "CpuPlatform,CudaPlatformBase", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    cells = {member["name"]: member["cells"] for member in data["members"]}
    assert cells["device_type"]["CpuPlatform"]["text"] == '"cpu"'
    assert cells["dist_backend"]["CpuPlatform"]["text"] == '"gloo"'
    assert cells["dist_backend"]["CudaPlatformBase"]["text"] == '"nccl"'
    assert cells["check_and_update_config"]["CpuPlatform"]["status"] == "override"
    everyone = json.loads(runner.invoke(app, ["contract", "--json"]).stdout)
    assert set(everyone["aliases"]["CudaPlatform"]) == {"NvmlCudaPlatform", "NonNvmlCudaPlatform"}


def test_plugins_on_the_real_pin(in_real_project: Path):
    """Read from v0.22.1's vllm/plugins/__init__.py and vllm/platforms/__init__.py."""
    data = json.loads(runner.invoke(app, ["plugins", "--json"]).stdout)
    assert data["platform_group"] == "vllm.platform_plugins"
    platform = next(group for group in data["groups"] if group["constant"] == "PLATFORM_PLUGINS_GROUP")
    assert [site["in"] for site in platform["loaded_at"]] == ["resolve_current_platform_cls_qualname"]
    assert {item["key"] for item in data["builtin_platform_plugins"]} >= {"cuda", "rocm", "cpu", "xpu", "tpu"}


def _links_open_on_the_cited_code(project: Path) -> int:
    """Every link of the export, checked against the tree of the commit it names (kept in upstream/'s history):
    a symbol's lines start and end where that tree defines it; a cited line holds the text recorded for it."""
    import re

    from phase17.notes import store
    from phase17.source.symbols import parse_definitions

    upstream = project / "upstream"
    log = git(upstream, "log", "--all", "--format=%H %(trailers:key=Phase17-Upstream-Commit,valueonly,separator=)")
    trees = {}
    for line in log.splitlines():
        local, _, carried = line.partition(" ")
        if carried.strip():
            trees[carried.strip()] = local
    line_texts = {
        (c.anchor.path, c.line): c.line_text
        for name in store.list_notes_files(project / "annotations")
        for c in store.load_notes(project / "annotations", name).citations
        if c.line is not None
    }
    checked = 0
    export = (project / "notebooks" / "phase17.md").read_text()
    for label, commit, path, start, end in re.findall(
        r"\[`([^`]+)`\]\(https://github\.com/vllm-project/vllm/blob/([0-9a-f]+)/([^#)]+)#L(\d+)(?:-L(\d+))?\)", export
    ):
        local = next(sha for carried, sha in trees.items() if carried.startswith(commit) or commit.startswith(carried))
        content = git(upstream, "show", f"{local}:{path}") + "\n"
        if not end and (path, int(start)) in line_texts and ":" in label and "::" not in label:  # a cited line
            text = content.split("\n")[int(start) - 1].strip()
            assert text == line_texts[(path, int(start))], (label, commit, path, start)
        else:
            spans = {(s.start_line, s.end_line) for s in parse_definitions(content.encode(), path)}
            assert (int(start), int(end or start)) in spans, (label, commit, path, start, end)
        checked += 1
    return checked


def _noted_copy(real_project: Path, tmp_path: Path) -> Path:
    """A copy of the real project with notes citing the four kinds of drift, written at the pin."""
    import shutil

    project = tmp_path / "copy"
    shutil.copytree(real_project, project, symlinks=True)
    os.chdir(project)
    (project / "notebooks").mkdir(exist_ok=True)
    noted = runner.invoke(
        app,
        [
            "notebook",
            "interface",
            "--data-structure",
            "Cites `Platform.get_lora_vocab_padding_size`, `Platform._find_non_ssm_backend` and "
            "`vllm/platforms/cuda.py::CudaPlatformBase.log_warnings`.",
            "--invariant",
            "The CPU config: cpu.py:141 sets the mp executor.",
        ],
    )
    assert noted.exit_code == 0, noted.output
    return project


def test_a_cited_line_and_its_links_follow_a_real_repin(real_project: Path, tmp_path: Path):
    """A cited line that moves within its symbol, and links to the commit each line belongs to (0.22.1 -> 0.23.0)."""
    project = _noted_copy(real_project, tmp_path)
    assert _links_open_on_the_cited_code(project) >= 4
    assert runner.invoke(app, ["pin", "0.23.0"]).exit_code == 1
    # 0.23.0 moved the line to 151 and rewrote the `if` guarding it two lines up: a neighbour changed, so the
    # citation is for the reader to review (never mended by --fix), found again at its new line
    (finding,) = [
        f for f in json.loads(runner.invoke(app, ["check", "--json"]).stdout) if f.get("cited") == "cpu.py:141"
    ]
    assert (finding["status"], finding["line_now"]) == ("changed", 151)
    runner.invoke(app, ["check", "--fix"])
    assert [c.line for c in store_notes(project, "interface").citations if c.cited == "cpu.py:141"] == [141]
    runner.invoke(app, ["check", "--accept", "interface"])  # reviewed: the new code taken, the line with it
    notes = store_notes(project, "interface")
    (cited,) = [c for c in notes.citations if c.cited == "cpu.py:141"]
    assert cited.line == 151  # the line that held the mp executor line at v0.22.1 is at 151 in v0.23.0
    assert "cpu.py:141 sets" in notes.notes["invariant"]  # the prose is the reader's
    runner.invoke(app, ["export"])
    assert _links_open_on_the_cited_code(project) >= 4  # each at the commit its lines belong to


def test_deleted_renamed_and_hoisted_methods_are_told_apart_after_a_real_repin(real_project: Path, tmp_path: Path):
    """A deleted method, a renamed one and one hoisted into its base, 0.22.1 -> 0.33.0 (a separate test from the
    0.23.0 one, so the two re-pins run side by side)."""
    _noted_copy(real_project, tmp_path)  # (and works in it)
    # the contract's changelog to 0.33.0 first: the release it fetches into the cache serves the re-pin's sdist too
    changes = json.loads(runner.invoke(app, ["contract", "--against", "0.33.0", "--json"]).stdout)["changes"]
    kinds = {(change["kind"], change["member"]): change for change in changes}
    assert kinds[("renamed", "_find_non_ssm_backend")]["successor"] == "_find_non_ssm_backends"
    assert ("removed", "get_lora_vocab_padding_size") in kinds and ("added", "log_warnings") in kinds
    assert runner.invoke(app, ["pin", "0.33.0"]).exit_code == 1
    findings = {
        item["anchor"].split("::")[1]: item for item in json.loads(runner.invoke(app, ["check", "--json"]).stdout)
    }
    assert findings["Platform.get_lora_vocab_padding_size"]["status"] == "deleted"
    renamed = findings["Platform._find_non_ssm_backend"]
    assert renamed["status"] == "missing" and renamed["suggestions"][0]["ref"].endswith(
        "::Platform._find_non_ssm_backends"
    )
    hoisted = findings["CudaPlatformBase.log_warnings"]
    assert hoisted["status"] == "missing" and hoisted["suggestions"][0]["ref"] == (
        "vllm/platforms/interface.py::Platform.log_warnings"
    )
    report = runner.invoke(app, ["check"])
    assert len(report.stdout.splitlines()) < 100
    reviewed = runner.invoke(app, ["review"])  # no terminal: the items printed, exit 1 while any remain
    assert reviewed.exit_code == 1 and "to review. In a terminal, `phase17 review` asks" in reviewed.stdout
    assert "interface · data structure, citing Platform._find_non_ssm_backend:" in reviewed.stdout


def store_notes(project: Path, name: str):
    from phase17.notes import store

    return store.load_notes(project / "annotations", name)


def test_the_answers_on_the_real_pin(in_real_project: Path):
    gates = {gate["name"]: gate for gate in json.loads(runner.invoke(app, ["gates", "--json"]).stdout)["gates"]}
    assert gates["is_cuda"]["platforms"]["CudaPlatformBase"]["value"] is True
    assert gates["is_cuda"]["platforms"]["CpuPlatform"]["value"] is False
    assert gates["supports_fp8"]["platforms"]["XPUPlatform"] == {
        "how": "literal",
        "value": True,
        "from": None,
        "line": gates["supports_fp8"]["platforms"]["XPUPlatform"]["line"],
        "path": "vllm/platforms/xpu.py",
    }
    assert gates["is_cuda"]["call_sites"] > 50
    effects = json.loads(runner.invoke(app, ["effects", "--json"]).stdout)["platforms"]
    cpu = {item["field"]: item for item in effects["CpuPlatform"]}
    assert cpu["parallel_config.worker_cls"]["value"] == '"vllm.v1.worker.cpu_worker.CPUWorker"'
    assert cpu["parallel_config.worker_cls"]["when"] == 'parallel_config.worker_cls == "auto"'
    usages = json.loads(runner.invoke(app, ["usages", "current_platform", "--json"]).stdout)
    undeclared = {group["group"] for group in usages["groups"] if group.get("declared") is False}
    assert {"current_device", "mem_get_info", "synchronize"} <= undeclared
    tree = json.loads(runner.invoke(app, ["callers", "Platform.check_and_update_config", "--json"]).stdout)

    def names(node):
        yield node["name"]
        for caller in node.get("callers", []):
            yield from names(caller)

    assert {"VllmConfig.__post_init__", "EngineArgs.create_engine_config"} <= set(names(tree))
    plugins = runner.invoke(app, ["plugins"]).stdout
    assert "docs/design/plugin_system.md" in plugins and "tests/plugins/vllm_add_dummy_platform" in plugins


def test_the_plugin_lab_on_the_real_pin(in_real_project: Path, tmp_path: Path):
    dummy = in_real_project / "upstream" / "tests" / "plugins" / "vllm_add_dummy_platform"
    checked = runner.invoke(app, ["plugins", "check", str(dummy), "--json"])
    data = json.loads(checked.stdout)
    assert [item["qualname"] for item in data["classes"]] == ["vllm_add_dummy_platform.dummy_platform.DummyPlatform"]
    call = next(item for item in data["findings"] if item["kind"] == "call")  # upstream's own example lags its engine
    assert call["member"] == "get_attn_backend_cls" and call["sites"][0]["path"] == "vllm/v1/attention/selector.py"
    assert {entry["group"] for entry in data["entry_points"]} == {"vllm.platform_plugins", "vllm.general_plugins"}
    wheel = tmp_path / "vllm_add_dummy_platform-0.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as bundle:  # the same plugin as its wheel would carry it
        for path in sorted((dummy / "vllm_add_dummy_platform").rglob("*.py")):
            bundle.write(path, path.relative_to(dummy).as_posix())
        entry_points = (
            "[vllm.platform_plugins]\ndummy_platform_plugin = vllm_add_dummy_platform:dummy_platform_plugin\n"
        )
        bundle.writestr("vllm_add_dummy_platform-0.1.dist-info/entry_points.txt", entry_points)
    from_wheel = json.loads(runner.invoke(app, ["plugins", "check", str(wheel), "--json"]).stdout)
    assert from_wheel["classes"] == data["classes"]
    assert from_wheel["findings"] == data["findings"]
    made = tmp_path / "mine"
    assert runner.invoke(app, ["plugins", "new", "mine", "--dir", str(made)]).exit_code == 0
    to_do = runner.invoke(app, ["plugins", "check", str(made)])
    assert to_do.exit_code == 1 and "To do (9)" in to_do.stdout, to_do.output


def _ast_calls(upstream: Path, names: set[str]) -> dict[str, set[tuple[str, int]]]:
    """Every call of each name below vllm/ by Python's own parser: NAME(...) and any_receiver.NAME(...)."""
    import ast

    found: dict[str, set[tuple[str, int]]] = {name: set() for name in names}
    for path in sorted((upstream / "vllm").rglob("*.py")):
        source = path.read_bytes()
        if not any(name.encode() in source for name in names):
            continue
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                called = node.func
                named = called.attr if isinstance(called, ast.Attribute) else getattr(called, "id", None)
                if named in found:
                    found[named].add((path.relative_to(upstream).as_posix(), called.end_lineno or node.lineno))
    return found


def test_usages_counts_every_call_that_pythons_own_parser_sees(in_real_project: Path):
    # cls.NAME(...) and self.NAME(...) inside the platform classes count as calls too (they were left out: 3 of
    # device_id_to_physical_device_id's 10 calls were found)
    names = {"device_id_to_physical_device_id", "get_device_capability", "check_and_update_config", "is_cuda"}
    theirs = _ast_calls(in_real_project / "upstream", names)
    for name in sorted(names):
        data = json.loads(runner.invoke(app, ["usages", name, "--json"]).stdout)
        ours = {(usage["path"], usage["line"]) for usage in data["usages"] if usage["call"]}
        assert ours == theirs[name], (name, sorted(theirs[name] - ours)[:5], sorted(ours - theirs[name])[:5])
        # callers reads only the files where the name is followed by "(": the same calls
        calls = {(call.path, call.line) for call in find_calls(Tree(in_real_project / "upstream"), name)}
        assert calls == theirs[name], name


def test_the_classes_read_from_the_files_that_name_them_answer_as_the_whole_tree(
    in_real_project: Path, monkeypatch: pytest.MonkeyPatch
):
    """contract, gates and effects read the classes of the files that spell a platform class's name (21 of 1,758
    at the pin); with every file's classes read instead, each answer is the same."""
    from phase17.instruments import classes, contract, effects, gates

    upstream = in_real_project / "upstream"
    answers = [
        contract.build_contract(Tree(upstream)).to_data(),
        gates.find_gates(Tree(upstream)).to_data(),
        effects.find_effects(Tree(upstream)).to_data(),
    ]
    whole = classes.classes_below(Tree(upstream), ("vllm",))
    monkeypatch.setattr(contract, "load_classes", lambda *_, **__: whole)
    assert len(whole[0]) > 10 * len(contract.build_contract(Tree(upstream)).platforms)
    assert [
        contract.build_contract(Tree(upstream)).to_data(),
        gates.find_gates(Tree(upstream)).to_data(),
        effects.find_effects(Tree(upstream)).to_data(),
    ] == answers
