"""Nothing outside the project or the cache is written, created or deleted: folders linked out, odd names."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from helpers import invoke


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def test_an_index_folder_linked_out_of_the_checkout_is_refused_and_left_as_it_was(noted: Path, tmp_path: Path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "symbols.sqlite3").write_bytes(b"someone else's file")
    (outside / "symbols.sqlite3-journal").write_bytes(b"theirs too")
    index_folder = noted / "upstream" / ".git" / "phase17"
    shutil.rmtree(index_folder, ignore_errors=True)
    index_folder.symlink_to(outside)
    before = _tree(outside)
    result = invoke("resolve", "CpuPlatform")
    assert result.exit_code == 2, result.output
    assert "phase17 is a symlink to" in result.stderr and "Remove the link" in result.stderr
    assert "Traceback" not in result.output + result.stderr
    assert _tree(outside) == before


@pytest.mark.parametrize("linked", ["notebooks", "upstream/.tours", "upstream/.git/info"])
def test_an_export_folder_linked_out_is_refused(noted: Path, tmp_path: Path, linked: str):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "exclude").write_text("# theirs\n")
    folder = noted / linked
    shutil.rmtree(folder, ignore_errors=True)
    folder.symlink_to(outside)
    before = _tree(outside)
    result = invoke("export", "--format", "markdown" if linked == "notebooks" else "codetour")
    assert result.exit_code == 2, result.output
    assert "is a symlink to" in result.stderr and "Traceback" not in result.stderr
    assert _tree(outside) == before


def test_an_exclude_file_linked_out_is_refused(noted: Path, tmp_path: Path):
    outside = tmp_path / "their-exclude"
    outside.write_text("# theirs\n")
    exclude = noted / "upstream" / ".git" / "info" / "exclude"
    exclude.unlink(missing_ok=True)
    exclude.symlink_to(outside)
    result = invoke("export", "--format", "codetour")
    assert result.exit_code == 2 and "is a symlink" in result.stderr, result.output
    assert outside.read_text() == "# theirs\n"


@pytest.mark.parametrize("odd", ["C#notes", "what?now", "pct%41dir"])
def test_a_project_under_a_folder_named_like_a_uri_keeps_one_index_inside(noted: Path, tmp_path: Path, odd: str):
    home = tmp_path / odd
    home.mkdir()
    moved = home / "project"
    shutil.move(noted, moved)
    import os

    os.chdir(moved)

    beside = set(tmp_path.iterdir()) | {tmp_path / "cache"}
    assert invoke("resolve", "CpuPlatform").exit_code == 0
    second = invoke("index")  # the index made by the first run is trusted, not built anew
    assert second.exit_code == 0, second.output
    assert "built anew" not in second.output
    assert set(tmp_path.iterdir()) == beside  # no `C` or `what` file made beside the project
    assert set(home.iterdir()) == {moved}


def test_a_folder_named_with_a_line_break_forges_no_line_of_output(fetched_project: Path):
    forged = fetched_project / "upstream" / "vllm" / "x\ncurrent_platform.forged  1 use(s)"
    forged.mkdir()
    (forged / "m.py").write_text("from vllm.platforms import current_platform\ncurrent_platform.forged()\n")
    result = invoke("usages", "current_platform")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert not [line for line in lines if line.lstrip().startswith("current_platform.forged")]
    assert any(line.startswith("skipped vllm/x\u240acurrent_platform.forged") for line in lines), result.output
    refused = invoke("resolve", "vllm/a\nb.py::X")
    assert refused.exit_code == 2 and "holds a line break" in refused.stderr


def test_a_broken_notes_file_costs_only_itself(noted: Path):
    import json

    cpu = noted / "annotations" / "cpu.yaml"
    cpu.write_text(cpu.read_text() + "  bad: [unclosed\n")
    read = invoke("--no-pager", "read", "cpu")
    assert read.exit_code == 0, read.output
    assert "warning: annotations/cpu.yaml:" in read.output and "its notes are left out until it is" in read.output
    assert "CpuPlatform" in read.output  # the code is all there
    data = json.loads(invoke("read", "cpu", "--json").stdout)
    assert data["notes_problems"] and data["notes_problems"][0].startswith("annotations/cpu.yaml:")
    listed = invoke("list")
    assert listed.exit_code == 0 and "warning: annotations/cpu.yaml:" in listed.stderr
    assert invoke("resolve", "CpuPlatform").exit_code == 0
    assert invoke("usages", "current_platform").exit_code == 0
    written = invoke("notebook", "cpu", "--invariant", "Would replace the broken file.")
    assert written.exit_code == 2 and "annotations/cpu.yaml:" in written.stderr  # only a write refuses
