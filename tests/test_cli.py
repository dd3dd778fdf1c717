from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from helpers import assert_golden, ast_lines, invoke
from phase17.cli import app

runner = CliRunner()


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


def test_piped_output_has_no_escape_codes(fetched_project: Path):
    environment = {key: value for key, value in os.environ.items() if key != "NO_COLOR"}
    result = subprocess.run(
        [sys.executable, "-m", "phase17", "read", "cpu"], capture_output=True, text=True, env=environment, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout and "CpuPlatform" in result.stdout
