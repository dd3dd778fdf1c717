"""The command line: parsing, exit codes, messages and rendering, end to end in a fixture project."""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers import (
    FAKE_COMMIT,
    MALFORMED,
    MALFORMED_ERRORS,
    assert_golden,
    ast_lines,
    build_sdist,
    by_anchor,
    git,
    invoke,
    publish,
    serve,
    statuses_of,
    write_pin,
)
from phase17.cli.app import app
from phase17.errors import InvalidFileError
from phase17.index.tree import Tree
from phase17.notes import store
from phase17.notes.citations import resolve_citations
from phase17.notes.guide import load_reading_list
from phase17.notes.notebook import ensure_notes_files
from phase17.upstream.checkout import inspect_upstream
from phase17.upstream.pin import load_pin

# ---------------------------------------------------------------- fetch and pin


def test_fetch_then_pin_matches(project: Path, git_source):
    result = invoke("fetch", "--source", str(git_source[0]))
    assert result.exit_code == 0, result.output
    assert f"upstream/ now holds v9.9.9 @ {git_source[1][:7]}" in result.stdout
    assert f"from git: {git_source[0]}" in " ".join(result.stdout.split())
    again = invoke("fetch", "--source", str(git_source[0]))
    assert again.exit_code == 0 and "upstream/ is up to date" in again.stdout
    status = invoke("pin")
    assert status.exit_code == 0, status.output
    assert "matches the pin (from git)" in status.stdout


def test_pin_json_and_exit_codes(fetched_project: Path):
    data = json.loads(invoke("pin", "--json").stdout)
    assert data["upstream"]["status"] == "matches" and data["tag"] == "v9.9.9"
    (fetched_project / "upstream" / "vllm" / "platforms" / "cpu.py").write_text("# edit\n", encoding="utf-8")
    result = invoke("pin")
    assert result.exit_code == 1, result.output
    assert "1 file(s) modified or untracked" in result.stdout and "vllm/platforms/cpu.py" in result.stdout


def test_pin_reports_a_missing_upstream(project: Path):
    result = invoke("pin")
    assert result.exit_code == 1, result.output
    assert "missing: run phase17 fetch" in result.stdout


def test_fetch_refuses_a_modified_upstream_without_force(fetched_project: Path, git_source):
    (fetched_project / "upstream" / "vllm" / "platforms" / "cpu.py").write_text("# edit\n", encoding="utf-8")
    result = invoke("fetch", "--source", str(git_source[0]))
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ") and "run phase17 fetch --force" in result.stderr
    assert "Traceback" not in result.output
    forced = invoke("fetch", "--source", str(git_source[0]), "--force")
    assert forced.exit_code == 0, forced.output


def test_commands_work_from_a_subfolder(fetched_project: Path):
    os.chdir(fetched_project / "annotations")
    assert invoke("pin").exit_code == 0


def test_upstream_option_and_environment_variable(fetched_project: Path, tmp_path: Path, monkeypatch):
    elsewhere = tmp_path / "my-clone"
    (fetched_project / "upstream").rename(elsewhere)
    assert invoke("pin").exit_code == 1
    assert invoke("--upstream", str(elsewhere), "pin").exit_code == 0
    monkeypatch.setenv("PHASE17_UPSTREAM", str(elsewhere))
    result = invoke("resolve", "CpuPlatform", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["matches"][0]["path"] == "vllm/platforms/cpu.py"


def test_outside_a_project_is_a_clear_error(tmp_path: Path):
    os.chdir(tmp_path)
    result = invoke("pin")
    assert result.exit_code == 2
    assert "no UPSTREAM_PIN.md in" in result.stderr and "run phase17 inside a phase17 project" in result.stderr


def test_a_malformed_pin_is_exit_2_with_the_line(fetched_project: Path):
    pin = fetched_project / "UPSTREAM_PIN.md"
    pin.write_text(pin.read_text().replace("tag: v9.9.9", "tag: [v9"), encoding="utf-8")
    result = invoke("read", "interface")
    assert result.exit_code == 2
    assert re.match(r"Error: .*UPSTREAM_PIN.md:\d+: ", result.stderr)


# ---------------------------------------------------------------- resolve and outline


def test_resolve_json_gives_lines(fetched_project: Path):
    result = invoke("resolve", "Platform.get_attn_backend_cls", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["status"] == "found"
    (match,) = data["matches"]
    lines = ast_lines(fetched_project / "upstream" / match["path"], "Platform.get_attn_backend_cls")
    assert (match["path"], match["kind"]) == ("vllm/platforms/interface.py", "classmethod")
    assert (match["start_line"], match["def_line"], match["end_line"]) == lines
    assert (
        match["signature"]
        == "def get_attn_backend_cls(cls, selected_backend: str, num_heads: int | None = None) -> str:"
    )


def test_resolve_show_prints_source_with_real_line_numbers(fetched_project: Path):
    result = invoke("resolve", "vllm/platforms/cpu.py::CpuPlatform.is_pin_memory_available", "--show")
    assert result.exit_code == 0, result.output
    first, _, last = ast_lines(
        fetched_project / "upstream" / "vllm/platforms/cpu.py", "CpuPlatform.is_pin_memory_available"
    )
    assert re.search(rf"^\s*{first}\s+@classmethod", result.stdout, re.MULTILINE)
    assert re.search(rf"^\s*{last}\s+return False", result.stdout, re.MULTILINE)


def test_resolve_reports_missing_and_ambiguous(fetched_project: Path):
    missing = invoke("resolve", "NoSuchThing")
    assert missing.exit_code == 1 and "no definition of that name" in missing.stderr
    ambiguous = invoke("resolve", "nvml_available", "--json")
    assert ambiguous.exit_code == 1
    data = json.loads(ambiguous.stdout)
    assert data["status"] == "ambiguous" and [m["start_line"] for m in data["matches"]] == [49, 53]
    narrowed = invoke("resolve", "get_max_threads", "--in", "cpu", "--json")
    assert narrowed.exit_code == 0, narrowed.output


def test_resolve_needs_an_upstream(project: Path):
    result = invoke("resolve", "Platform")
    assert result.exit_code == 2 and "is missing; run phase17 fetch first" in result.stderr


def test_outline_lists_classes_and_the_alias(fetched_project: Path):
    result = invoke("outline", "cuda")
    assert result.exit_code == 0, result.output
    for name in (
        "CudaPlatformBase  class",
        "NvmlCudaPlatform  class",
        "NonNvmlCudaPlatform  class",
        "CudaPlatform  assignment",
    ):
        assert name in result.stdout
    data = json.loads(invoke("outline", "plugins", "--json").stdout)
    assert [item["path"] for item in data] == ["vllm/plugins/__init__.py", "vllm/plugins/io_processors/__init__.py"]


# ---------------------------------------------------------------- read and list


def test_read_interface_matches_golden(fetched_project: Path):
    result = invoke("read", "interface", "--no-pager")
    assert result.exit_code == 0, result.output
    assert "\x1b[" not in result.stdout
    assert_golden("read_interface.txt", result.stdout)


def test_read_by_number_json(fetched_project: Path):
    result = invoke("read", "4", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["target"]["key"] == "platforms"
    by_ref = {item["ref"]: item for item in data["symbols"]}
    (match,) = by_ref["resolve_current_platform_cls_qualname"]["matches"]
    first, _, last = ast_lines(
        fetched_project / "upstream" / "vllm/platforms/__init__.py", "resolve_current_platform_cls_qualname"
    )
    assert (match["start_line"], match["end_line"]) == (first, last)
    assert [q["number"] for q in data["questions"]] == [2, 3]
    assert [p["key"] for p in data["prompts"]] == ["data_structure", "invariant", "edge_case"]
    assert data["next"] == "plugins"


def test_read_an_unknown_target_is_exit_2(fetched_project: Path):
    result = invoke("read", "nosuch")
    assert result.exit_code == 2
    assert "Valid targets: interface, cuda, cpu, platforms, plugins" in result.stderr


def test_read_symbol_shows_one_symbol_whole(fetched_project: Path):
    result = invoke("read", "cuda", "--symbol", "NvmlCudaPlatform", "--no-pager")
    assert result.exit_code == 0, result.output
    assert "NvmlCudaPlatform  class" in result.stdout and "CudaPlatformBase  class  vllm" not in result.stdout


def test_read_full_shows_the_whole_file(fetched_project: Path):
    result = invoke("read", "cpu", "--full", "--no-pager")
    assert result.exit_code == 0, result.output
    lines = (fetched_project / "upstream" / "vllm" / "platforms" / "cpu.py").read_text().splitlines()
    assert re.search(rf"^\s*{len(lines)}\s+return False", result.stdout, re.MULTILINE)


def test_read_fetches_on_first_use(project: Path):
    result = invoke("read", "cpu", "--no-pager")
    assert result.exit_code == 0, result.output
    assert "upstream/ is missing: fetching v9.9.9" in result.stderr
    assert "upstream/ now holds v9.9.9" in result.stderr
    assert "CpuPlatform  class" in result.stdout


def test_read_no_fetch_stops_with_the_hint(project: Path):
    result = invoke("read", "cpu", "--no-fetch")
    assert result.exit_code == 2
    assert "is missing; run phase17 fetch first" in result.stderr
    assert not (project / "upstream").exists()


def test_read_warns_when_upstream_is_not_the_pin(fetched_project: Path):
    (fetched_project / "upstream" / "vllm" / "platforms" / "cpu.py").write_text(
        "class CpuPlatform:\n    pass\n", encoding="utf-8"
    )
    result = invoke("read", "cpu", "--no-pager")
    assert result.exit_code == 0, result.output
    assert "Warning: upstream/ is modified (1 files)" in result.stderr


def test_read_open_runs_the_editor_at_the_first_symbol(fetched_project: Path, tmp_path: Path, monkeypatch):
    log = tmp_path / "editor.log"
    script = tmp_path / "my editor.sh"
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{log}"\n', encoding="utf-8")
    script.chmod(0o755)
    monkeypatch.setenv("VISUAL", f"'{script}' --wait")
    result = invoke("read", "interface", "--open")
    assert result.exit_code == 0, result.output
    first = ast_lines(fetched_project / "upstream" / "vllm/platforms/interface.py", "Platform")[0]
    assert log.read_text().splitlines() == [
        "--wait",
        f"+{first}",
        str(fetched_project / "upstream" / "vllm" / "platforms" / "interface.py"),
    ]


def test_list_and_status(fetched_project: Path):
    result = invoke("list", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["key"], r["symbols_found"], r["symbols"]) for r in rows] == [
        ("interface", 10, 10),
        ("cuda", 10, 10),
        ("cpu", 8, 8),
        ("platforms", 6, 6),
        ("plugins", 6, 6),
    ]
    assert all(r["notes_written"] == 0 and r["anchors"] == "not checked" for r in rows)
    table = invoke("status")
    assert table.exit_code == 0 and "interface" in table.stdout and "10 of 10" in table.stdout


def test_list_without_upstream_says_so(project: Path):
    result = invoke("list")
    assert result.exit_code == 0
    assert "upstream missing" in result.stdout and "run phase17 fetch" in result.stderr


# ---------------------------------------------------------------- guards


def test_every_command_has_help():
    names = [command.name or command.callback.__name__ for command in app.registered_commands]
    assert {"fetch", "pin", "resolve", "outline", "read", "list", "status"} <= set(names)
    for name in names:
        result = invoke(name, "--help")
        assert result.exit_code == 0, name
        assert "Example: phase17" in result.stdout, f"{name} --help gives no example"


def test_python_dash_m_runs():
    result = subprocess.run([sys.executable, "-m", "phase17", "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and "fetch" in result.stdout


@pytest.mark.slow  # (a process per run)
def test_piped_output_has_no_escape_codes(fetched_project: Path):
    environment = {key: value for key, value in os.environ.items() if key != "NO_COLOR"}
    result = subprocess.run(
        [sys.executable, "-m", "phase17", "read", "cpu"], capture_output=True, text=True, env=environment, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout and "CpuPlatform" in result.stdout


def test_the_shipped_style_notes_check_clean_at_the_pin(noted: Path):
    result = invoke("check", "--json")
    assert result.exit_code == 0, result.output
    findings = json.loads(result.stdout)
    assert findings and {item["status"] for item in findings} == {"ok"}
    shown = invoke("check").stdout
    assert re.search(r"^\d+ ok$", shown, re.MULTILINE) and "to look at" in shown and " 0 to look at" in shown


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
    statuses = statuses_of(json.loads(result.stdout))
    assert statuses["CpuPlatform.dist_backend"] == "moved" and statuses["_get_backend_priorities"] == "deleted"


def test_every_kind_of_drift_is_classified(drifted: tuple[Path, str]):
    project, v2 = drifted
    result = invoke("pin", "v9.9.10", "--json")
    assert result.exit_code == 1, result.output
    pin = load_pin(project / "UPSTREAM_PIN.md")
    assert (pin.tag, pin.commit) == ("v9.9.10", v2)
    findings = json.loads(result.stdout)
    statuses = statuses_of(findings)
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
        "_get_backend_priorities": "deleted",  # no successor anywhere
        "NvmlCudaPlatform.device_count (cited)": "missing",  # hoisted into the base class
        "cpu_platform_plugin": "ambiguous",  # a duplicate introduced
        "CpuPlatform.get_attn_backend_cls (cited)": "moved",
    }
    assert {name: statuses[name] for name in expected} == expected
    by = {
        key.split("|")[0].split("::")[1] + ("|c" if key.split("|")[1] else ""): item
        for key, item in by_anchor(findings).items()
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

    cited_line = by["CpuPlatform.get_attn_backend_cls|c"]  # cpu.py:LINE, its text found 4 lines lower
    assert (cited_line["line_text"], cited_line["line_now"]) == ('return "cpu_attn"', cited_line["line"] + 4)
    assert set(findings[0]) >= {"target", "anchor", "kind", "status", "recorded", "current", "suggestions"}


def test_the_report_names_suggestions_and_counts(drifted: tuple[Path, str]):
    project, _ = drifted
    result = invoke("pin", "v9.9.10")
    assert result.exit_code == 1
    flat = " ".join(result.stdout.split())
    assert "-> vllm/platforms/utils.py::with_nvml_context (1.00, moved to another file)" in flat
    assert "renamed in place" in flat and "moved to another class" in flat
    assert re.search(r"\d+ ok, \d+ moved, 5 changed, 3 missing, 1 deleted, 1 ambiguous", flat)
    assert "the note still says cpu.py:" in flat
    assert "no successor" in flat and "phase17 check --retire REF" in flat
    assert len(result.stdout.splitlines()) < 60  # one line per finding, no diffs unless asked


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
    assert remaining == {"changed", "missing", "deleted", "ambiguous"}
    notes = store.load_notes(project / "annotations", "cuda")
    (cited,) = [c for c in notes.citations if c.line is not None]
    old_number = int(cited.cited.rsplit(":", 1)[1])
    assert cited.line == old_number + 4 and cited.line_text == 'return "cpu_attn"'  # the line is recorded anew
    assert f"cpu.py:{old_number} " in notes.notes["edge_case"]  # the prose is untouched
    rewritten = invoke("check", "--fix", "--rewrite-lines")  # nothing moved any more: the prose stays
    assert f"cpu.py:{old_number} " in store.load_notes(project / "annotations", "cuda").notes["edge_case"]
    assert rewritten.exit_code == 1


def test_rewrite_lines_rewrites_the_cited_line_number_in_the_prose_when_asked(drifted: tuple[Path, str]):
    project, _ = drifted
    invoke("pin", "v9.9.10")
    before = store.load_notes(project / "annotations", "cuda")
    (cited,) = [c for c in before.citations if c.line is not None]
    assert invoke("check", "--fix", "--rewrite-lines").exit_code == 1
    after = store.load_notes(project / "annotations", "cuda")
    (now,) = [c for c in after.citations if c.line is not None]
    assert now.cited == f"cpu.py:{cited.line + 4}" and now.line == cited.line + 4
    assert f"cpu.py:{cited.line + 4} picks the backend" in after.notes["edge_case"]
    assert f"cpu.py:{cited.line} " not in after.notes["edge_case"]


def test_accept_and_relink(drifted: tuple[Path, str]):
    project, _ = drifted
    invoke("pin", "v9.9.10")
    accepted = invoke("check", "--accept", "CudaPlatformBase.check_and_update_config", "--json")
    statuses = statuses_of(json.loads(accepted.stdout))
    assert statuses["CudaPlatformBase.check_and_update_config"] == "ok"
    relinked = invoke("check", "--relink", "with_nvml_context", "vllm/platforms/utils.py::with_nvml_context", "--json")
    assert statuses_of(json.loads(relinked.stdout)).get("with_nvml_context") == "ok"
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


def _notes(project: Path, name: str = "interface") -> store.NotesFile:
    return store.load_notes(project / "annotations", name)


def test_first_save_creates_every_notes_file_with_anchors_at_the_pin(fetched_project: Path):
    result = invoke("notebook", "cpu", "--data-structure", "A list of NUMA nodes.")
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (fetched_project / "annotations").glob("*.yaml"))
    assert names == ["cpu.yaml", "cuda.yaml", "interface.yaml", "platforms.yaml", "plugins.yaml", "questions.yaml"]
    cpu = _notes(fetched_project, "cpu")
    pin = load_pin(fetched_project / "UPSTREAM_PIN.md")
    assert (cpu.pin.tag, cpu.pin.commit) == (pin.tag, pin.commit)
    assert [a.symbol for a in cpu.anchors][:2] == [
        "vllm/platforms/cpu.py::CpuPlatform",
        "vllm/platforms/cpu.py::CpuPlatform.dist_backend",
    ]
    assert cpu.notes == {"data_structure": "A list of NUMA nodes.", "invariant": "", "edge_case": ""}
    assert "saved data structure to annotations/cpu.yaml" in result.stdout


def test_citations_are_resolved_and_anchored(fetched_project: Path):
    note = (
        "`Platform.get_attn_backend_cls` returns a path; `vllm/platforms/cpu.py::CpuPlatform` overrides it, "
        "see interface.py:40 and `NoSuchThing`, `get_max_threads()` and `x + y`."
    )
    result = invoke("notebook", "interface", "--invariant", note)
    assert result.exit_code == 0, result.output
    cited = {c.cited: c for c in _notes(fetched_project).citations}
    assert sorted(cited) == [
        "Platform.get_attn_backend_cls",
        "get_max_threads",
        "interface.py:40",
        "vllm/platforms/cpu.py::CpuPlatform",
    ]
    assert cited["interface.py:40"].anchor.symbol == "vllm/platforms/interface.py::Platform.get_attn_backend_cls"
    assert cited["interface.py:40"].line == 40
    assert (
        cited["get_max_threads"].anchor.symbol == "vllm/platforms/cpu.py::get_max_threads"
    )  # found outside the target
    assert all(c.note == "invariant" for c in cited.values())
    assert "warning: `NoSuchThing` is not defined in upstream/" in " ".join(result.stderr.split())


def test_ambiguous_and_out_of_definition_citations_warn(fetched_project: Path):
    upstream = fetched_project / "upstream"
    citations, warnings = resolve_citations(
        Tree(upstream), "edge_case", "`nvml_available` and cuda.py:1 and nope.py:3", ("vllm/platforms/cuda.py",)
    )
    assert citations == []
    assert warnings == [
        "cuda.py:1: line 1 of vllm/platforms/cuda.py is not inside one definition; not anchored.",
        "nope.py:3: no file nope.py in upstream/; not anchored.",
        "`nvml_available` is defined 2 times (vllm/platforms/cuda.py:49, vllm/platforms/cuda.py:53); "
        "write path::name to anchor one.",
    ]


def test_replacing_a_note_replaces_its_citations_only(fetched_project: Path):
    invoke("notebook", "interface", "--invariant", "`Platform`", "--edge-case", "`PlatformEnum`")
    invoke("notebook", "interface", "--invariant", "`DeviceCapability`")
    cited = sorted((c.note, c.cited) for c in _notes(fetched_project).citations)
    assert cited == [("edge_case", "PlatformEnum"), ("invariant", "DeviceCapability")]


def _settle() -> None:
    """A moment for the prompt just printed to be read from: its text is written before the read starts, and a
    Ctrl-C between the two, on a slow machine, has been seen to leave the process waiting."""
    import time

    time.sleep(0.3)


def _spawn_in_terminal(project: Path, *args: str):
    """phase17 in a real pseudo-terminal, as a reader runs it."""
    import pexpect  # in the test extra

    environment = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1"}
    return pexpect.spawn(
        sys.executable, ["-m", "phase17", *args], cwd=str(project), env=environment, encoding="utf-8", timeout=30
    )


@pytest.mark.slow  # (a real terminal: a process per run)
def test_interactive_notebook_saves_each_answer(fetched_project: Path):
    import pexpect

    child = _spawn_in_terminal(fetched_project, "notebook", "interface")
    child.expect("Platform.get_attn_backend_cls")  # the reminder of key symbols with lines
    for answer in (
        "A dict of plugins.",
        "Only one platform is current.",
        "",
        "Q1 answer.",
        "Q2 cites `PlatformEnum`.",
        "",
    ):
        child.expect(r"\? ?: ?|: $|\] ?: ?")
        child.sendline(answer)
    child.expect("Next: phase17 read cuda")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert _notes(fetched_project).notes == {
        "data_structure": "A dict of plugins.",
        "invariant": "Only one platform is current.",
        "edge_case": "",
    }
    questions = _notes(fetched_project, "questions")
    assert questions.notes["1"] == "Q1 answer." and questions.notes["2"] == "Q2 cites `PlatformEnum`."
    assert [c.anchor.symbol for c in questions.citations] == ["vllm/platforms/interface.py::PlatformEnum"]
    markdown = (fetched_project / "notebooks" / "phase17.md").read_text()
    assert "Only one platform is current." in markdown and "Q2 cites" in markdown


@pytest.mark.slow  # (a real terminal: a process per run)
def test_enter_keeps_the_current_answer(fetched_project: Path):
    import pexpect

    invoke("notebook", "interface", "--data-structure", "Kept.")
    child = _spawn_in_terminal(fetched_project, "notebook", "interface")
    child.expect("current: Kept.")
    child.expect(r"\[Enter keeps it\]")
    child.sendline("")
    child.expect("What invariant must hold")  # Ctrl-C only once the next prompt waits (not mid-save, under load)
    _settle()
    child.sendcontrol("c")
    child.expect(pexpect.EOF)
    child.close()
    assert _notes(fetched_project).notes["data_structure"] == "Kept."


def test_without_a_terminal_the_notebook_never_prompts(fetched_project: Path):
    result = invoke("notebook", "interface", input="The first answer.\n")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: no terminal to ask the prompts of interface on: give the notes as options")
    assert _notes(fetched_project).notes["data_structure"] == ""


def test_no_target_picks_the_first_unfinished(fetched_project: Path):
    invoke("notebook", "interface", "--data-structure", "a.", "--invariant", "b.", "--edge-case", "c.")
    result = invoke("notebook", input="")
    assert result.exit_code == 2 and "the prompts of cuda" in result.stderr


def test_answer_command(fetched_project: Path):
    result = invoke("answer", "4", "The CPU path uses `CpuPlatform.check_and_update_config`.")
    assert result.exit_code == 0, result.output
    questions = _notes(fetched_project, "questions")
    assert questions.notes["4"].startswith("The CPU path")
    assert questions.citations[0].anchor.symbol == "vllm/platforms/cpu.py::CpuPlatform.check_and_update_config"
    bad = invoke("answer", "9", "x")
    assert bad.exit_code == 2 and "no question 9" in bad.stderr


def test_a_hand_broken_yaml_is_reported_by_line_and_left_alone(fetched_project: Path):
    invoke("notebook", "interface", "--data-structure", "Something.")
    path = fetched_project / "annotations" / "interface.yaml"
    broken = path.read_text().replace("  kind: class\n", "  kind: [class\n", 1)
    path.write_text(broken, encoding="utf-8")
    line = broken.splitlines().index("  kind: [class") + 2
    for command in (["notebook", "interface", "--invariant", "x"], ["export"]):  # what would write it refuses
        result = invoke(*command)
        assert result.exit_code == 2, (command, result.output)
        assert result.stderr.startswith(f"Error: annotations/interface.yaml:{line}: "), result.stderr
        assert path.read_text() == broken
    for command in (["read", "interface", "--no-pager"], ["list"]):  # what only reads it goes on, and says so
        result = invoke(*command)
        assert result.exit_code == 0, (command, result.output)
        assert f"warning: annotations/interface.yaml:{line}: " in result.output + result.stderr
        assert path.read_text() == broken


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("start: 24", "start: -3"), "anchors[1].start must be a line number"),
        (("notes:\n", "notes:\n  mood: happy\n"), "unknown key 'mood' in notes"),
        (("target: interface", "target: cuda"), "target is 'cuda' but the file is named interface.yaml"),
        (
            ("path: vllm/platforms/interface.py\n", "path: vllm/platforms/interface.py\ncolour: red\n"),
            "unknown key 'colour'",
        ),
        (("  data_structure: ''\n", "  data_structure: 12\n"), "notes.data_structure must be text, not the number 12"),
    ],
)
def test_shape_errors_name_the_line(fetched_project: Path, change, message):
    ensure_notes_files(
        fetched_project / "annotations",
        Tree(fetched_project / "upstream"),
        load_reading_list(),
        load_pin(fetched_project / "UPSTREAM_PIN.md"),
    )
    path = fetched_project / "annotations" / "interface.yaml"
    text = path.read_text()
    assert change[0] in text
    path.write_text(text.replace(change[0], change[1], 1), encoding="utf-8")
    with pytest.raises(InvalidFileError, match=rf"^annotations/interface.yaml:\d+: .*{re.escape(message)}"):
        _notes(fetched_project)


def test_load_then_save_is_byte_identical(fetched_project: Path):
    invoke(
        "notebook", "interface", "--data-structure", "Quotes ' \" and: colons, # hashes, no, null, 1e3, - x, ünïcode."
    )
    path = fetched_project / "annotations" / "interface.yaml"
    before = path.read_bytes()
    store.save_notes(fetched_project / "annotations", _notes(fetched_project))
    assert path.read_bytes() == before


def test_a_failed_write_leaves_the_old_file(fetched_project: Path, monkeypatch):
    invoke("notebook", "interface", "--data-structure", "Old.")
    path = fetched_project / "annotations" / "interface.yaml"
    before = path.read_bytes()

    def disk_full(descriptor: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    result = invoke("notebook", "interface", "--data-structure", "New.")
    assert result.exit_code == 2
    assert "could not write (No space left on device); the previous file is unchanged" in result.stderr
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_edit_validates_and_keeps_the_old_file_on_a_bad_edit(fetched_project: Path, tmp_path: Path, monkeypatch):
    invoke("notebook", "interface", "--data-structure", "Old.")
    path = fetched_project / "annotations" / "interface.yaml"
    before = path.read_text()
    breaker = tmp_path / "break.sh"
    breaker.write_text('#!/bin/sh\nprintf "target: [oops\\n" > "$1"\n', encoding="utf-8")
    breaker.chmod(0o755)
    monkeypatch.setenv("EDITOR", str(breaker))
    result = invoke("notebook", "interface", "--edit")
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("Error: annotations/interface.yaml:2: ")  # no terminal: no "reopen?" prompt
    assert (
        "your edit is kept in annotations/.interface.rejected.yaml" in result.stderr and "Reopen" not in result.output
    )
    assert path.read_text() == before
    assert (path.parent / ".interface.rejected.yaml").read_text() == "target: [oops\n"

    fixer = tmp_path / "fix.sh"
    fixer.write_text(
        '#!/bin/sh\nsed -i "s/data_structure: Old./data_structure: Edited, citing \\`PlatformEnum\\`./" "$1"\n',
        encoding="utf-8",
    )
    fixer.chmod(0o755)
    monkeypatch.setenv("EDITOR", str(fixer))
    result = invoke("notebook", "interface", "--edit")
    assert result.exit_code == 0, result.output
    notes = _notes(fetched_project)
    assert notes.notes["data_structure"] == "Edited, citing `PlatformEnum`."
    assert [c.cited for c in notes.citations] == ["PlatformEnum"]
    assert (path.parent / "interface.yaml.bak").read_text() == before


def _writer(project: str, key: str, rounds: int) -> None:
    os.chdir(project)
    from phase17.cli.app import app as cli_app

    for round_number in range(rounds):
        CliRunner().invoke(cli_app, ["notebook", "interface", f"--{key.replace('_', '-')}", f"{key} {round_number}."])


@pytest.mark.slow  # two processes racing: the full run
def test_two_processes_writing_at_once_never_corrupt_the_file(fetched_project: Path):
    invoke("notebook", "interface", "--data-structure", "start.")
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_writer, args=(str(fetched_project), key, 8)) for key in ("invariant", "edge_case")
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    notes = _notes(fetched_project)
    assert notes.notes == {"data_structure": "start.", "invariant": "invariant 7.", "edge_case": "edge_case 7."}


def test_read_shows_the_notes_so_far(fetched_project: Path):
    invoke("notebook", "interface", "--edge-case", "Unknown attributes return None.")
    invoke("answer", "2", "Through current_platform.")
    data = json.loads(invoke("read", "interface", "--json").stdout)
    assert {p["key"]: p["answer"] for p in data["prompts"]}["edge_case"] == "Unknown attributes return None."
    assert {q["number"]: q["answer"] for q in data["questions"]}[2] == "Through current_platform."
    rows = {row["key"]: row for row in json.loads(invoke("list", "--json").stdout)}
    assert rows["interface"]["notes_written"] == 1 and rows["interface"]["questions_answered"] == 1


@pytest.mark.slow  # (a real terminal: a process per run)
def test_ctrl_c_in_a_real_terminal_keeps_the_first_answer(fetched_project: Path):
    import pexpect  # in the test extra

    environment = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1"}
    child = pexpect.spawn(
        sys.executable,
        ["-m", "phase17", "notebook", "interface"],
        cwd=str(fetched_project),
        env=environment,
        encoding="utf-8",
        timeout=30,
    )
    child.expect("What data structure does it build or keep")
    child.sendline("Typed in a real terminal.")
    child.expect("saved data structure to annotations/interface.yaml")
    child.expect("What invariant must hold")
    _settle()
    child.sendcontrol("c")
    child.expect("1 answer\\(s\\) from this session are saved")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    notes = _notes(fetched_project)
    assert notes.notes["data_structure"] == "Typed in a real terminal." and notes.notes["invariant"] == ""
    assert "Typed in a real terminal." in (fetched_project / "notebooks" / "phase17.md").read_text()


@pytest.mark.slow  # 25 inputs through 4 commands: the full run
def test_malformed_notes_through_every_command_exit_2(fetched_project: Path, report_figure):
    assert invoke("notebook", "interface", "--data-structure", "x.").exit_code == 0
    path = fetched_project / "annotations" / "interface.yaml"
    tried = 0
    for name, raw in MALFORMED:
        path.write_bytes(raw)
        for command in (
            ["read", "interface", "--no-pager"],
            ["check"],
            ["export"],
            ["notebook", "interface", "--invariant", "y."],
        ):
            result = invoke(*command)
            where = f"annotations/interface.yaml:{MALFORMED_ERRORS[name]}"
            if command[0] == "read":  # reading costs only the broken file: shown without its notes, and warned
                assert result.exit_code == 0, (command, result.output)
                assert f"warning: {where}"[:60] in result.output.replace("\n", " "), (name, result.output[-600:])
            else:
                assert result.exit_code == 2, (command, result.output)
                assert result.stderr == f"Error: {where}\n", (name, command)
            assert path.read_bytes() == raw
            tried += 1
    report_figure(
        f"[reliability] malformed notes files tried: {len(MALFORMED)} inputs x 4 commands = {tried} "
        "runs, 0 files changed"
    )


def test_bad_upstream_files_never_crash_a_command(fetched_project: Path, tmp_path: Path):
    plugins = fetched_project / "upstream" / "vllm" / "plugins"
    (plugins / "binary.py").write_bytes(b"\x7fELF\x00\x01\x02" * 100)
    (plugins / "broken.py").write_text(
        "def load_plugins_by_group(:\n    pass\nclass Fine:\n    x = 1\n", encoding="utf-8"
    )
    (plugins / "latin1.py").write_bytes(b"# caf\xe9\ndef latin(): return '\xff'\n")
    (plugins / "huge.py").write_bytes(b"x = 1\n" * (9 * 1024 * 1024 // 6 + 10))
    outside = tmp_path / "outside.py"
    outside.write_text("def load_plugins_by_group():\n    pass\n", encoding="utf-8")
    os.symlink(outside, plugins / "escape.py")
    for command in (
        ["read", "plugins", "--no-pager"],
        ["outline", "plugins"],
        ["resolve", "load_plugins_by_group"],
        ["list"],
        ["check"],
        ["read", "plugins", "--json"],
    ):
        result = invoke(*command)
        assert result.exit_code in (0, 1), (command, result.output)
        assert "Traceback" not in result.output
        if command[0] in ("read", "outline"):
            for name in ("binary.py", "huge.py", "escape.py"):
                assert result.output.count(f"vllm/plugins/{name}") == 1, (command, name, result.output)
    resolved = json.loads(invoke("resolve", "load_plugins_by_group", "--json").stdout)
    # broken.py's def is recovered from its syntax error; the link out of upstream/ is never followed, and every
    # file that could not be searched is named (the definition might be there)
    assert [m["path"] for m in resolved["matches"]] == ["vllm/plugins/__init__.py", "vllm/plugins/broken.py"]
    assert {u["path"] for u in resolved["unreadable"]} == {
        f"vllm/plugins/{name}" for name in ("escape.py", "binary.py", "huge.py")
    }
    assert "Fine" in invoke("outline", "plugins").stdout and "latin" in invoke("outline", "plugins").stdout


def test_insecure_skip_verify_warns_and_is_recorded(tmp_path: Path):
    root = tmp_path / "p"
    write_pin(root, FAKE_COMMIT)
    index = tmp_path / "index"
    publish(index, build_sdist(tmp_path / "dist", commit_id="123abc456"), digest="0" * 64)
    os.chdir(root)
    with serve(index) as url:
        os.environ["PIP_INDEX_URL"] = url
        try:
            refused = invoke("fetch", "--source", "pypi")
            assert refused.exit_code == 2 and "sha256 is" in refused.stderr
            result = invoke("fetch", "--source", "pypi", "--insecure-skip-verify")
        finally:
            del os.environ["PIP_INDEX_URL"]
    assert result.exit_code == 0, result.output
    assert "INSECURE: --insecure-skip-verify" in result.stderr and "NOT verified" in result.stdout
    upstream = root / "upstream"
    assert (
        "verification: skipped (--insecure-skip-verify)" in (upstream / ".git" / "phase17-provenance.yaml").read_text()
    )
    assert "Verification: skipped (--insecure-skip-verify)" in git(upstream, "log", "-1", "--format=%B")
    state = inspect_upstream(upstream, load_pin(root / "UPSTREAM_PIN.md"))
    # the tree names commit 123abc456, not the pin's: never "matches" on the pin's own word
    assert state.status == "other-commit" and state.carries == "123abc456" and not state.is_verified
    shown = invoke("pin")
    assert shown.exit_code == 1 and "at another commit, 123abc456" in shown.stdout
    cache = Path(os.environ["PHASE17_CACHE_DIR"]) / "sdists"  # where the CLI keeps sdists in this test
    assert (cache / "vllm-9.9.9.tar.gz").is_file()  # the unverified download is there...
    assert not list(cache.glob("*.sha256"))  # ...but never recorded as verified, so it is never trusted later


def test_an_unexpected_repository_needs_a_yes(tmp_path: Path, git_source):
    root = tmp_path / "p"
    write_pin(root, git_source[1], repository=git_source[0].as_uri())
    os.chdir(root)
    refused = invoke("fetch")
    assert refused.exit_code == 2
    assert "names the repository" in refused.stderr and "set PHASE17_TRUSTED_REPOSITORY=" in refused.stderr
    assert not (root / "upstream").exists()
    accepted = invoke("fetch", input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert inspect_upstream(root / "upstream", load_pin(root / "UPSTREAM_PIN.md")).status == "matches"


def test_an_answer_is_not_saved_while_another_notes_file_is_broken(drifted: tuple[Path, str]):
    project, _ = drifted
    notes = project / "annotations"
    assert invoke("answer", "2", "The first answer.").exit_code == 0
    questions_before = (notes / "questions.yaml").read_bytes()
    (notes / "cpu.yaml").write_text((notes / "cpu.yaml").read_text() + "notes: [broken\n", encoding="utf-8")
    refused = invoke("answer", "2", "TEST ANSWER")
    assert refused.exit_code == 2 and "cpu.yaml" in refused.stderr, refused.output
    assert (notes / "questions.yaml").read_bytes() == questions_before


def test_every_save_keeps_the_previous_file_to_undo_it(drifted: tuple[Path, str]):
    project, _ = drifted
    notes = project / "annotations"
    assert invoke("answer", "2", "The first answer.").exit_code == 0
    first = (notes / "questions.yaml").read_text()
    assert invoke("answer", "2", "The second answer.").exit_code == 0
    assert (notes / "questions.yaml.bak").read_text() == first
    assert store.load_notes(notes, "questions").notes["2"] == "The second answer."


def test_comments_added_by_hand_survive_answer_and_check_fix(drifted: tuple[Path, str]):
    project, _ = drifted
    cpu = project / "annotations" / "cpu.yaml"
    questions = project / "annotations" / "questions.yaml"
    cpu.write_text(
        cpu.read_text()
        .replace("notes:\n", "notes:\n  # reminder: reread discover_numa_topology\n", 1)
        .replace("  kind: class\n", "  kind: class   # the whole platform\n", 1),
        encoding="utf-8",
    )
    questions.write_text(questions.read_text().replace("notes:\n", "notes:\n  # Q4 is the one to finish\n", 1))
    assert invoke("answer", "4", "The CPU platform has no paging kernels.").exit_code == 0
    assert "  # Q4 is the one to finish\n" in questions.read_text()
    assert (
        store.load_notes(project / "annotations", "questions").notes["4"] == "The CPU platform has no paging kernels."
    )
    assert invoke("pin", "v9.9.10").exit_code == 1
    before = store.load_notes(project / "annotations", "cpu")
    assert invoke("check", "--fix").exit_code == 1
    text = cpu.read_text()
    assert "  # reminder: reread discover_numa_topology\n" in text and "  kind: class   # the whole platform\n" in text
    after = store.load_notes(project / "annotations", "cpu")
    assert after.anchors != before.anchors  # the moved anchors were rewritten around the comments
    assert after.notes == before.notes


def _without_git(tmp_path: Path) -> dict[str, str]:
    """An environment whose PATH holds only this Python: no git anywhere."""
    bin_dir = tmp_path / "bin-without-git"
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)
    return {**os.environ, "PATH": str(bin_dir), "NO_COLOR": "1", "COLUMNS": "100"}


def test_pin_without_git_says_so_in_its_text_report(fetched_project: Path, tmp_path: Path):
    shown = subprocess.run(
        [sys.executable, "-m", "phase17", "pin"],
        cwd=fetched_project,
        env=_without_git(tmp_path),
        capture_output=True,
        text=True,
    )
    assert shown.returncode == 1 and "Traceback" not in shown.stderr, shown.stderr
    assert "git is not on PATH" in " ".join(shown.stdout.split())


def test_a_bad_regex_a_closed_stdin_and_a_huge_ref_are_each_one_line(fetched_project: Path):
    regex = invoke("contract", "--members", "(")
    assert regex.exit_code == 2 and regex.stderr.startswith("Error: --members '(' is not a regular expression")
    assert regex.exception is None or isinstance(regex.exception, SystemExit)
    huge = invoke("resolve", "A" * 100_000)
    assert huge.exit_code == 2 and len(huge.output) < 500 and "100,000 characters" in huge.output, huge.output[:300]
    closed = subprocess.run(
        [sys.executable, "-m", "phase17", "notebook", "cpu"],
        cwd=fetched_project,
        stdin=None,
        capture_output=True,
        text=True,
        preexec_fn=lambda: os.close(0),
    )
    assert closed.returncode == 2 and closed.stderr.startswith("Error: no terminal to ask the prompts"), closed.stderr


def test_a_closed_stdout_or_a_deleted_working_folder_is_an_error_not_silence(fetched_project: Path, tmp_path: Path):
    closed = subprocess.run(
        [sys.executable, "-m", "phase17", "list"],
        cwd=fetched_project,
        capture_output=False,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: os.close(1),
    )
    assert closed.returncode == 2 and "standard output is closed" in closed.stderr
    gone = tmp_path / "gone"
    gone.mkdir()
    script = (
        f"import os, runpy, sys; os.chdir({str(gone)!r}); os.rmdir({str(gone)!r}); sys.argv = ['phase17', 'list']; "
        "runpy.run_module('phase17', run_name='__main__')"
    )
    deleted = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert deleted.returncode == 2 and "the current folder no longer exists" in deleted.stderr, deleted.stderr


@pytest.mark.slow  # (a process per run)
def test_help_and_read_work_without_git(fetched_project: Path, tmp_path: Path):
    environment = _without_git(tmp_path)
    assert subprocess.run(["git", "--version"], capture_output=True).returncode == 0  # git is here normally...
    help_run = subprocess.run(
        [sys.executable, "-m", "phase17", "--help"], env=environment, capture_output=True, text=True
    )
    assert help_run.returncode == 0 and "Usage: python -m phase17" in help_run.stdout and help_run.stderr == ""
    read_run = subprocess.run(
        [sys.executable, "-m", "phase17", "read", "interface", "--no-pager"],
        cwd=fetched_project,
        env=environment,
        capture_output=True,
        text=True,
    )
    assert read_run.returncode == 0, read_run.stderr
    assert "class Platform:" in read_run.stdout and "Traceback" not in read_run.stderr
    assert read_run.stderr.startswith("Warning: git is not on PATH, so upstream/ cannot be verified against the pin")
    fetch_run = subprocess.run(
        [sys.executable, "-m", "phase17", "fetch", "--force"],
        cwd=fetched_project,
        env=environment,
        capture_output=True,
        text=True,
    )
    assert fetch_run.returncode == 2
    assert fetch_run.stderr.startswith("Error: git is not installed or not on PATH; install git")


# ---------------------------------------------------------------- the reader's terminal and tools

_NUMBERED = re.compile(r"^ {0,5}(\d+)  (.*)$")


def _numbered_lines(output: str) -> list[tuple[int, str]]:
    return [(int(m.group(1)), m.group(2)) for m in map(_NUMBERED.match, output.splitlines()) if m]


@pytest.mark.parametrize("columns", ["60", "80", "200"])
def test_code_is_printed_whole_after_its_real_number_at_any_width(fetched_project: Path, monkeypatch, columns: str):
    monkeypatch.setenv("COLUMNS", columns)
    source = (fetched_project / "upstream" / "vllm" / "platforms" / "interface.py").read_text().split("\n")
    long_line = "x" * 150  # longer than any of these widths
    path = fetched_project / "upstream" / "vllm" / "platforms" / "interface.py"
    path.write_text(path.read_text().replace('"""The contract every backend implements."""', f'"""{long_line}"""'))
    source = path.read_text().split("\n")
    for command in (["read", "interface", "--full"], ["read", "interface"], ["read", "cpu", "--symbol", "Platform"]):
        result = invoke(*command, "--no-pager")
        assert result.exit_code == 0, result.output
        numbered = _numbered_lines(result.stdout)
        assert numbered and all(source[number - 1] == text for number, text in numbered), command
        assert any(long_line in text for _, text in numbered)
    whole = _numbered_lines(invoke("read", "interface", "--full").stdout)
    assert [number for number, _ in whole] == list(range(1, len(source)))  # every line, in order


@pytest.mark.parametrize("columns", ["60", "200"])
def test_tables_never_break_a_name_or_a_path(fetched_project: Path, monkeypatch, columns: str):
    monkeypatch.setenv("COLUMNS", columns)
    listed = invoke("list").stdout
    assert_golden(f"list_{columns}.txt", listed)
    for name in ("vllm/platforms/interface.py", "vllm/platforms/__init__.py", "interface", "platforms"):
        assert name in listed
    resolved = invoke("resolve", "CudaPlatformBase.get_attn_backend_cls").stdout
    assert "vllm/platforms/cuda.py" in resolved and "CudaPlatformBase.get_attn_backend_cls" in resolved
    invoke("notebook", "cuda", "--invariant", "It checks.")
    checked = invoke("check", "--all").stdout
    assert checked.count("CudaPlatformBase.check_and_update_config") == 1  # whole, on one line


def test_read_symbol_shows_that_symbol_and_the_notes_citing_it(fetched_project: Path):
    invoke("notebook", "cpu", "--invariant", "`CpuPlatform.check_and_update_config` sets the block size.")
    result = invoke("read", "cpu", "--symbol", "CpuPlatform.check_and_update_config", "--no-pager")
    assert result.exit_code == 0, result.output
    assert "Outline of" not in result.stdout  # only the symbol, not the whole target
    assert (
        "invariant (CpuPlatform.check_and_update_config): `CpuPlatform.check_and_update_config` sets" in result.stdout
    )
    assert "The whole target: phase17 read cpu" in result.stdout
    unknown = invoke("read", "cpu", "--symbol", "Nope")
    assert unknown.exit_code == 2 and "Nope: no definition of that name" in unknown.stderr


def test_paths_are_taken_as_people_type_them(fetched_project: Path, monkeypatch):
    assert invoke("outline", "upstream/vllm/platforms/cpu.py").stdout.startswith("vllm/platforms/cpu.py")
    monkeypatch.chdir(fetched_project / "upstream" / "vllm" / "platforms")
    assert invoke("outline", "cpu.py").stdout.startswith("vllm/platforms/cpu.py")
    assert json.loads(invoke("read", "interface.py", "--json").stdout)["target"]["key"] == "interface"
    plain = invoke("read", "vllm/platforms/__init__.py", "--no-pager")
    assert plain.exit_code == 0 and "4/5  platforms" in plain.stdout  # a target's path is that target
    adhoc = invoke("read", "vllm/plugins/io_processors/__init__.py", "--no-pager")
    assert "Key symbols" not in adhoc.stdout and "Lab notebook" not in adhoc.stdout
    assert "is not on the reading list" in adhoc.stdout


def test_bash_completion_offers_targets_questions_and_symbols(fetched_project: Path):
    def complete(line: str) -> list[str]:
        words = line.split(" ")
        environment = {"_PHASE17_COMPLETE": "complete_bash", "COMP_WORDS": line, "COMP_CWORD": str(len(words) - 1)}
        return invoke(env=environment, prog_name="phase17").stdout.split()

    assert complete("phase17 read ") == ["interface", "cuda", "cpu", "platforms", "plugins"]
    assert complete("phase17 answer ") == ["1", "2", "3", "4", "5"]
    assert complete("phase17 resolve CpuPlatform.ch") == ["CpuPlatform.check_and_update_config"]
    assert complete("phase17 export --format c") == ["codetour"]


def test_read_open_without_an_editor_says_so(fetched_project: Path, monkeypatch):
    monkeypatch.delenv("EDITOR")
    monkeypatch.delenv("VISUAL", raising=False)
    result = invoke("read", "cpu", "--open")
    assert result.exit_code == 2 and "neither $VISUAL nor $EDITOR is set" in result.stderr


def test_notebook_and_answer_take_no_fetch(project: Path):
    for command in (["notebook", "cpu", "--invariant", "x.", "--no-fetch"], ["answer", "1", "x.", "--no-fetch"]):
        result = invoke(*command)
        assert result.exit_code == 2 and "upstream is missing; run phase17 fetch first" in result.stderr
        assert not (project / "upstream").exists()


@pytest.mark.slow
def test_the_codetour_steps_are_at_the_lines_the_resolver_gives(fetched_project: Path):
    invoke("notebook", "cpu", "--invariant", "`CpuPlatform.check_and_update_config` and cpu.py:21.")
    result = invoke("export", "--format", "codetour")
    assert result.exit_code == 0, result.output
    tour = json.loads((fetched_project / "upstream" / ".tours" / "phase17.tour").read_text())
    assert {"$schema", "title", "steps", "ref"} <= set(tour) and tour["ref"] == load_pin(
        fetched_project / "UPSTREAM_PIN.md"
    ).commit
    assert len(tour["steps"]) > 30
    assert len({(step["file"], step["line"]) for step in tour["steps"]}) == len(tour["steps"])  # one per location
    cited = next(step for step in tour["steps"] if step["title"] == "cpu: CpuPlatform.check_and_update_config")
    assert "Also here: cpu: CpuPlatform.check_and_update_config" not in cited["description"]
    assert cited["description"].count("`CpuPlatform.check_and_update_config` and cpu.py:21.") == 1
    for step in tour["steps"]:
        assert set(step) == {"file", "line", "title", "description"} and isinstance(step["line"], int)
        ref = step["title"].split(": ", 1)[1]
        if ref.endswith(".py:21"):
            assert step["line"] == 21
            continue
        matches = json.loads(invoke("resolve", f"{step['file']}::{ref}", "--json").stdout)["matches"]
        assert step["line"] in [match["start_line"] for match in matches], step
    assert (
        inspect_upstream(fetched_project / "upstream", load_pin(fetched_project / "UPSTREAM_PIN.md")).status
        == "matches"
    )


def test_a_fallback_explains_itself_in_one_line_and_verbose_adds_gits_words(tmp_path: Path):
    root = tmp_path / "p"
    write_pin(root, FAKE_COMMIT, repository="http://127.0.0.1:9/vllm.git")
    index = tmp_path / "index"
    publish(index, build_sdist(tmp_path / "dist"))
    os.chdir(root)
    with serve(index) as url:
        os.environ["PIP_INDEX_URL"] = url
        os.environ["PHASE17_TRUSTED_REPOSITORY"] = "http://127.0.0.1:9/vllm.git"
        try:
            quiet = invoke("fetch")
            shutil.rmtree(root / "upstream")
            verbose = invoke("--verbose", "fetch")
        finally:
            del os.environ["PIP_INDEX_URL"]
    assert quiet.exit_code == 0 and verbose.exit_code == 0, quiet.output + verbose.output
    fallback = "Cannot reach http://127.0.0.1:9/vllm.git. Fetching the PyPI sdist vllm==9.9.9 instead."
    assert fallback in quiet.stderr and "fatal" not in quiet.stderr
    assert fallback in verbose.stderr and "fatal: unable to access" in verbose.stderr


def test_hostile_text_is_shown_as_text_and_raw_bytes_are_refused(fetched_project: Path):
    pin_file = fetched_project / "UPSTREAM_PIN.md"
    pin_file.write_text(pin_file.read_text().replace("tag: v9.9.9", "tag: 'v[/x][bold]'"))
    shown = invoke("pin")
    assert "v[/x][bold]" in shown.stdout and "Traceback" not in shown.output
    before = invoke("notebook", "cpu", "--invariant", "Kept.")
    assert before.exit_code == 0, before.output
    raw = invoke("notebook", "cpu", "--invariant", "caf\udce9")
    assert raw.exit_code == 2 and "not valid UTF-8" in raw.stderr
    assert _notes(fetched_project, "cpu").notes["invariant"] == "Kept."
    assert invoke("answer", "1", "\udcff").exit_code == 2
    assert invoke("notebook", "cpu", "--edge-case", "Still saves.").exit_code == 0


def test_escape_sequences_in_notes_and_upstream_files_are_shown_not_obeyed(fetched_project: Path):
    interface = fetched_project / "upstream" / "vllm" / "platforms" / "interface.py"
    interface.write_text(interface.read_text() + '\nBANNER = "\x1b[2J\x1b]8;;https://evil.example\x07x\x9b"\n')
    invoke("notebook", "interface", "--data-structure", "Clears \x1b[2J the screen.")
    for arguments in (["read", "interface", "--no-pager", "--full"], ["resolve", "BANNER", "--show"]):
        for extra in ({}, {"env": {"NO_COLOR": ""}}):
            result = invoke(*arguments, **extra)
            assert result.exit_code == 0, result.output
            assert "\x1b]8;;https://evil" not in result.output and "\x1b[2J" not in result.output
            assert "\x9b" not in result.output
    shown = invoke("read", "interface", "--no-pager", "--full").stdout
    assert "\u241b[2J" in shown  # the escape is visible as the picture of ESC
    data = json.loads(invoke("resolve", "BANNER", "--json").stdout)
    assert data["matches"][0]["signature"].startswith("BANNER =")
    assert "\\u009b" in invoke("resolve", "BANNER", "--json").stdout  # JSON escapes C1 controls too


def test_links_planted_beside_the_notes_are_replaced_never_written_through(
    fetched_project: Path, tmp_path: Path, monkeypatch
):
    """A cloned notes repository can hold symlinks under the names of phase17's side files."""
    invoke("notebook", "interface", "--data-structure", "Old.")
    notes = fetched_project / "annotations"
    victims = {name: tmp_path / f"victim-{name}" for name in ("bak", "last-check", "draft", "rejected")}
    for victim in victims.values():
        victim.write_text("precious\n")
    (notes / "interface.yaml.bak").unlink(missing_ok=True)  # the save above kept one
    os.symlink(victims["bak"], notes / "interface.yaml.bak")
    os.symlink(victims["last-check"], notes / ".last-check.json")
    os.symlink(victims["draft"], notes / ".interface.edit.yaml")
    os.symlink(victims["rejected"], notes / ".interface.rejected.yaml")
    interface = fetched_project / "upstream" / "vllm" / "platforms" / "interface.py"
    interface.write_text("\n\n" + interface.read_text())  # every anchor moves: check --fix rewrites with a backup
    assert invoke("check", "--fix").exit_code in (0, 1)
    breaker = tmp_path / "break.sh"
    breaker.write_text('#!/bin/sh\nprintf "target: [oops\\n" > "$1"\n', encoding="utf-8")
    breaker.chmod(0o755)
    monkeypatch.setenv("EDITOR", str(breaker))
    assert invoke("notebook", "interface", "--edit").exit_code == 2
    for name, victim in victims.items():
        assert victim.read_text() == "precious\n", name
    assert not (notes / "interface.yaml.bak").is_symlink() and not (notes / ".last-check.json").is_symlink()


def test_a_planted_lock_link_fifo_or_endless_file_is_refused_in_one_line(fetched_project: Path, tmp_path: Path):
    notes = fetched_project / "annotations"
    invoke("notebook", "interface", "--data-structure", "Old.")
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    (notes / ".interface.lock").unlink(missing_ok=True)  # filelock leaves the file behind
    os.symlink(victim, notes / ".interface.lock")
    result = invoke("notebook", "interface", "--invariant", "New.")
    assert result.exit_code == 2 and "is a symlink; remove it" in result.stderr and "Traceback" not in result.output
    assert victim.read_text() == "precious\n"
    os.unlink(notes / ".interface.lock")
    (notes / "cpu.yaml").unlink(missing_ok=True)
    os.mkfifo(notes / "cpu.yaml")
    (notes / "cuda.yaml").unlink(missing_ok=True)
    os.symlink("/dev/zero", notes / "cuda.yaml")
    outside = tmp_path / "outside.yaml"
    outside.write_text("target: plugins\n")
    (notes / "plugins.yaml").unlink(missing_ok=True)
    os.symlink(outside, notes / "plugins.yaml")
    for command in (["list"], ["check"], ["read", "cpu", "--no-pager"], ["export"]):
        result = invoke(*command)
        reading = command[0] in ("list", "read")  # a broken notes file costs only itself: reading goes on, warned
        assert result.exit_code == (0 if reading else 2), (command, result.output)
        assert "Traceback" not in result.output
        said = result.output + result.stderr
        assert any(
            reason in said for reason in ("not a regular file", "a symlink out of annotations/", "larger than")
        ), (command, said)


@pytest.mark.slow
def test_a_stream_that_cannot_show_every_character_gets_escapes_not_a_crash(fetched_project: Path):
    invoke("notebook", "interface", "--data-structure", "Caf\u00e9 \u2014 a note \u2603.")
    environment = {**os.environ, "PYTHONIOENCODING": "ascii", "LC_ALL": "C", "LANG": "C"}
    shown = {}
    for arguments in (["read", "interface", "--no-pager"], ["resolve", "Platform", "--json"]):
        result = subprocess.run(
            [sys.executable, "-m", "phase17", *arguments], cwd=fetched_project, env=environment, capture_output=True
        )
        assert result.returncode == 0, result.stderr.decode()
        assert b"Traceback" not in result.stderr
        shown[arguments[0]] = result.stdout.decode("ascii")
    assert "Caf\\xe9 \\u2014 a note \\u2603." in shown["read"]


def test_resolve_a_bare_name_lists_the_choices_and_exits_0(fetched_project: Path):
    result = invoke("resolve", "get_attn_backend_cls", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["status"] == "choices" and len(data["matches"]) == 3
    table = invoke("resolve", "get_attn_backend_cls")
    assert table.exit_code == 0 and "3 definitions end with that name" in table.stderr
    typo = invoke("resolve", "get_atn_backend_cls")
    assert typo.exit_code == 1 and "did you mean" in typo.stderr and "get_attn_backend_cls" in typo.stderr
    unknown = invoke("read", "cpu", "--symbol", "get_atn_backend_cls", "--no-pager")
    assert unknown.exit_code == 2 and "did you mean CpuPlatform.get_attn_backend_cls" in unknown.stderr


def test_a_note_citing_a_name_end_anchors_it(fetched_project: Path):
    result = invoke("notebook", "cpu", "--data-structure", "The platform's `_enum` says which one it is.")
    assert result.exit_code == 0, result.output
    assert [c.anchor.symbol for c in _notes(fetched_project, "cpu").citations] == [
        "vllm/platforms/cpu.py::CpuPlatform._enum"
    ]


def test_a_docstring_only_change_is_called_so_and_accepted_in_one_step(fetched_project: Path):
    interface = fetched_project / "upstream" / "vllm" / "platforms" / "interface.py"
    invoke("notebook", "interface", "--data-structure", "See `Platform.get_attn_backend_cls`.")
    text = interface.read_text()
    old = '"""Get the attention backend class of a device."""'
    interface.write_text(text.replace(old, '"""Get the attention backend class\n        of a device (reflowed)."""'))
    checked = json.loads(invoke("check", "--json").stdout)
    changed = [item for item in checked if item["status"] == "changed"]
    assert changed and all(item["cosmetic"] for item in changed)
    assert "changed (docstring only)" in invoke("check").stdout
    accepted = invoke("check", "--accept-cosmetic")
    assert "accepted the docstring-only changes of 3 anchor(s)" in accepted.stderr.lower()
    assert "  changed" not in accepted.stdout  # what remains only moved (the line added above them)


def test_a_change_of_logic_is_not_cosmetic_and_accept_takes_a_whole_target(fetched_project: Path):
    interface = fetched_project / "upstream" / "vllm" / "platforms" / "interface.py"
    invoke("notebook", "interface", "--data-structure", "See `Platform.get_attn_backend_cls`.")
    text = interface.read_text()
    start = text.index("def get_attn_backend_cls")
    body = text.index(":\n", text.index(")", start)) + 2
    interface.write_text(text[:body] + "        selected = selected or 'flash'\n" + text[body:])
    checked = json.loads(invoke("check", "--json").stdout)
    cosmetic = [item["cosmetic"] for item in checked if item["status"] == "changed"]
    assert len(cosmetic) >= 2 and not any(cosmetic)
    taken = invoke("check", "--accept", "interface")
    assert "Accepted the current code of 3 anchor(s)" in taken.stderr and "  changed" not in taken.stdout


def test_retire_keeps_a_note_on_deleted_code_linked_where_it_was_last_seen(drifted: tuple[Path, str]):
    project, v2 = drifted
    first = load_pin(project / "UPSTREAM_PIN.md").commit
    invoke("pin", "v9.9.10")
    report = invoke("check")
    assert (
        "deleted    _get_backend_priorities" in report.stdout
        and "--relink _get_backend_priorities" not in report.stdout
    )
    _https_repository(project)  # so that the export has links to check
    retired = invoke("check", "--retire", "_get_backend_priorities", "--json")
    assert "Retired 1 anchor(s)" in retired.stderr
    found = [item for item in json.loads(retired.stdout) if item["anchor"].endswith("::_get_backend_priorities")]
    assert found and {item["status"] for item in found} == {"retired"}
    export = (project / "notebooks" / "phase17.md").read_text()
    line = next(line for line in export.splitlines() if "_get_backend_priorities" in line)
    assert (
        f"/blob/{first}/vllm/platforms/cuda.py#L" in line and f"retired: this code is gone after {first[:12]}" in line
    )
    assert invoke("check", "--retire", "CpuPlatform").exit_code == 2  # only deleted or missing code is retired
    after = invoke("check", "--all")  # the text report of a retired anchor, not only its JSON
    assert after.exit_code in (0, 1) and (after.exception is None or isinstance(after.exception, SystemExit))
    assert "retired    _get_backend_priorities" in after.stdout, after.output


def test_mended_lines_carry_the_commit_they_belong_to_and_links_follow(drifted: tuple[Path, str]):
    project, v2 = drifted
    first = load_pin(project / "UPSTREAM_PIN.md").commit
    invoke("pin", "v9.9.10")
    _https_repository(project)
    assert "pin:\n  tag: v9.9.9" in (project / "annotations" / "interface.yaml").read_text()  # pin REF rewrites no note
    invoke("check", "--fix")
    interface = store.load_notes(project / "annotations", "interface")
    assert (interface.pin.tag, interface.pin.commit) == ("v9.9.10", v2)  # every anchor there is v2's now
    assert all(anchor.commit is None for anchor in interface.anchors)  # said once, in the file's stamp
    cpu = store.load_notes(project / "annotations", "cpu")
    assert cpu.pin.commit == first  # CpuPlatform changed and a method is missing: those lines are still v1's
    assert {anchor.commit for anchor in cpu.anchors} == {None, v2}
    export = (project / "notebooks" / "phase17.md").read_text()
    moved = next(anchor for anchor in cpu.anchors if anchor.qualname == "get_max_threads")
    assert moved.commit == v2 and f"/blob/{v2}/vllm/platforms/cpu.py#L{moved.start}-L{moved.end}" in export
    stale = next(anchor for anchor in cpu.anchors if anchor.qualname == "CpuPlatform")
    assert stale.commit is None and f"/blob/{first}/vllm/platforms/cpu.py#L{stale.start}-L{stale.end}" in export


def _https_repository(project: Path) -> None:
    """Point the pin at an https repository (a file:// one gets no links), through the pin's own writer."""
    from dataclasses import replace as replaced

    from phase17.upstream.pin import write_pin as rewrite_pin

    pin_file = project / "UPSTREAM_PIN.md"
    rewrite_pin(pin_file, replaced(load_pin(pin_file), repository="https://example.invalid/vllm"))


def test_a_cited_line_whose_text_is_gone_is_changed_never_ok(fetched_project: Path):
    interface = fetched_project / "upstream" / "vllm" / "platforms" / "interface.py"
    from helpers import line_of

    line = line_of(interface, "return self._enum == PlatformEnum.OOT")
    invoke("notebook", "interface", "--invariant", f"See interface.py:{line} for the out-of-tree test.")
    interface.write_text(interface.read_text().replace("return self._enum == PlatformEnum.OOT", "return False"))
    findings = json.loads(invoke("check", "--json").stdout)
    (cited,) = [item for item in findings if item.get("cited") == f"interface.py:{line}"]
    assert cited["status"] == "changed" and cited["line_text"] == "return self._enum == PlatformEnum.OOT"
    assert any("return False" in nearby for nearby in cited["nearby"])
    shown = invoke("check").stdout
    assert f"line {line} held 'return self._enum == PlatformEnum.OOT': gone from the symbol" in shown


def test_a_run_builds_only_the_command_it_names_and_leaves_everything_else_to_the_whole_app():
    from phase17.cli.app import app_for
    from phase17.cli.start import asked_command

    assert asked_command(["--upstream", "tree", "-v", "index", "--json"]) == "index"
    assert asked_command(["--upstream", "index"]) is None  # "index" is the option's value here
    assert asked_command(["--verbose"]) is None
    assert [info.name for info in app_for(["status", "--json"]).registered_commands] == ["status"]
    assert len(app_for(["resolve", "Platform"]).registered_commands) == 1
    assert app_for(["idnex"]) is app
    for no_command in ([], ["--help"], ["--upstream"], ["-v", "--help"]):
        listing = app_for(no_command)  # the commands listed, without reading their options
        assert listing is not app  # every command and group listed as one command, with no option read
        assert len(listing.registered_commands) == len(app.registered_commands) + len(app.registered_groups)
        for width in (60, 200):
            listed = CliRunner().invoke(listing, no_command, terminal_width=width)
            whole = CliRunner().invoke(app, no_command, terminal_width=width)
            assert (listed.exit_code, listed.output) == (whole.exit_code, whole.output)
            assert "notebook" in listed.output or no_command == ["--upstream"]
    assert len(app.registered_commands) > 10  # the lean copies never trim the app itself

    lean = app_for(["index", "--help"])
    result = CliRunner().invoke(lean, ["index", "--help"])
    assert result.exit_code == 0 and "Usage: " in result.output and "--rebuild" in result.output
    misspelled = CliRunner().invoke(app_for(["idnex"]), ["idnex"])
    assert misspelled.exit_code == 2 and misspelled.output.count("Did you mean 'index'?") == 1


def test_shell_completion_always_gets_the_whole_app(monkeypatch: pytest.MonkeyPatch):
    from phase17.cli.app import app_for

    monkeypatch.setenv("_PHASE17_COMPLETE", "complete_bash")
    assert app_for(["index"]) is app


def test_a_verifying_command_starts_git_before_the_command_line_loads_and_others_never_do(
    fetched_project: Path, tmp_path: Path
):
    from phase17.cli.start import start_verification, upstream_option
    from phase17.upstream import gitrepo

    assert upstream_option(["--upstream", "elsewhere", "read"]) == "elsewhere"
    assert upstream_option(["--upstream=there", "read"]) == "there"
    assert upstream_option(["read", "--upstream", "not-a-global-option"]) is None
    upstream = os.path.realpath(fetched_project / "upstream")
    for command in (["fetch"], ["pin", "0.23.0"], ["index", "--rebuild"], ["nosuch"], ["--help"], []):
        assert start_verification(command) is None, command
    prefetched = start_verification(["-v", "resolve", "Platform"])
    assert isinstance(prefetched, gitrepo.Prefetched) and prefetched.path == upstream
    assert len(prefetched.started) == 3
    result = CliRunner().invoke(app, ["resolve", "Platform", "--json"], obj=prefetched)
    assert result.exit_code == 0 and prefetched.started == {}  # the command read what was started
    other = tmp_path / "other"
    shutil.copytree(fetched_project / "upstream", other, symlinks=True)
    elsewhere = start_verification(["--upstream", str(other), "read", "interface"])
    assert elsewhere is not None and elsewhere.path == os.path.realpath(other)
    elsewhere.stop_unread()


def test_a_lookup_that_must_index_many_files_first_draws_a_bar(fetched_project: Path, monkeypatch: pytest.MonkeyPatch):
    from phase17.index import store

    monkeypatch.setattr(store, "PARALLEL_FROM", 1)  # the fixture tree is small: any indexing is "many"
    result = CliRunner().invoke(app, ["resolve", "Platform.get_attn_backend_cls", "--json"])
    assert result.exit_code == 0, result.output
    assert "indexing" in result.stderr and "files of upstream/" in result.stderr
    again = CliRunner().invoke(app, ["resolve", "Platform.get_attn_backend_cls", "--json"])
    assert again.exit_code == 0 and "indexing" not in again.stderr  # indexed: nothing to draw


@pytest.mark.slow  # (a process per run)
def test_commands_load_only_what_they_use(fetched_project: Path):
    """Issue 12: `--help` and a warm lookup never load GitPython, the parser's worker pool, rich's progress or
    syntax modules, PyYAML (a parsed YAML text is kept) or the fetch code; `pin` parses nothing."""

    def loaded(*arguments: str) -> set[str]:
        run = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "phase17", *arguments],
            cwd=fetched_project,
            capture_output=True,
            text=True,
            check=True,
        )
        return {line.rsplit("|", 1)[1].strip() for line in run.stderr.splitlines() if line.startswith("import time:")}

    never = {"git", "multiprocessing", "concurrent.futures", "rich.progress", "rich.syntax", "filelock", "yaml"}
    never |= {"phase17.upstream.fetch", "phase17.upstream.sdist", "pypi_simple", "pydantic"}
    assert "typer" in loaded("--help") and not loaded("--help") & (never | {"tree_sitter", "sqlite3", "rich"})
    loaded("resolve", "Platform", "--json")  # indexes the tree and keeps the parsed pin and reading list
    warm = loaded("resolve", "Platform.get_attn_backend_cls", "--json")
    assert "sqlite3" in warm and not warm & never
    assert not loaded("pin", "--json") & (never | {"tree_sitter"})


def test_every_command_is_classed_as_asking_git_or_replacing_the_tree():
    from phase17.cli.app import _command_name
    from phase17.cli.argv import COMMANDS_ASKING_GIT, COMMANDS_REPLACING_UPSTREAM

    registered = {_command_name(info) for info in app.registered_commands} | {
        info.name for info in app.registered_groups
    }
    assert not COMMANDS_ASKING_GIT & COMMANDS_REPLACING_UPSTREAM
    assert registered == COMMANDS_ASKING_GIT | COMMANDS_REPLACING_UPSTREAM


@pytest.mark.parametrize("columns", ["60", "200"])
def test_the_answer_instruments_print_text_and_json(fetched_project: Path, monkeypatch, columns: str):
    monkeypatch.setenv("COLUMNS", columns)
    gates = invoke("gates")
    assert gates.exit_code == 0 and "supports_fp8  " in gates.stdout and "  True: " in gates.stdout, gates.output
    data = json.loads(invoke("gates", "--json").stdout)
    fp8 = next(gate for gate in data["gates"] if gate["name"] == "supports_fp8")
    assert fp8["platforms"]["Platform"]["how"] == "literal"
    effects = invoke("effects", "--platforms", "CpuPlatform")
    assert effects.exit_code == 0 and "CpuPlatform  vllm/platforms/cpu.py:" in effects.stdout, effects.output
    assert set(json.loads(invoke("effects", "--json").stdout)["platforms"]) >= {"Platform", "CpuPlatform"}
    callers = invoke("callers", "Platform.check_and_update_config", "--depth", "2")
    assert callers.exit_code == 0 and callers.stdout.startswith("Callers, 2 level(s) up"), callers.output
    assert json.loads(invoke("callers", "Platform.check_and_update_config", "--json").stdout)["name"] == (
        "Platform.check_and_update_config"
    )
    missing = invoke("usages", "current_platfrom")
    assert missing.exit_code == 1 and "No use of current_platfrom in code" in missing.stderr, missing.output
    assert invoke("effects", "no_such_hook").exit_code == 2


def test_check_lists_what_needs_you_and_all_of_it_with_all(drifted: tuple[Path, str]):
    invoke("pin", "v9.9.10")
    short = invoke("check")
    every = invoke("check", "--all")
    assert short.exit_code == every.exit_code == 1
    assert "  ok        " not in short.stdout and "  ok        " in every.stdout
    assert "phase17 check --all  lists every anchor" in short.stdout
    headers = [line for line in short.stdout.splitlines() if " anchors (" in line]
    assert headers and all(line.endswith("to look at") for line in headers)
    assert any(" ok" in line for line in headers)  # the counts per state stand in for the ok lines
    listed = [line for line in every.stdout.splitlines() if line.startswith("  ") and not line.startswith("  ok")]
    needing = [line for line in listed if not line.startswith(("  phase17", "  moved "))]
    assert needing and all(line in short.stdout.splitlines() for line in needing)
    moved = [line for line in listed if line.startswith("  moved ") and "cited in" not in line]
    collapsed = short.stdout.replace("\n", " ")  # (a long list wraps between names)
    assert moved and all(
        f" {line.split()[1]}," in collapsed or f" {line.split()[1]}  (phase17 check --fix)" in collapsed
        for line in moved
    )


def test_list_counts_the_symbols_of_a_plain_tree_given_with_upstream(fetched_project: Path, tmp_path: Path):
    import shutil

    plain = tmp_path / "plain"
    shutil.copytree(fetched_project / "upstream" / "vllm", plain / "vllm")
    listed = invoke("--upstream", str(plain), "list", "--json")
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)
    assert rows and all(row["symbols_found"] is not None for row in rows), rows
    assert "upstream/ is missing" not in listed.stderr


def test_the_help_is_printed_from_the_text_it_printed_last_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    import sys

    from phase17.cli import app as app_module
    from phase17.cli import start

    monkeypatch.setattr(sys, "argv", ["phase17", "--help"])
    with pytest.raises(SystemExit) as made:
        start.main()  # the first time: typer and click make it
    assert made.value.code == 0
    first = capsys.readouterr().out
    assert first.startswith("Usage: ") and "  check " in first
    (kept,) = (tmp_path / "cache" / "help").iterdir()
    real_main = app_module.main

    def never(*_: object) -> None:
        raise AssertionError("the command line was loaded for a help it had kept")

    monkeypatch.setattr(app_module, "main", never)
    start.main()
    assert capsys.readouterr().out == first  # the same text, without typer
    kept.write_text("another key\n\n\nforged help\n")  # a file that is not this key's is never printed
    monkeypatch.setattr(app_module, "main", real_main)
    with pytest.raises(SystemExit):
        start.main()
    assert capsys.readouterr().out == first
    monkeypatch.setenv("COLUMNS", "60")  # another width: another text, kept beside the first
    with pytest.raises(SystemExit):
        start.main()
    narrow = capsys.readouterr().out
    assert narrow != first and max(map(len, narrow.splitlines())) <= 60
    assert len(list((tmp_path / "cache" / "help").iterdir())) == 2
