"""reading.py: what `read` and `list` show, assembled as data from the tree and the notes."""

from __future__ import annotations

from pathlib import Path

import pytest

from phase17.errors import SymbolNotFoundError
from phase17.index.tree import Tree
from phase17.notes.guide import find_target, load_reading_list
from phase17.notes.reading import build_view, first_location, reading_status, status_data, view_data
from phase17.notes.store import LastCheck, NotesFile, PinStamp, save_last_check, save_notes
from phase17.upstream.pin import Pin

PIN = Pin("https://example.invalid/vllm", "v9.9.9", "a" * 40, "vllm", "9.9.9")


def test_a_view_holds_each_key_symbol_with_its_own_lines(plain_upstream: Path, tmp_path: Path):
    reading_list = load_reading_list()
    view = build_view(
        Tree(plain_upstream), tmp_path / "annotations", reading_list, find_target(reading_list, "cpu"), PIN
    )
    found = {key.ref: key for key in view.key_symbols}
    method = found["CpuPlatform.check_and_update_config"].matches[0]
    assert view.sources[method.ref][0].strip() == "@classmethod"
    assert len(view.sources[method.ref]) == method.end_line - method.start_line + 1
    assert [prompt.answer for prompt in view.prompts] == ["", "", ""]
    assert [answer.question.number for answer in view.questions] == [1, 4]
    assert view.next_target is not None and view.next_target.key == "platforms"
    assert view.whole_files == {}
    assert first_location(Tree(plain_upstream), view) == (
        plain_upstream / "vllm/platforms/cpu.py",
        found["CpuPlatform"].matches[0].start_line,
    )


def test_one_symbol_or_whole_files_on_request(plain_upstream: Path, tmp_path: Path):
    reading_list = load_reading_list()
    cuda = find_target(reading_list, "cuda")
    view = build_view(
        Tree(plain_upstream), tmp_path, reading_list, cuda, PIN, symbol="Platform.supports_fp8", full=True
    )
    assert view.focus == "Platform.supports_fp8" and [key.ref for key in view.key_symbols] == ["Platform.supports_fp8"]
    assert view.key_symbols[0].matches[0].path == "vllm/platforms/interface.py"  # found outside the target, too
    assert view.whole_files == {}  # --full with --symbol means that symbol whole, not the file
    whole = build_view(Tree(plain_upstream), tmp_path, reading_list, cuda, PIN, full=True)
    assert whole.whole_files["vllm/platforms/cuda.py"] == (plain_upstream / "vllm/platforms/cuda.py").read_text()
    data = view_data(view)
    assert data["target"]["key"] == "cuda" and data["symbols"][0]["status"] == "found" and data["focus"]


def test_an_unknown_symbol_is_an_error_not_the_whole_target(plain_upstream: Path, tmp_path: Path):
    reading_list = load_reading_list()
    with pytest.raises(SymbolNotFoundError, match="Nope: no definition of that name in vllm/platforms/cpu.py"):
        build_view(Tree(plain_upstream), tmp_path, reading_list, find_target(reading_list, "cpu"), PIN, symbol="Nope")


def test_the_list_counts_notes_answers_and_health(plain_upstream: Path, tmp_path: Path):
    notes_dir = tmp_path / "annotations"
    stamp = PinStamp("v9.9.9", "a" * 40)
    save_notes(
        notes_dir,
        NotesFile(
            "cpu", "vllm/platforms/cpu.py", stamp, notes={"data_structure": "x.", "invariant": "y.", "edge_case": ""}
        ),
    )
    save_notes(notes_dir, NotesFile("questions", None, stamp, notes={"4": "An answer."}))
    save_last_check(notes_dir, LastCheck({"cpu": "2 to review"}, frozenset()))
    rows = {
        row["key"]: row for row in status_data(reading_status(Tree(plain_upstream), notes_dir, load_reading_list()))
    }
    assert rows["cpu"]["notes_written"] == 2 and rows["cpu"]["questions_answered"] == 1
    assert rows["cpu"]["anchors"] == "2 to review" and rows["cuda"]["anchors"] == "not checked"
    assert rows["cpu"]["symbols_found"] == rows["cpu"]["symbols"] == 8  # the fixture defines every cpu key symbol
    unfetched = status_data(reading_status(None, notes_dir, load_reading_list()))
    assert {row["symbols_found"] for row in unfetched} == {None}
